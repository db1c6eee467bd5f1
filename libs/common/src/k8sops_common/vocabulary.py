"""The contract's words as enums for rules written in Python: tiers and priorities.

The event catalog declares the same values as `Literal` types, which is what the wire schema
(AsyncAPI, OpenAPI) shows; a unit test keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    BUSINESS = "k8s-business"
    ROUND_THE_CLOCK = "k8s-247"
    ROUND_THE_CLOCK_CLUSTER_ADMIN = "k8s-247-cluster-admin"


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"
