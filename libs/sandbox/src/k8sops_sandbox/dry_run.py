"""`?dryRun=All`: the request runs in full (defaults, validation, conflicts) and nothing is kept.

As on a real apiserver: the answer is the object as it would be stored, no watch event goes out,
no controller reacts, and no resourceVersion is assigned (an update answers with the current one,
so `kubectl diff` shows only what would change).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from starlette.requests import Request

from .store import Store

T = TypeVar("T")


class HasStore(Protocol):
    store: Store


class ServesCluster(HasStore, Protocol):
    @property
    def cluster(self) -> HasStore:  # evictions go through the cluster's own store
        ...


async def is_dry_run(request: Request) -> bool:
    """`?dryRun=All`, or for a DELETE also `dryRun: ["All"]` in its DeleteOptions body (kubectl's way)."""
    if request.method == "GET":
        return False
    if "All" in request.query_params.getlist("dryRun"):
        return True
    if request.method != "DELETE":
        return False
    try:
        options = json.loads(await request.body() or b"{}")
    except ValueError:
        return False  # the handler reports the bad body
    return isinstance(options, dict) and "All" in (options.get("dryRun") or [])


def throwaway_copy(store: Store) -> Store:
    """A copy to write into: the same objects (never mutated in place: writes store new copies),
    fresh buckets, and no history, watchers or listeners, so nothing outside sees its writes."""
    twin = store.fork()
    twin.dry_run = True
    return twin


async def dry_run(api: ServesCluster, request: Request, handle: Callable[[], Awaitable[T]]) -> T:
    """Runs `handle` against a throwaway copy of the api's store.

    The body is read first, so `handle` never waits on the network while the copy is in place
    and no other request can run against it in between.
    """
    await request.body()
    real = api.store
    api.store = api.cluster.store = throwaway_copy(real)
    try:
        return await handle()
    finally:
        api.store = api.cluster.store = real
