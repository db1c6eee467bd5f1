"""Faults injected from the scenario file or at runtime (Python API or the admin endpoint)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from .scenario import Fault


@dataclass
class ActiveFault:
    id: str
    fault: Fault
    remaining: int | None

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, **self.fault.model_dump(exclude_none=True), "remaining": self.remaining}


@dataclass
class FaultRegistry:
    active: dict[str, ActiveFault] = field(default_factory=dict)
    # Called on every change, so controllers recompute what a fault changes (PDB status).
    listeners: list[Callable[[], None]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    def add(self, fault: Fault) -> ActiveFault:
        active = ActiveFault(f"fault-{next(self._ids)}", fault, fault.count)
        self.active[active.id] = active
        self._changed()
        return active

    def remove(self, fault_id: str) -> bool:
        removed = self.active.pop(fault_id, None) is not None
        self._changed()
        return removed

    def clear(self) -> None:
        self.active.clear()
        self._changed()

    def matching(self, kind: str, cluster: str) -> list[Fault]:
        return [a.fault for a in self.active.values() if a.fault.type == kind and a.fault.cluster in (None, cluster)]

    def take_api_fault(self, cluster: str, method: str, path: str) -> Fault | None:
        """The first API fault matching this request; counted faults expire when used up."""
        for active in list(self.active.values()):
            fault = active.fault
            if fault.type not in ("api_error", "api_timeout") or fault.cluster not in (None, cluster):
                continue
            if not path.startswith(fault.path_prefix):
                continue
            if fault.methods and method.upper() not in {m.upper() for m in fault.methods}:
                continue
            if active.remaining is not None:
                active.remaining -= 1
                if active.remaining <= 0:
                    self.active.pop(active.id, None)
            return fault
        return None

    def node_never_ready(self, cluster: str, node: str, pool: str) -> bool:
        return any(
            (f.node is None or f.node == node) and (f.node_pool is None or f.node_pool == pool)
            for f in self.matching("node_never_ready", cluster)
        )

    def crashloops(self, cluster: str, workload: str) -> bool:
        return any(f.workload in (None, workload) for f in self.matching("crashloop_after_upgrade", cluster))

    def pdb_blocked(self, cluster: str, pdb: str) -> bool:
        return any(f.pdb in (None, pdb) for f in self.matching("pdb_blocks_forever", cluster))

    def pull_failure(self, cluster: str, image: str) -> dict[str, object] | None:
        """The kubelet's waiting state for a container whose image cannot be pulled (None: it can)."""
        if not any(f.image in (None, image) for f in self.matching("image_pull_fails", cluster)):
            return None
        return {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}}
