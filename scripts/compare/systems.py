"""The systems compared, each started on free loopback ports and stopped by the harness.

| name | what |
|---|---|
| upstream | scripts/raw_upstream.py alone: the ceiling (every other system calls it) |
| fake-provider | the bundled fake provider alone (optional: it does more per request than the raw upstream) |
| floor | scripts/minimal_proxy.py: Starlette + aiohttp forwarding, the floor for this stack |
| gateway-bare | `tfy-gateway serve`, one provider account on the upstream, nothing else |
| gateway-all | every example manifest applied (routing, V1/V2 rate limits and budgets, request logs), |
|  | a regex + PII input guardrail, traces at 100% to a local OTLP receiver |
| gateway-examples | gateway-all without its new stages (no guardrail, no tracing): what gateway-all was before them |
| gateway-all-untraced | gateway-all without tracing (the guardrail on): with gateway-examples, each new stage's cost |
| gateway-all-responses | gateway-all driven through the Responses API (`/api/llm/responses`) instead of chat |
| gateway-redis | gateway-all with `--redis-url` (a redis-server started for it) |
| gateway-workers | gateway-all with `--workers N` (and Redis when the gateway has it) |
| litellm | LiteLLM's proxy, 1 worker, no database (see litellm.py) |

A gateway system named `NAME@SERVER` (e.g. `gateway-all@granian`) is the same gateway served by
`serve --server SERVER` (uvicorn, granian, aiohttp): the server-stack comparison.

A system that cannot run here raises `Skip` with the reason, which the report shows in its row.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from compare import litellm, manifests
from compare.loadgen import Target
from compare.processes import StartError, free_port, running

PROMPT = [{"role": "user", "content": "benchmark"}]


class Skip(Exception):
    """This system cannot run on this machine or checkout; the message says why."""


@dataclass
class Context:
    repo: Path
    workdir: Path
    python: str
    upstream: str  # base URL of the raw upstream
    workers: int
    litellm_venv: Path
    serve_help: str
    gateway_source: Path  # the `server/` directory whose tfy_gateway the gateways run
    upstream_pid: int | None = None  # the raw upstream's process: each proxied request costs it CPU too

    @property
    def gateway_env(self) -> dict[str, str | None]:
        """The gateway subprocesses import `gateway_source`, whatever the venv has installed."""
        return {"PYTHONPATH": str(self.gateway_source)}


@dataclass
class Running:
    pid: int  # the server's root process (CPU and RSS are summed over its tree)
    target: Target
    version: str = ""
    support_pids: list[int] = field(default_factory=list)  # e.g. redis-server: reported apart
    notes: list[str] = field(default_factory=list)
    streams: bool = True  # measured in the stream rounds too (the upstream streams chat chunks only)
    otlp_url: str | None = None  # the OTLP receiver its traces go to (its /counts shows what arrived)
    collector_pids: list[int] = field(default_factory=list)  # the OTLP receiver: paid per request, not state
    upstream_pid: int | None = None  # the raw upstream it proxies to (None: it is the upstream)


SERVERS = ("uvicorn", "granian", "aiohttp")


def body(model: str) -> dict[str, object]:
    return {"model": model, "messages": PROMPT, "max_tokens": 16}


def responses_body(model: str) -> dict[str, object]:
    return {"model": model, "input": "benchmark", "max_output_tokens": 16}


def split_name(name: str) -> tuple[str, str | None]:
    """`gateway-all@granian` -> ("gateway-all", "granian"); a plain name has no server."""
    base, _, server = name.partition("@")
    return base, server or None


def known(name: str) -> bool:
    base, server = split_name(name)
    if server is None:
        return base in ALL
    return base.startswith("gateway-") and base in ALL and server in SERVERS


def ordered(names: list[str]) -> list[str]:
    """A fixed order (the table reads the same whatever order they were asked in): ALL's, each
    server variant right after its base."""
    return sorted(names, key=lambda n: (ALL.index(split_name(n)[0]), SERVERS.index(split_name(n)[1] or "uvicorn")))


def probe(target: Target, times: int = 1, timeout: float = 60.0) -> None:
    """`times` consecutive 200s (every worker configured) or StartError with the last answer."""
    deadline, consecutive, last = time.monotonic() + timeout, 0, ""
    with httpx.Client(timeout=30) as client:
        while consecutive < times:
            if time.monotonic() > deadline:
                raise StartError(f"{target.url} did not answer 200 {times}x in a row: {last[:400]}")
            response = client.post(target.url, json=target.body, headers=target.headers)
            consecutive = consecutive + 1 if response.status_code == 200 else 0
            last = f"{response.status_code} {response.text}"
            if response.status_code != 200:
                time.sleep(0.2)


def wait_until_workers_agree(base: str, workers: int, timeout: float = 60.0) -> None:
    """Wait until each of `workers` processes serving `base` has answered `/api/llm/health` with the same
    store version, i.e. every worker holds the manifests just applied (the one that answered the apply
    installed them before answering). Each probe is a new connection, which any worker may accept;
    probing over one kept-alive connection would ask the same worker every time."""
    deadline, loaded = time.monotonic() + timeout, dict[int, int]()
    while len(loaded) < workers or len(set(loaded.values())) > 1:
        if time.monotonic() > deadline:
            raise StartError(f"{workers} workers did not load the same configuration within {timeout} s: {loaded}")
        health = httpx.get(f"{base}/api/llm/health", timeout=30).json()
        if "worker" not in health:  # a checkout older than the health's worker field: the probe must do
            return
        loaded[health["worker"]] = health["store_version"]
        time.sleep(0.02)  # a worker loading the new configuration: ask again shortly


def git_version(repo: Path) -> str:
    result = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip()


@contextmanager
def upstream(ctx: Context, port: int, chunks: int, interval_ms: float) -> Iterator[Running]:
    command = [ctx.python, str(ctx.repo / "scripts" / "raw_upstream.py"), "--port", str(port)]
    command += ["--chunks", str(chunks), "--interval-ms", str(interval_ms)]
    base = f"http://127.0.0.1:{port}"
    with running(command, f"{base}/health", ctx.workdir / "upstream.log") as process:
        target = Target(f"{base}/v1/chat/completions", {"Authorization": "Bearer sk-bench"}, body("gpt-4o"))
        yield Running(process.pid, target)


@contextmanager
def fake_provider(ctx: Context) -> Iterator[Running]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [ctx.python, "-m", "tfy_gateway", "fake-provider", "--port", str(port), "--record-requests", "0"]
    with running(command, f"{base}/health", ctx.workdir / "fake-provider.log", env=ctx.gateway_env) as process:
        target = Target(f"{base}/v1/chat/completions", {"Authorization": "Bearer sk-bench"}, body("gpt-4o"))
        yield Running(process.pid, target)


@contextmanager
def floor(ctx: Context) -> Iterator[Running]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [ctx.python, str(ctx.repo / "scripts" / "minimal_proxy.py"), "--port", str(port)]
    command += ["--upstream", ctx.upstream]
    with running(command, f"{base}/health", ctx.workdir / "floor.log") as process:
        target = Target(f"{base}/v1/chat/completions", {"Authorization": "Bearer sk-bench"}, body("gpt-4o"))
        probe(target)
        yield Running(process.pid, target, upstream_pid=ctx.upstream_pid)


@contextmanager
def redis_server(ctx: Context, name: str) -> Iterator[tuple[str, int]]:
    executable = shutil.which("redis-server")
    if executable is None:
        raise Skip("no redis-server on PATH (apt-get install redis-server)")
    port = free_port()
    command = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    log = ctx.workdir / f"{name}-redis.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode != 0:
            if time.monotonic() > deadline or process.poll() is not None:
                raise StartError(f"redis-server on port {port} did not start")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0", process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


@contextmanager
def otlp_receiver(ctx: Context, name: str) -> Iterator[tuple[str, int]]:
    """compare/otlp_receiver.py in its own process: (its base URL, its pid)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [ctx.python, str(ctx.repo / "scripts" / "compare" / "otlp_receiver.py"), "--port", str(port)]
    with running(command, f"{base}/counts", ctx.workdir / f"{name}-otlp.log") as process:
        yield base, process.pid


