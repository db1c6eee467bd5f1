"""`SelfSubjectAccessReview` / `SelfSubjectRulesReview`, so `kubectl auth can-i` answers.

The sandbox's kubeconfig user is the cluster's administrator (the sandbox has no RBAC), so every
question is answered "allowed", as a real cluster answers its cluster-admin. Reviews are computed
per request and never stored, as on a real apiserver.
"""

from __future__ import annotations

from typing import Any

from .resources import ResourceType

GROUP = "authorization.k8s.io"
ADMIN_REASON = "the sandbox's kubeconfig user is the cluster administrator"


def review(resource: ResourceType, version: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The (status code, object) the apiserver answers to a POST of `body`."""
    answer = {**body, "apiVersion": f"{GROUP}/{version}", "kind": resource.kind}
    answer.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    if resource.plural == "selfsubjectaccessreviews":
        answer["status"] = {"allowed": True, "reason": ADMIN_REASON}
    else:
        answer["status"] = {
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
    return 201, answer
