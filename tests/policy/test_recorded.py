"""Request-log exports read back as traffic, and `tfy-gateway replay` on such a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.helpers import EXAMPLES
from tfy_gateway.cli.main import main
from tfy_gateway.policy.recorded import LogFormatError, read_records, recorded_traffic

T0 = 1_796_083_200.0  # 2026-12-01T00:00:00Z


def record(n: int, subject: str, *, status: int = 200, tokens: tuple[int, int] = (10, 5), **extra: object) -> dict:
    return {
        "id": f"r{n:03d}", "created_at": T0 + n, "subject": subject, "endpoint": "chat",
        "requested_model": "openai-main/gpt-4o-mini", "status": status, "metadata": {},
        "prompt_tokens": tokens[0], "completion_tokens": tokens[1], "cost": 0.001 if status == 200 else None, **extra,
    }  # fmt: skip


def test_every_export_form_reads_the_same_and_refused_requests_borrow_their_callers_mean(tmp_path: Path) -> None:
    records = [
        record(2, "user:a@x"),
        record(1, "user:a@x", tokens=(30, 5)),
        record(3, "user:a@x", status=429, tokens=(0, 0)),
    ]
    records.append({**record(4, ""), "subject": None})  # a bad token: never reached the limits
    forms = {
        "envelope.json": json.dumps({"data": records, "pagination": {}}),
        "list.json": json.dumps(records),
        "lines.jsonl": "\n".join(json.dumps(r) for r in records),
    }
    read = []
    for name, text in forms.items():
        (tmp_path / name).write_text(text)
        read.append(recorded_traffic(read_records(tmp_path / name)))
    assert read[0] == read[1] == read[2]
    traffic = read[0]
    assert [r.label for r in traffic] == ["r001", "r002", "r003"]  # time order, the bad-token record left out
    assert traffic[0].body["max_tokens"] == 5 and traffic[0].body["messages"][0]["content"] == "x" * 120
    assert traffic[2].usage is not None and (traffic[2].usage.prompt_tokens, traffic[2].usage.completion_tokens) == (
        20,
        5,
    )
    assert traffic[2].recorded == 429
    (tmp_path / "bad.json").write_text('{"rows": 1}')
    with pytest.raises(LogFormatError):
        read_records(tmp_path / "bad.json")


def test_replay_cli_reports_newly_refused_requests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs = tmp_path / "logs.json"
    logs.write_text(json.dumps([record(n, "user:a@x") for n in range(1, 8)]))
    accounts = yaml.safe_load_all((EXAMPLES / "provider-accounts.yaml").read_text())
    (tmp_path / "live.yaml").write_text(
        yaml.safe_dump_all([*accounts, yaml.safe_load((EXAMPLES / "rate-limits.yaml").read_text())])
    )
    lowered = yaml.safe_load((EXAMPLES / "rate-limits.yaml").read_text())
    lowered["rules"][-1]["limit_to"] = 4
    (tmp_path / "proposed.yaml").write_text(yaml.safe_dump(lowered))
    args = ["replay", "--logs", str(logs), "--config", str(tmp_path / "live.yaml"), "--proposed", str(tmp_path / "proposed.yaml"), "--collaborators", "team:everyone"]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "the current config reproduces 7 of 7 recorded outcomes" in text
    assert "newly refused (429): 3" in text and "429 by rate-limit 'global-fallback': 3" in text
    assert main([*args, "--format", "json", "--fail-on-change"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in report["changes"]] == ["r005", "r006", "r007"]
    assert report["totals"]["user"]["user:a@x"]["proposed"]["admitted"] == 4
