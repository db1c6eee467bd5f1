"""In-memory object store of one cluster: resourceVersions, a bounded event history and watchers.

Everything runs on one event loop, so mutations are plain synchronous calls and need no lock.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
ObjKey = tuple[str, str]  # (namespace or "", name)
PODS = "pods"

HISTORY_LENGTH = 10_000
_UID_NAMESPACE = uuid.UUID("5b0f7e52-0c2e-4d0a-9d51-7a3c1b7e0c11")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Conflict(Exception):
    pass


class NotFound(Exception):
    pass


class AlreadyExists(Exception):
    pass


class Expired(Exception):
    pass


@dataclass(frozen=True)
class WatchEvent:
    resource_version: int
    resource_key: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj


@dataclass(eq=False)
class Watcher:
    resource_key: str
    namespace: str | None
    accepts: Callable[[Obj], bool]
    queue: asyncio.Queue[WatchEvent] = field(default_factory=asyncio.Queue)


class Store:
    def __init__(self, cluster_name: str, clock: Callable[[], datetime] | None = None) -> None:
        self.cluster_name = cluster_name
        self.resource_version = 1
        self._objects: dict[str, dict[ObjKey, Obj]] = {}
        # Derived from _objects, kept current by every write: each bucket's keys in order (so a
        # list does not sort 10,000 keys per call) and the pods bound to each node (a drain lists
        # one node's pods; scanning every pod of a large cluster for it took tens of ms).
        self._sorted: dict[str, list[ObjKey]] = {}
        self._pods_by_node: dict[str, set[ObjKey]] = {}
        self._history: deque[WatchEvent] = deque(maxlen=HISTORY_LENGTH)
        self._watchers: set[Watcher] = set()
        self._created = 0
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.listeners: list[Callable[[WatchEvent], None]] = []
        # A dry run's copy: writes assign no resourceVersion, as the apiserver's dry-run storage does.
        self.dry_run = False

    # --- reads -----------------------------------------------------------------------------
    def get(self, resource_key: str, namespace: str, name: str) -> Obj:
        try:
            return self._objects[resource_key][(namespace, name)]
        except KeyError:
            raise NotFound(name) from None

    def find(self, resource_key: str, namespace: str, name: str) -> Obj | None:
        return self._objects.get(resource_key, {}).get((namespace, name))

    def items(self, resource_key: str, namespace: str | None = None) -> Iterator[Obj]:
        """Objects in a stable order (namespace, name); callers must not mutate them."""
        bucket = self._objects.get(resource_key, {})
        keys = self._sorted.get(resource_key)
        if keys is None:
            keys = self._sorted[resource_key] = sorted(bucket)
        for key in keys:
            if namespace is None or key[0] == namespace:
                yield bucket[key]

    def pods_on_node(self, node_name: str, namespace: str | None = None) -> list[Obj]:
        """Pods bound to one node, in the order `items` gives (the index behind
        `fieldSelector=spec.nodeName=`)."""
        bucket = self._objects.get(PODS, {})
        keys = sorted(self._pods_by_node.get(node_name, ()))
        return [bucket[key] for key in keys if namespace is None or key[0] == namespace]

    def count(self, resource_key: str) -> int:
        return len(self._objects.get(resource_key, {}))

    # --- writes ----------------------------------------------------------------------------
    def _next_version(self) -> int:
        self.resource_version += 1
        return self.resource_version

    def create(self, resource_key: str, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        namespace, name = meta.get("namespace", ""), meta["name"]
        bucket = self._objects.setdefault(resource_key, {})
        if (namespace, name) in bucket:
            raise AlreadyExists(name)
        self._created += 1
        seed = f"{self.cluster_name}/{resource_key}/{namespace}/{name}/{self._created}"
        meta["uid"] = str(uuid.uuid5(_UID_NAMESPACE, seed))
        meta.setdefault("creationTimestamp", iso(self.clock()))
        if self.dry_run:
            meta.pop("resourceVersion", None)
        else:
            meta["resourceVersion"] = str(self._next_version())
        meta.setdefault("generation", 1)
        if not meta.get("labels"):
            meta.pop("labels", None)
        bucket[(namespace, name)] = obj
        self._sorted.pop(resource_key, None)
        self._index(resource_key, (namespace, name), None, obj)
        self._publish(WatchEvent(self.resource_version, resource_key, "ADDED", obj))
        return obj

    def replace(self, resource_key: str, obj: Obj, expect_version: str | None = None) -> Obj:
        meta = obj["metadata"]
        namespace, name = meta.get("namespace", ""), meta["name"]
        current = self.get(resource_key, namespace, name)
        if expect_version and expect_version != current["metadata"]["resourceVersion"]:
            raise Conflict(name)
        obj = copy.deepcopy(obj)
        for kept in ("uid", "creationTimestamp"):
            obj["metadata"][kept] = current["metadata"][kept]
        if obj.get("spec") != current.get("spec"):
            obj["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if obj == current:
            return current  # a no-op update writes nothing, as etcd's guaranteed update skips it
        if not self.dry_run:
            obj["metadata"]["resourceVersion"] = str(self._next_version())
        self._objects[resource_key][(namespace, name)] = obj
        self._index(resource_key, (namespace, name), current, obj)
        self._publish(WatchEvent(self.resource_version, resource_key, "MODIFIED", obj))
        return obj

    def mutate(self, resource_key: str, namespace: str, name: str, change: Callable[[Obj], None]) -> Obj:
        """Apply an in-place change to a copy and store it as a new version."""
        updated = copy.deepcopy(self.get(resource_key, namespace, name))
        change(updated)
        return self.replace(resource_key, updated)

    def delete(self, resource_key: str, namespace: str, name: str) -> Obj:
        bucket = self._objects.get(resource_key, {})
        try:
            obj = bucket.pop((namespace, name))
        except KeyError:
            raise NotFound(name) from None
        self._sorted.pop(resource_key, None)
        self._index(resource_key, (namespace, name), obj, None)
        obj = copy.deepcopy(obj)
        if not self.dry_run:
            obj["metadata"]["resourceVersion"] = str(self._next_version())
        self._publish(WatchEvent(self.resource_version, resource_key, "DELETED", obj))
        return obj

    def _index(self, resource_key: str, key: ObjKey, old: Obj | None, new: Obj | None) -> None:
        if resource_key != PODS:
            return
        before = (old.get("spec") or {}).get("nodeName") if old else None
        after = (new.get("spec") or {}).get("nodeName") if new else None
        if before == after:
            return
        if before:
            self._pods_by_node[before].discard(key)
        if after:
            self._pods_by_node.setdefault(after, set()).add(key)

    def fork(self) -> Store:
        """A copy to write into: the same objects (never mutated in place: writes store new
        copies), fresh buckets and indexes, no history, watchers or listeners."""
        twin = copy.copy(self)
        twin._objects = {key: dict(bucket) for key, bucket in self._objects.items()}
        twin._sorted = {}
        twin._pods_by_node = {node: set(keys) for node, keys in self._pods_by_node.items()}
        twin._history = deque(maxlen=self._history.maxlen)
        twin._watchers = set()
        twin.listeners = []
        return twin

    # --- watch -----------------------------------------------------------------------------
    def _publish(self, event: WatchEvent) -> None:
        self._history.append(event)
        for watcher in self._watchers:
            if self._wants(watcher, event):
                watcher.queue.put_nowait(event)
        for listener in self.listeners:
            listener(event)

    @staticmethod
    def _wants(watcher: Watcher, event: WatchEvent) -> bool:
        if event.resource_key != watcher.resource_key:
            return False
        namespace = event.obj["metadata"].get("namespace", "")
        if watcher.namespace is not None and namespace != watcher.namespace:
            return False
        return watcher.accepts(event.obj)

    def subscribe(
        self,
        resource_key: str,
        namespace: str | None,
        accepts: Callable[[Obj], bool],
        since: int | None,
    ) -> Watcher:
        """Register a watcher. With `since`, replay the history after it (410 Gone if too old);
        without, the caller sends the current objects as synthetic ADDED events."""
        watcher = Watcher(resource_key, namespace, accepts)
        if since is not None and since < self.resource_version:
            oldest = self._history[0].resource_version if self._history else self.resource_version + 1
            if since < oldest - 1:
                raise Expired(f"too old resource version: {since} ({oldest - 1})")
            for event in self._history:
                if event.resource_version > since and self._wants(watcher, event):
                    watcher.queue.put_nowait(event)
        self._watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)
