"""`?watch=1`: a stream of JSON lines `{"type", "object"}`, as the apiserver sends them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .kube_errors import ApiError, status_body
from .resources import ResourceType
from .selectors import SelectorError, parse_field_selector, parse_label_selector
from .store import Expired, Obj, Store
from .tables import to_table

JSON_TYPE = "application/json"
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def watch_response(
    store: Store,
    request: Request,
    resource: ResourceType,
    namespace: str | None,
    convert: Callable[[Obj], Obj],
) -> Response:
    try:
        label_ok = parse_label_selector(request.query_params.get("labelSelector"))
        field_ok = parse_field_selector(request.query_params.get("fieldSelector"))
    except SelectorError as error:
        raise ApiError(400, "BadRequest", str(error)) from None
    raw_version = request.query_params.get("resourceVersion")
    since = int(raw_version) if raw_version and raw_version != "0" else None
    timeout = float(request.query_params.get("timeoutSeconds") or 1800)

    def accepts(obj: Obj) -> bool:
        return label_ok(obj["metadata"].get("labels") or {}) and field_ok(obj)

    as_table = "as=Table" in request.headers.get("accept", "")

    def line(kind: str, obj: Obj) -> bytes:
        # `kubectl get -w` asks for Tables: every event's object is a one-row Table, as the apiserver sends.
        if as_table and kind not in ("ERROR", "BOOKMARK"):
            obj = to_table(resource.key, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]})
        return (json.dumps({"type": kind, "object": obj}) + "\n").encode()

    try:
        watcher = store.subscribe(resource.key, namespace, accepts, since)
    except Expired as error:
        gone = status_body(410, "Expired", str(error))

        async def expired() -> AsyncIterator[bytes]:
            yield line("ERROR", gone)

        return StreamingResponse(expired(), media_type=JSON_TYPE)
    listed = store.items(resource.key, namespace) if since is None else iter(())
    initial = [("ADDED", convert(obj)) for obj in listed if accepts(obj)]
    if since is None and request.query_params.get("sendInitialEvents") == "true":
        # A watch-list (client-go's informers, e.g. `kubectl delete`'s wait) counts the initial
        # events done at a bookmark saying so; without it the client waits for ever.
        end = {"resourceVersion": str(store.resource_version), "annotations": {INITIAL_EVENTS_END: "true"}}
        initial.append(("BOOKMARK", convert({"metadata": end})))

    async def stream() -> AsyncIterator[bytes]:
        deadline = time.monotonic() + timeout
        try:
            for kind, obj in initial:
                yield line(kind, obj)
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), remaining)
                except TimeoutError:
                    break
                yield line(event.type, convert(event.obj))
        finally:
            store.unsubscribe(watcher)

    return StreamingResponse(stream(), media_type=JSON_TYPE)
