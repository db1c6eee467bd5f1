"""Engagement and cluster rules as pure functions: the tier, the cluster admin, staging pairs."""

from __future__ import annotations

import pytest

from k8sops_intake.domain.engagements import (
    TIERS_WITH_CLUSTER_ADMIN,
    PairCandidate,
    becomes_prod_while_staging,
    cluster_admin_refusal,
    pairing_refusal,
    tier_change_refusal,
)


def test_only_the_provider_changes_the_tier() -> None:
    assert tier_change_refusal("k8s-business", "k8s-247", by_provider=True) is None
    refusal = tier_change_refusal("k8s-business", "k8s-247", by_provider=False)
    assert refusal is not None and "contract" in refusal


def test_the_customer_may_resend_the_tier_unchanged() -> None:
    assert tier_change_refusal("k8s-247", "k8s-247", by_provider=False) is None


@pytest.mark.parametrize("tier", ["k8s-business", "k8s-247"])
def test_a_cluster_admin_needs_the_cluster_admin_tier(tier: str) -> None:
    refusal = cluster_admin_refusal(tier, "Rahim")
    assert refusal is not None and tier in refusal
    assert cluster_admin_refusal(tier, None) is None
    assert cluster_admin_refusal("k8s-247-cluster-admin", "Rahim") is None


def test_only_the_cluster_admin_tier_names_a_cluster_admin() -> None:
    assert "k8s-247-cluster-admin" in TIERS_WITH_CLUSTER_ADMIN
    assert "k8s-247" not in TIERS_WITH_CLUSTER_ADMIN


def test_a_prod_cluster_pairs_with_a_non_prod_cluster_of_its_engagement() -> None:
    staging = PairCandidate("stage", "eng-1", "non-prod")
    assert pairing_refusal("eng-1", "prod", "prod", "stage", staging) is None
    assert pairing_refusal("eng-1", "prod", "prod", None, None) is None


@pytest.mark.parametrize(
    ("environment", "pair", "says"),
    [
        ("non-prod", PairCandidate("stage", "eng-1", "non-prod"), "Only a prod cluster"),
        ("prod", None, "add the non-prod cluster first"),
        ("prod", PairCandidate("stage", "eng-2", "non-prod"), "not another cluster of engagement 'eng-1'"),
        ("prod", PairCandidate("prod", "eng-1", "prod"), "not another cluster"),
        ("prod", PairCandidate("stage", "eng-1", "prod"), "is not non-prod"),
    ],
)
def test_pairings_refused(environment: str, pair: PairCandidate | None, says: str) -> None:
    paired_id = pair.id if pair else "stage"
    refusal = pairing_refusal("eng-1", "prod", environment, paired_id, pair)
    assert refusal is not None and says in refusal


def test_a_staging_cluster_cannot_become_prod() -> None:
    assert becomes_prod_while_staging("non-prod", "prod", ["prod-a"])
    assert not becomes_prod_while_staging("non-prod", "prod", [])
    assert not becomes_prod_while_staging("non-prod", "non-prod", ["prod-a"])
    assert not becomes_prod_while_staging("prod", "prod", ["prod-a"])
