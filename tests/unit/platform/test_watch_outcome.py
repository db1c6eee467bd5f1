"""`k8sops upgrades watch` ends on an outcome a script can tell apart by its exit code alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from k8sops_platform.ops.client import Exit
from k8sops_platform.ops.progress import outcome_of

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def operation(state: str, next_run_at: datetime | None = None) -> dict[str, Any]:
    return {"state": state, "next_run_at": next_run_at.isoformat() if next_run_at else None}


@pytest.mark.parametrize(
    ("state", "code"),
    [
        ("completed", Exit.OK),
        ("rolled_back", Exit.NOT_COMPLETED),
        ("cancelled", Exit.NOT_COMPLETED),
        ("precheck_failed", Exit.NOT_COMPLETED),
        ("awaiting_signoff", Exit.NOT_FINISHED),
        ("awaiting_decommission", Exit.NOT_FINISHED),
        ("shift_blocked", Exit.NOT_FINISHED),
    ],
)
def test_an_ended_or_waiting_operation_stops_the_watch_with_its_own_code(state: str, code: Exit) -> None:
    outcome = outcome_of(operation(state), NOW)
    assert outcome is not None and outcome[0] == code and state in outcome[1]


@pytest.mark.parametrize("state", ["planned", "prechecking", "staging", "upgrading_nodes", "rolling_back"])
def test_work_in_progress_keeps_the_watch_going(state: str) -> None:
    assert outcome_of(operation(state), NOW) is None


def test_a_scheduled_operation_is_followed_only_when_it_is_about_to_run() -> None:
    assert outcome_of(operation("scheduled", NOW + timedelta(seconds=5)), NOW) is None  # just started
    waiting = outcome_of(operation("scheduled", NOW + timedelta(hours=6)), NOW)
    assert waiting is not None and waiting[0] == Exit.NOT_FINISHED and "window" in waiting[1]
    unplanned = outcome_of(operation("scheduled"), NOW)
    assert unplanned is not None and unplanned[0] == Exit.NOT_FINISHED
