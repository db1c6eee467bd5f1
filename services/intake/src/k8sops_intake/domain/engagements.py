"""Rules of engagements and their clusters (SPEC section 3): who changes the tier, which tier names
a cluster admin, and which clusters may pair as a prod cluster and its non-prod staging cluster.

Each rule answers with the refusal (a sentence that says what to fix), or None when allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from k8sops_common.vocabulary import Tier

# Tiers that name a cluster admin (SPEC section 3); the others have none to name.
TIERS_WITH_CLUSTER_ADMIN = frozenset({Tier.ROUND_THE_CLOCK_CLUSTER_ADMIN})


def tier_change_refusal(current_tier: str, new_tier: str, by_provider: bool) -> str | None:
    """The tier is part of the contract: only the provider changes it."""
    if new_tier != current_tier and not by_provider:
        return "The tier is part of the contract; ask your provider's senior to change it."
    return None


def cluster_admin_refusal(tier: str, cluster_admin: str | None) -> str | None:
    if cluster_admin is not None and tier not in TIERS_WITH_CLUSTER_ADMIN:
        return f"Tier {tier} has no named cluster admin; send cluster_admin: null or choose k8s-247-cluster-admin."
    return None


@dataclass(frozen=True)
class PairCandidate:
    """The cluster a prod cluster names as its staging pair, as stored."""

    id: str
    engagement_id: str
    environment: str


def pairing_refusal(
    engagement_id: str,
    cluster_id: str,
    environment: str,
    paired_cluster_id: str | None,
    pair: PairCandidate | None,
) -> str | None:
    """Only a prod cluster names a pair, and the pair is another non-prod cluster of the same engagement."""
    if paired_cluster_id is None:
        return None
    if environment != "prod":
        return "Only a prod cluster names a paired non-prod cluster."
    if pair is None or pair.engagement_id != engagement_id or pair.id == cluster_id:
        return (
            f"paired_cluster_id {paired_cluster_id!r} is not another cluster of engagement {engagement_id!r}; "
            "add the non-prod cluster first."
        )
    if pair.environment != "non-prod":
        return f"Cluster {paired_cluster_id!r} is not non-prod."
    return None


def becomes_prod_while_staging(current_environment: str, new_environment: str, stages_for: list[str]) -> bool:
    """A non-prod cluster that stages upgrades for a prod one cannot itself become prod."""
    return current_environment == "non-prod" and new_environment == "prod" and bool(stages_for)