def gateway(
    name: str,
    *,
    policies: bool,
    redis: bool | None,
    workers: int,
    server: str | None = None,
    responses: bool = False,
    stages: bool = True,
    tracing: bool = True,
) -> Callable[[Context], AbstractContextManager[Running]]:
    """A gateway variant: bare or every policy and stage on, with Redis (None: when the gateway has
    it), with `workers` processes, on `server` (None: serve's default), driven through chat or the
    Responses API; `stages`: with policies, the guardrail stage and (`tracing`) traces too."""

    @contextmanager
    def start(ctx: Context) -> Iterator[Running]:
        use_redis = ("--redis-url" in ctx.serve_help) if redis is None else redis
        if server is not None and "--server" not in ctx.serve_help:
            raise Skip("`serve --help` lists no --server in this checkout")
        if use_redis and "--redis-url" not in ctx.serve_help:
            raise Skip("`serve --help` lists no --redis-url in this checkout (the Redis backend has not landed)")
        if workers > 1 and "--workers" not in ctx.serve_help:
            raise Skip("`serve --help` lists no --workers in this checkout (scale-out has not landed)")
        with ExitStack() as stack:
            command = [ctx.python, "-m", "tfy_gateway", "serve", "--data-dir", str(ctx.workdir / name / "data")]
            support: list[int] = []
            notes: list[str] = []
            if use_redis:
                url, redis_pid = stack.enter_context(redis_server(ctx, name))
                command += ["--redis-url", url]
                support.append(redis_pid)
            if workers > 1:
                command += ["--workers", str(workers)]
                notes.append(f"{workers} workers, " + ("Redis" if use_redis else "no Redis: state per worker"))
            if server is not None:
                command += ["--server", server]
                notes.append(f"served by {server}")
            otlp: str | None = None
            collectors: list[int] = []
            if policies and stages and tracing:
                otlp, otlp_pid = stack.enter_context(otlp_receiver(ctx, name))
                collectors.append(otlp_pid)
                command += ["--otel-endpoint", otlp, "--otel-sample-ratio", "1"]
                notes.append("traces at 100% to a local OTLP receiver")
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            command += ["--port", str(port), "--log-level", "warning"]
            if policies:
                applied = [
                    manifests.benchmarkable(m, ctx.upstream) for m in manifests.load_examples(ctx.repo / "examples")
                ]
                notes.append(f"{len(applied)} example manifests applied")
                if stages:
                    notes.append("regex + PII input guardrail")
                    applied += manifests.input_guardrails()
            else:
                applied = [manifests.bench_account(ctx.upstream)]
            token = "tfy_bench_" + secrets.token_hex(16)
            env = {**ctx.gateway_env, **manifests.secret_environment(applied), "TFY_GATEWAY_ADMIN_TOKEN": token}
            log = ctx.workdir / f"{name}.log"
            process = stack.enter_context(running(command, f"{base}/api/svc/v1/min-cli-version", log, env=env))
            manifests.apply_all(base, token, applied)
            headers = {"Authorization": f"Bearer {token}"}
            if policies:
                headers["x-tfy-metadata"] = manifests.METADATA
            model = manifests.ROUTED_MODEL if policies else "bench/gpt-4o"
            if responses:
                target = Target(f"{base}/api/llm/responses", headers, responses_body(model))
                notes.append("Responses API")
            else:
                target = Target(f"{base}/api/llm/chat/completions", headers, body(model))
            if workers > 1:
                wait_until_workers_agree(base, workers)
            probe(target, times=max(1, workers) * 10)
            version = git_version(ctx.gateway_source)
            yield Running(
                process.pid,
                target,
                version,
                support,
                notes,
                streams=not responses,
                otlp_url=otlp,
                collector_pids=collectors,
                upstream_pid=ctx.upstream_pid,
            )

    return start


