"""Version rules, maintenance windows, authorisations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from k8sops_upgrade_runner.domain.authorisation import (
    Authorisation,
    ClusterAction,
    Target,
    authorisation_problem,
    is_destructive,
)
from k8sops_upgrade_runner.domain.versions import Version, check_target, kubelet_skew_problem, next_minor
from k8sops_upgrade_runner.domain.window import MaintenanceWindow

DHAKA = "Asia/Dhaka"
LONDON = "Europe/London"


def test_versions_parse_and_step_one_minor() -> None:
    assert Version.parse("v1.29.6") == Version(1, 29, 6)
    assert Version.parse("1.30") == Version(1, 30, 0)
    assert next_minor(Version(1, 29, 6)) == Version(1, 30, 0)
    check_target(Version(1, 29, 6), Version(1, 30))
    with pytest.raises(ValueError, match=r"only allowed target is 1\.30, not 1\.31"):
        check_target(Version(1, 29, 6), Version(1, 31))
    with pytest.raises(ValueError, match=r"only allowed target is 1\.30, not 1\.29"):
        check_target(Version(1, 29, 6), Version(1, 29, 9))
    with pytest.raises(ValueError, match="not a Kubernetes version"):
        Version.parse("latest")


def test_kubelet_skew_three_minors_from_1_28_two_before() -> None:
    assert kubelet_skew_problem(Version(1, 27, 3), Version(1, 30)) is None
    assert "4 minors behind" in (kubelet_skew_problem(Version(1, 26, 0), Version(1, 30)) or "")
    assert kubelet_skew_problem(Version(1, 25, 0), Version(1, 27)) is None
    assert "3 minors behind" in (kubelet_skew_problem(Version(1, 24, 0), Version(1, 27)) or "")
    assert "newer than the target" in (kubelet_skew_problem(Version(1, 31, 0), Version(1, 30)) or "")


def local(timezone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def test_window_in_the_engagement_timezone() -> None:
    friday_night = MaintenanceWindow.of(4, "02:00", 240, DHAKA)  # Friday 02:00-06:00 Dhaka
    assert not friday_night.is_open(local(DHAKA, 2026, 1, 9, 1, 59))
    assert friday_night.is_open(local(DHAKA, 2026, 1, 9, 2, 0))
    assert friday_night.remaining(local(DHAKA, 2026, 1, 9, 5, 0)) == timedelta(hours=1)
    assert not friday_night.is_open(local(DHAKA, 2026, 1, 9, 6, 0))
    assert friday_night.next_opening(local(DHAKA, 2026, 1, 9, 6, 0)) == local(DHAKA, 2026, 1, 16, 2, 0)
    assert friday_night.next_opening(local(DHAKA, 2026, 1, 7, 12, 0)) == local(DHAKA, 2026, 1, 9, 2, 0)


def test_window_crossing_midnight_and_dst() -> None:
    saturday_late = MaintenanceWindow.of(5, "23:00", 180, LONDON)  # Saturday 23:00 → Sunday 02:00
    assert saturday_late.is_open(local(LONDON, 2026, 1, 11, 1, 30))  # Sunday 01:30
    # 28 March 2026 → 29 March: clocks go forward at 01:00 UTC; the window still lasts 3 hours.
    opens = local(LONDON, 2026, 3, 28, 23, 0)
    assert saturday_late.current(opens + timedelta(hours=2, minutes=59)) == (opens, opens + timedelta(hours=3))


def test_destructive_actions() -> None:
    assert is_destructive(ClusterAction.DELETE_NAMESPACE)
    assert is_destructive(ClusterAction.DELETE_PVC)
    assert is_destructive(ClusterAction.SCALE, replicas=0)
    assert not is_destructive(ClusterAction.SCALE, replicas=2)
    assert is_destructive(ClusterAction.DRAIN, window_open=False)
    assert not is_destructive(ClusterAction.DRAIN, window_open=True)
    assert not is_destructive(ClusterAction.CORDON)


def test_authorisation_exact_single_use_expiring() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    target = Target("prod-1", "Namespace", "legacy")
    granted = Authorisation(
        "auth-1", "eng", ClusterAction.DELETE_NAMESPACE, target, "admin", now + timedelta(hours=1), None
    )
    assert authorisation_problem(granted, ClusterAction.DELETE_NAMESPACE, target, now) is None
    missing = authorisation_problem(None, ClusterAction.DELETE_NAMESPACE, target, now) or ""
    # The hint names the request field a client has to fill in, spelled as the API spells it.
    assert "none was given (authorisation_id)" in missing
    other = Target("prod-1", "Namespace", "shop")
    assert "not delete-namespace on Namespace shop" in (
        authorisation_problem(granted, ClusterAction.DELETE_NAMESPACE, other, now) or ""
    )
    assert "expired" in (
        authorisation_problem(granted, ClusterAction.DELETE_NAMESPACE, target, now + timedelta(hours=1)) or ""
    )
    used = Authorisation(
        "auth-1", "eng", ClusterAction.DELETE_NAMESPACE, target, "admin", now + timedelta(hours=1), now
    )
    assert "single-use" in (authorisation_problem(used, ClusterAction.DELETE_NAMESPACE, target, now) or "")
