"""The report as the event carries it (bounded), and where a credentials reference is read from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from k8sops_upgrade_runner.domain.report_event import bounded_report
from k8sops_upgrade_runner.runner.credentials import CredentialsError, bearer_token, credentials_file
from k8sops_upgrade_runner.settings import RunnerSettings


def report_with(nodes: int) -> dict[str, Any]:
    rows = [
        {"node": f"n-{i:04d}", "phase": "done" if i % 2 else "pending", "touched": ["cordoned"]} for i in range(nodes)
    ]
    return {"operation_id": "op-1", "kind": "upgrade", "outcome": "completed", "node_pools": {"c/general": rows}}


def test_a_small_report_travels_whole() -> None:
    bounded = bounded_report(report_with(3), "# Report\n\nshort\n")
    assert bounded == {"markdown": "# Report\n\nshort\n", "report": report_with(3), "truncated": False}


def test_a_large_report_keeps_its_summary_and_counts_nodes_per_phase() -> None:
    markdown = "".join(f"| n-{i:04d} | done |\n" for i in range(5000))
    bounded = bounded_report(report_with(5000), markdown, limit=10_000)
    assert bounded["truncated"]
    assert len(bounded["markdown"]) <= 10_000
    assert bounded["markdown"].endswith("the whole report is on the operation's report endpoint)\n")
    assert bounded["report"]["node_pools"] == {"c/general": {"nodes": 5000, "phases": {"pending": 2500, "done": 2500}}}
    assert len(json.dumps(bounded["report"])) <= 10_000
    assert bounded["report"]["outcome"] == "completed"


def test_a_reference_is_a_path_in_the_secret_store(tmp_path: Path) -> None:
    assert credentials_file(tmp_path, "vault://k8s/prod-1/admin") == tmp_path / "vault" / "k8s" / "prod-1" / "admin"
    for escaping in ("vault://k8s/../../etc/passwd", "vault://k8s//admin", "vault://k8s/a\\b"):
        with pytest.raises(CredentialsError):
            credentials_file(tmp_path, escaping)


def test_a_token_is_read_by_reference_and_a_missing_one_is_named(tmp_path: Path) -> None:
    (tmp_path / "vault" / "k8s" / "prod-1").mkdir(parents=True)
    (tmp_path / "vault" / "k8s" / "prod-1" / "admin").write_text("s3cret\n")
    settings = RunnerSettings(credentials_dir=str(tmp_path))
    assert bearer_token(settings, "vault://k8s/prod-1/admin") == "s3cret"
    assert bearer_token(settings, None) is None
    with pytest.raises(CredentialsError, match="no credentials for 'vault://k8s/prod-2/admin'"):
        bearer_token(settings, "vault://k8s/prod-2/admin")
    with pytest.raises(CredentialsError, match="no credentials directory"):
        bearer_token(RunnerSettings(), "vault://k8s/prod-1/admin")