@contextmanager
def litellm_proxy(ctx: Context) -> Iterator[Running]:
    try:
        version = litellm.ensure_installed(ctx.litellm_venv)
    except litellm.InstallError as exc:
        raise Skip(str(exc)) from None
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = ctx.workdir / "litellm" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    master_key = litellm.write_config(config, ctx.upstream)
    command = litellm.command(ctx.litellm_venv, config, port)
    log = ctx.workdir / "litellm.log"
    with running(command, f"{base}/health/liveliness", log, env=litellm.ENVIRONMENT, timeout=300) as process:
        target = Target(f"{base}/v1/chat/completions", {"Authorization": f"Bearer {master_key}"}, body("gpt-4o"))
        probe(target, times=3)
        yield Running(process.pid, target, version, notes=["1 worker, no database"], upstream_pid=ctx.upstream_pid)


def starter(name: str, workers: int) -> Callable[[Context], AbstractContextManager[Running]]:
    """The starter of `name` (a known name, server variants included)."""
    base, server = split_name(name)
    if server is None:
        return starters(workers)[base]
    policies, redis, count = {
        "gateway-bare": (False, False, 1),
        "gateway-all": (True, False, 1),
        "gateway-examples": (True, False, 1),
        "gateway-all-untraced": (True, False, 1),
        "gateway-all-responses": (True, False, 1),
        "gateway-redis": (True, True, 1),
        "gateway-workers": (True, None, workers),
    }[base]
    responses, stages = base == "gateway-all-responses", base != "gateway-examples"
    tracing = base != "gateway-all-untraced"
    return gateway(
        name,
        policies=policies,
        redis=redis,
        workers=count,
        server=server,
        responses=responses,
        stages=stages,
        tracing=tracing,
    )


def starters(workers: int) -> dict[str, Callable[[Context], AbstractContextManager[Running]]]:
    """Every system but the upstream (which the harness starts first: the others need its URL)."""
    return {
        "fake-provider": fake_provider,
        "floor": floor,
        "gateway-bare": gateway("gateway-bare", policies=False, redis=False, workers=1),
        "gateway-all": gateway("gateway-all", policies=True, redis=False, workers=1),
        "gateway-examples": gateway("gateway-examples", policies=True, redis=False, workers=1, stages=False),
        "gateway-all-untraced": gateway("gateway-all-untraced", policies=True, redis=False, workers=1, tracing=False),
        "gateway-all-responses": gateway(
            "gateway-all-responses", policies=True, redis=False, workers=1, responses=True
        ),
        "gateway-redis": gateway("gateway-redis", policies=True, redis=True, workers=1),
        "gateway-workers": gateway("gateway-workers", policies=True, redis=None, workers=workers),
        "litellm": litellm_proxy,
    }


ALL = [
    "upstream",
    "fake-provider",
    "floor",
    "gateway-bare",
    "gateway-examples",
    "gateway-all",
    "gateway-all-untraced",
    "gateway-all-responses",
    "gateway-redis",
    "gateway-workers",
    "litellm",
]
OPTIONAL = ("fake-provider", "gateway-examples", "gateway-all-untraced")  # asked for by name (--systems)
DEFAULT = [name for name in ALL if name not in OPTIONAL]
