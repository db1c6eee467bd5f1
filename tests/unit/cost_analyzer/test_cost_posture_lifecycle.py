"""Posture checks, the one severity scale with its movement, quarters, and the recommendation lifecycle."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from k8sops_cost_analyzer.domain.posture import (
    Category,
    ContainerSpec,
    RoleBinding,
    Severity,
    WorkloadSpec,
    cluster_checks,
    cost_severity,
    uses_latest_tag,
)
from k8sops_cost_analyzer.domain.recommendation import (
    Decider,
    DecisionNotAllowed,
    Positions,
    Status,
    TransitionError,
    check_transition,
    resurfaces,
)
from k8sops_cost_analyzer.domain.review import Quarter, scorecard, support_status

SAFE = ContainerSpec("app", "registry.example/app:1.2.3", runs_as_root=False, has_limits=True, has_probes=True)


def test_a_hardened_workload_has_no_findings() -> None:
    workload = WorkloadSpec("Deployment", "shop", "web", (SAFE,))
    assert cluster_checks([workload], ["shop"], {"shop"}, []) == []


def test_every_check_fires_on_what_it_looks_for() -> None:
    risky = ContainerSpec("exporter", "quay.io/node-exporter", privileged=True)
    workload = WorkloadSpec(
        "DaemonSet", "monitoring", "ne", (risky,), host_path=True, host_pid=True, host_ipc=True, host_network=True
    )
    bindings = [
        RoleBinding("ci-admin", "cluster-admin", ("ServiceAccount default/ci",)),
        RoleBinding("system:masters-binding", "cluster-admin", ("Group system:masters",)),
        RoleBinding("viewers", "view", ("Group devs",)),
    ]
    findings = cluster_checks([workload], ["monitoring", "shop", "kube-system"], {"shop"}, bindings)
    checks = sorted(f.check for f in findings)
    assert checks == sorted(
        [
            "host-pid",
            "host-ipc",
            "host-network",
            "host-path",
            "privileged",
            "runs-as-root",
            "no-limits",
            "no-probes",
            "latest-tag",
            "no-network-policy",
            "cluster-admin-binding",
        ]
    )
    by_check = {f.check: f for f in findings}
    assert by_check["privileged"].severity is Severity.CRITICAL
    assert by_check["no-network-policy"].target == "monitoring"
    assert by_check["cluster-admin-binding"].target == "ci-admin"
    assert by_check["no-probes"].category is Category.RELIABILITY


@pytest.mark.parametrize(
    ("image", "latest"),
    [
        ("nginx", True),
        ("nginx:latest", True),
        ("registry:5000/team/app", True),
        ("registry:5000/team/app:1.0", False),
        ("nginx@sha256:abc", False),
    ],
)
def test_latest_tag(image: str, latest: bool) -> None:
    assert uses_latest_tag(image) is latest


def test_cost_severity_by_monthly_savings() -> None:
    assert cost_severity(60_000, True) is Severity.HIGH
    assert cost_severity(12_000, True) is Severity.MEDIUM
    assert cost_severity(600, True) is Severity.LOW
    assert cost_severity(60_000, False) is Severity.INFO


def test_scorecard_weighs_severity_and_shows_movement() -> None:
    findings = [
        (Category.SECURITY, Severity.CRITICAL),
        (Category.SECURITY, Severity.MEDIUM),
        (Category.COST, Severity.LOW),
    ]
    cards = {c.category: c for c in scorecard(findings, {"security": 9, "reliability": 0, "cost": 0})}
    assert cards[Category.SECURITY].score == 6  # 4 + 2
    assert cards[Category.SECURITY].counts["critical"] == 1
    assert cards[Category.SECURITY].movement == "better"  # 9 -> 6
    assert cards[Category.COST].movement == "worse"  # 0 -> 1
    assert cards[Category.RELIABILITY].movement == "same"
    assert {c.movement for c in scorecard(findings, None)} == {"new"}


def test_quarters() -> None:
    assert Quarter.of(datetime(2026, 11, 27)) == Quarter(2026, 4)
    assert Quarter(2026, 4).next() == Quarter(2027, 1)
    assert Quarter(2027, 1).previous() == Quarter(2026, 4)
    assert Quarter(2026, 3).start() == date(2026, 7, 1)
    assert Quarter.parse("2026-Q2") == Quarter(2026, 2) and str(Quarter(2026, 2)) == "2026-Q2"
    with pytest.raises(ValueError, match="2026-Q3"):
        Quarter.parse("2026-5")


def test_support_status_of_a_minor_version() -> None:
    assert support_status("1.29", date(2026, 11, 27)) == "end of support since 2025-02-28"
    assert support_status("1.35", date(2026, 11, 27)) == "supported until 2027-02-28"
    assert support_status("1.99", date(2026, 11, 27)).startswith("unknown")


BOTH = Positions(provider="saves 12k BDT a month", customer="we need headroom for Eid traffic")


@pytest.mark.parametrize("to", [Status.ACCEPTED, Status.NOT_ADOPTED, Status.ACCEPTED_AS_IS, Status.REJECTED])
def test_customer_decides_open_recommendations(to: Status) -> None:
    check_transition(Status.OPEN, to, Decider.CUSTOMER, BOTH)
    with pytest.raises(DecisionNotAllowed, match="engagement admin"):
        check_transition(Status.OPEN, to, Decider.PROVIDER, BOTH)


def test_only_operators_mark_accepted_ones_implemented() -> None:
    check_transition(Status.ACCEPTED, Status.IMPLEMENTED, Decider.PROVIDER, BOTH)
    with pytest.raises(DecisionNotAllowed):
        check_transition(Status.ACCEPTED, Status.IMPLEMENTED, Decider.CUSTOMER, BOTH)
    with pytest.raises(TransitionError, match="open can move to"):
        check_transition(Status.OPEN, Status.IMPLEMENTED, Decider.PROVIDER, BOTH)


def test_rejection_needs_both_positions() -> None:
    with pytest.raises(TransitionError, match="provider's position"):
        check_transition(Status.OPEN, Status.REJECTED, Decider.CUSTOMER, Positions(None, "too risky"))
    with pytest.raises(TransitionError, match="customer's position"):
        check_transition(Status.OPEN, Status.REJECTED, Decider.CUSTOMER, Positions("saves money", None))


def test_final_states_stay_final_and_not_adopted_resurfaces() -> None:
    for final in (Status.REJECTED, Status.IMPLEMENTED, Status.ACCEPTED_AS_IS):
        with pytest.raises(TransitionError, match="final"):
            check_transition(final, Status.ACCEPTED, Decider.CUSTOMER, BOTH)
        assert not resurfaces(final)
    assert resurfaces(Status.NOT_ADOPTED)
    check_transition(Status.NOT_ADOPTED, Status.ACCEPTED, Decider.CUSTOMER, BOTH)
