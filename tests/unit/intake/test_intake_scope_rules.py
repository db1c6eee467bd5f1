"""Out-of-scope detection: categories and phrases, without catching ordinary cluster work."""

from __future__ import annotations

import pytest

from k8sops_intake.domain.scope import OUT_OF_SCOPE_KINDS, operator_decline, out_of_scope


@pytest.mark.parametrize("kind", OUT_OF_SCOPE_KINDS)
def test_out_of_scope_categories_are_declined_with_a_reason_and_a_pointer(kind: str) -> None:
    decision = out_of_scope(kind, "anything", "")
    assert decision is not None and decision.kind == kind
    assert decision.reason and ("Professional Services" in decision.pointer or "consulting" in decision.pointer)


@pytest.mark.parametrize(
    ("title", "description", "kind"),
    [
        ("Please debug our application code", "", "application-debugging"),
        ("Checkout fails", "We need application-level debugging of the JVM", "application-debugging"),
        ("Write us a Helm chart for billing", "", "helm-chart-authoring"),
        ("New service", "Can you create a custom helm chart?", "helm-chart-authoring"),
        ("Architecture redesign for multi-region", "", "architecture-redesign"),
        ("Help", "we want to re-architect the platform", "architecture-redesign"),
    ],
)
def test_phrases_in_title_or_description_are_recognised(title: str, description: str, kind: str) -> None:
    decision = out_of_scope("workload-issue", title, description)
    assert decision is not None and decision.kind == kind


@pytest.mark.parametrize(
    "title",
    [
        "payments-api pods CrashLoopBackOff, need help to debug",
        "Upgrade helm release of ingress-nginx to 4.11",
        "Pods Pending after node pool resize",
        "Review the network policy architecture of namespace shop",
    ],
)
def test_ordinary_cluster_work_stays_in_scope(title: str) -> None:
    assert out_of_scope("workload-issue", title, "") is None


def test_an_operator_decline_keeps_the_operators_reason() -> None:
    decision = operator_decline("Custom operator development")
    assert decision.kind == "operator-judgement" and decision.reason == "Custom operator development"
