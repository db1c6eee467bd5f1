"""Engagement scope (SPEC section 4): what the tiers cover, and a polite decline for what they do not."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

OutOfScopeKind = Literal["application-debugging", "helm-chart-authoring", "architecture-redesign"]
OUT_OF_SCOPE_KINDS: tuple[OutOfScopeKind, ...] = (
    "application-debugging",
    "helm-chart-authoring",
    "architecture-redesign",
)

PROFESSIONAL_SERVICES = (
    "Professional Services take on one-off projects like this one: ask your account manager for a statement of work."
)
AD_HOC_CONSULTING = "Ad-hoc consulting covers this: ask your account manager to book consulting hours."


@dataclass(frozen=True)
class ScopeDecision:
    kind: str
    reason: str
    pointer: str


REASONS: dict[str, ScopeDecision] = {
    "application-debugging": ScopeDecision(
        "application-debugging",
        "Debugging application code is outside Managed Kubernetes Operations, which covers the cluster and "
        "how workloads run on it, not the code inside them.",
        AD_HOC_CONSULTING,
    ),
    "helm-chart-authoring": ScopeDecision(
        "helm-chart-authoring",
        "Authoring custom Helm charts is outside Managed Kubernetes Operations; we operate clusters and the "
        "workloads you deploy, but do not write your packaging.",
        PROFESSIONAL_SERVICES,
    ),
    "architecture-redesign": ScopeDecision(
        "architecture-redesign",
        "Redesigning your architecture is outside Managed Kubernetes Operations, which runs and improves the "
        "clusters you have.",
        PROFESSIONAL_SERVICES,
    ),
}

# Phrases, not single words: "debug" alone is what a CrashLoop ticket says too.
KEYWORDS: dict[str, tuple[re.Pattern[str], ...]] = {
    "application-debugging": tuple(
        re.compile(pattern, re.IGNORECASE)
        for pattern in (
            r"\bdebug (our|my|the) (application|app) code\b",
            r"\bapplication[- ]level debugging\b",
            r"\bbug in (our|my|the) (application|app) code\b",
            r"\bfix (our|my|the) (application|app) code\b",
        )
    ),
    "helm-chart-authoring": tuple(
        re.compile(pattern, re.IGNORECASE)
        for pattern in (
            r"\b(write|author|create|build|develop) (us |me )?(a |an |our |the )?(new |custom )?helm charts?\b",
            r"\bcustom helm charts?\b",
            r"\bhelm chart authoring\b",
        )
    ),
    "architecture-redesign": tuple(
        re.compile(pattern, re.IGNORECASE)
        for pattern in (
            r"\barchitecture redesign\b",
            r"\bredesign (our|my|the) (application |system |platform )?architecture\b",
            r"\bre-?architect\b",
        )
    ),
}


def out_of_scope(category: str, title: str, description: str) -> ScopeDecision | None:
    """The decline for an out-of-scope category or text, or None when the request is in scope."""
    if category in REASONS:
        return REASONS[category]
    text = f"{title}\n{description}"
    for kind, patterns in KEYWORDS.items():
        if any(pattern.search(text) for pattern in patterns):
            return REASONS[kind]
    return None


def operator_decline(reason: str) -> ScopeDecision:
    """An operator's judgement that a request is out of scope; the pointer depends on the size of the ask."""
    return ScopeDecision("operator-judgement", reason, f"{PROFESSIONAL_SERVICES} {AD_HOC_CONSULTING}")
