"""Which target each cluster action takes, refused with a message that says what to fix."""

from __future__ import annotations

from typing import Any

import pytest

from k8sops_common.errors import ProblemError
from k8sops_upgrade_runner.api.cluster_actions import validate
from k8sops_upgrade_runner.schemas import ActionIn


def action(**values: Any) -> ActionIn:
    return ActionIn.model_validate(values)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"action": "cordon", "target": {"kind": "Pod", "name": "x", "namespace": "a"}},
            "cordon acts on Node, not Pod",
        ),
        ({"action": "delete-pod", "target": {"kind": "Pod", "name": "x"}}, "needs a namespace"),
        ({"action": "delete-namespace", "target": {"kind": "Namespace", "name": "x", "namespace": "a"}}, "takes no"),
        ({"action": "scale", "target": {"kind": "Deployment", "name": "x", "namespace": "a"}}, "replicas is required"),
        ({"action": "emergency-upgrade", "target": {"kind": "Cluster", "name": "c"}}, "not a cluster action"),
    ],
)
def test_invalid_actions_are_422_naming_the_fix(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ProblemError) as refused:
        validate(action(**body))
    assert refused.value.status == 422
    assert message in refused.value.detail


def test_valid_actions_pass() -> None:
    validate(action(action="scale", target={"kind": "StatefulSet", "name": "db", "namespace": "shop"}, replicas=0))
    validate(action(action="drain", target={"kind": "Node", "name": "node-1"}))
