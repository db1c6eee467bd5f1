"""Pricing a resource: each node type's hourly price split over its CPU and its memory.

The split is a configurable share of the node price going to CPU (default 65 %, the ratio of
OpenCost's default per-vCPU and per-GiB list prices on general-purpose nodes); the rest goes to
memory. A cluster's rate per core-hour and per GiB-hour is the capacity-weighted blend over its
nodes, so a mixed cluster is priced by what it actually runs on.
"""

from __future__ import annotations

from dataclasses import dataclass

HOURS_PER_MONTH = 730.0  # 365 x 24 / 12, the usual cloud billing month
GIB = 2.0**30


@dataclass(frozen=True)
class InstancePrice:
    instance_type: str
    cpu_cores: float
    memory_gib: float
    on_demand_bdt_hour: float
    spot_bdt_hour: float


@dataclass(frozen=True)
class NodeCapacity:
    name: str
    instance_type: str
    capacity_type: str  # "on-demand" or "spot"


@dataclass(frozen=True)
class ResourceRates:
    """BDT per core per month and per GiB per month, on-demand and spot."""

    core_month: float
    gib_month: float
    spot_core_month: float
    spot_gib_month: float

    def monthly_cost(self, cpu_cores: float, memory_bytes: float) -> float:
        return cpu_cores * self.core_month + memory_bytes / GIB * self.gib_month

    def monthly_spot_cost(self, cpu_cores: float, memory_bytes: float) -> float:
        return cpu_cores * self.spot_core_month + memory_bytes / GIB * self.spot_gib_month


class UnknownInstanceType(ValueError):
    pass


def split_price(price: InstancePrice, cpu_share: float) -> tuple[float, float]:
    """(BDT per core-hour, BDT per GiB-hour) on demand for one instance type."""
    return (
        price.on_demand_bdt_hour * cpu_share / price.cpu_cores,
        price.on_demand_bdt_hour * (1 - cpu_share) / price.memory_gib,
    )


def cluster_rates(nodes: list[NodeCapacity], prices: dict[str, InstancePrice], cpu_share: float) -> ResourceRates:
    """Capacity-weighted monthly rates of one cluster's nodes (every node priced on demand and spot)."""
    if not 0 < cpu_share < 1:
        raise ValueError("cpu_share must lie strictly between 0 and 1")
    cores = gib = on_demand_cpu = on_demand_memory = spot_cpu = spot_memory = 0.0
    for node in nodes:
        price = prices.get(node.instance_type)
        if price is None:
            raise UnknownInstanceType(f"no price for instance type {node.instance_type!r} (node {node.name})")
        cores += price.cpu_cores
        gib += price.memory_gib
        on_demand_cpu += price.on_demand_bdt_hour * cpu_share
        on_demand_memory += price.on_demand_bdt_hour * (1 - cpu_share)
        spot_cpu += price.spot_bdt_hour * cpu_share
        spot_memory += price.spot_bdt_hour * (1 - cpu_share)
    if not nodes:
        return ResourceRates(0.0, 0.0, 0.0, 0.0)
    return ResourceRates(
        core_month=on_demand_cpu / cores * HOURS_PER_MONTH,
        gib_month=on_demand_memory / gib * HOURS_PER_MONTH,
        spot_core_month=spot_cpu / cores * HOURS_PER_MONTH,
        spot_gib_month=spot_memory / gib * HOURS_PER_MONTH,
    )


DEFAULT_PRICES: tuple[InstancePrice, ...] = (
    InstancePrice("m5.large", 2, 8, 11.75, 4.45),
    InstancePrice("m5.xlarge", 4, 16, 23.5, 8.9),
    InstancePrice("m5.2xlarge", 8, 32, 47.0, 17.6),
    InstancePrice("m5.4xlarge", 16, 64, 94.0, 35.1),
    InstancePrice("c5.2xlarge", 8, 16, 41.5, 15.9),
    InstancePrice("r5.2xlarge", 8, 64, 61.5, 21.4),
)
