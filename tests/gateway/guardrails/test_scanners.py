"""secret-detection, sql-sanitizer, code-safety-linter and tfy-metadata as the stage runs them."""

from __future__ import annotations

from typing import Any

from tfy_gateway.gateway.guardrails.code_safety import CodeSafetyScanner
from tfy_gateway.gateway.guardrails.integration import Caller, GuardrailCall, Spec
from tfy_gateway.gateway.guardrails.scanning import ScanningGuardrail
from tfy_gateway.gateway.guardrails.secret_detection import SecretScanner
from tfy_gateway.gateway.guardrails.sql_sanitizer import SqlScanner
from tfy_gateway.gateway.guardrails.tfy_metadata import TfyMetadataGuardrail
from tfy_gateway.gateway.providers import MemoryTransport
from tfy_gateway.gateway.providers.transport import HttpResponse
from tfy_gateway.manifests.guardrail_integrations import SqlSanitizerConfig, TfyMetadataConfig

CALLER = Caller("user:a@example.com", "user", "a@example.com")
TRANSPORT = MemoryTransport(lambda request: HttpResponse(200, {}, b"{}"))


def call(text: str, *, metadata: dict[str, str] | None = None, stage: str = "input") -> GuardrailCall:
    body: dict[str, Any] = {"model": "m/x", "messages": [{"role": "user", "content": text}]}
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
    return GuardrailCall(
        stage,  # type: ignore[arg-type]
        body,
        CALLER,
        metadata or {},
        "m/x",
        TRANSPORT,
        5.0,
        answer if stage == "output" else None,
    )


def spec(operation: str = "validate") -> Spec:
    return Spec("g/x", "x", operation, "enforce")  # type: ignore[arg-type]


def test_secrets_are_found_by_kind_and_redacted() -> None:
    scanner = SecretScanner("[SECRET]")
    text = "key AKIAIOSFODNN7EXAMPLE and token ghp_" + "a" * 36 + " and sk-proj-" + "b" * 30
    assert sorted(f.label for f in scanner.findings(text)) == ["aws_access_key", "github_token", "openai_key"]
    assert scanner.redact("use AKIAIOSFODNN7EXAMPLE now") == "use [SECRET] now"
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----"
    assert [f.label for f in scanner.findings(pem)] == ["private_key"]


def test_sql_blocks_dangerous_statements_in_both_modes_and_strips_comments_when_mutating() -> None:
    validate = ScanningGuardrail(spec(), SqlScanner(SqlSanitizerConfig()), "risky SQL")
    mutate = ScanningGuardrail(spec("mutate"), SqlScanner(SqlSanitizerConfig()), "risky SQL")
    assert validate.check_now(call("select * from t where a = 1 -- note")).violation is None
    assert "DROP" in (validate.check_now(call("DROP TABLE users;")).violation or "")
    assert "DELETE without WHERE" in (validate.check_now(call("DELETE FROM users;")).violation or "")
    assert validate.check_now(call("delete from users where id = 2;")).violation is None
    stripped = mutate.check_now(call("select 1 -- sneaky\n/* more */"))
    assert stripped.violation is None and stripped.rewritten is not None
    assert stripped.rewritten["messages"][0]["content"] == "select 1 \n"
    assert "DROP" in (mutate.check_now(call("DROP TABLE x; -- bye")).violation or "")
    off = SqlScanner(SqlSanitizerConfig(block_drop=False, require_parameterization=True))
    assert [f.label for f in off.findings('DROP TABLE x; q = "SELECT * FROM u WHERE id=" + uid')] == [
        "string interpolation"
    ]


def test_code_safety_names_what_it_found() -> None:
    scanner = CodeSafetyScanner()
    labels = [f.label for f in scanner.findings("os.system('x'); subprocess.run(y); rm -rf /; eval(z)")]
    assert sorted(labels) == ["eval", "os.system", "rm -rf", "subprocess"]
    assert scanner.findings("evaluate the system design") == []


def test_tfy_metadata_checks_required_keys_values_and_unknown_keys() -> None:
    config = TfyMetadataConfig.model_validate(
        {
            "allow_unknown_keys": False,
            "keys": {
                "project": {"required": True},
                "env": {"required": True, "value": {"constraint": "allowed_values", "allowed_values": ["dev", "prod"]}},
                "ticket": {"required": False, "value": {"constraint": "regex", "regex": "[A-Z]+-[0-9]+"}},
            },
        }
    )
    guardrail = TfyMetadataGuardrail(spec(), config)
    ok = {"project": "p", "env": "dev", "ticket": "ABC-1"}
    assert guardrail.check_now(call("x", metadata=ok)).violation is None
    assert guardrail.check_now(call("x", metadata={"project": "p", "env": "dev"})).violation is None
    bad = guardrail.check_now(call("x", metadata={"env": "qa", "ticket": "abc", "other": "1"})).violation or ""
    for problem in (
        "'project' is required",
        "'env' must be one of",
        "'ticket' does not match",
        "'other' is not allowed",
    ):
        assert problem in bad
    assert guardrail.check_now(call("x", stage="output")).violation is None  # input only
