"""The health review's drift section, from the latest `drift.measured` kept per cluster."""

from __future__ import annotations

from datetime import UTC, datetime

from k8sops_cost_analyzer.domain.report import _drift_lines, drift_summary


def test_the_drift_section_names_objects_and_fields_and_says_when_nothing_was_measured() -> None:
    assert drift_summary(None) == {"measured": False}
    assert "Not measured yet" in "\n".join(_drift_lines(drift_summary(None)))
    measured = {
        "measured_at": datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        "source": "git",
        "desired_state": "git https://git.example/acme@main (abc):clusters/prod",
        "trigger": "check",
        "operation_id": None,
        "total": 2,
        "objects": [
            {
                "object": "ConfigMap shop/flags",
                "drift": "changed",
                "changes": [{"path": "data.motd", "desired": "a|b\nc", "live": None}],
            },
            {"object": "Service shop/old", "drift": "missing", "changes": []},
        ],
    }
    summary = drift_summary(measured)
    assert summary["counts"] == {"missing": 1, "extra": 0, "changed": 1}
    lines = _drift_lines(summary)
    assert any("2 drifted object(s); 1 changed, 1 missing, 0 extra" in line for line in lines)
    # One table line per object, whatever the values hold.
    assert '| `ConfigMap shop/flags` | changed | `data.motd`: "a¦b\\nc" → null |' in lines
    assert "| `Service shop/old` | missing | — |" in lines
