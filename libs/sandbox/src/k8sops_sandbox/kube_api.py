"""The Kubernetes API server of one sandbox cluster, as a Starlette app.

Paths follow the real layout (/api/v1/..., /apis/<group>/<version>/..., namespaced and cluster
scoped), errors are `Status` objects, and watches stream JSON lines of {type, object}.
"""

from __future__ import annotations

import asyncio
import base64
import json
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from . import access_review, discovery, ssa
from .cluster import ClusterState, EvictionRefused
from .dry_run import dry_run, is_dry_run
from .field_validation import body_warnings, openapi_response
from .kube_bodies import delete_grace_period, grace_period_of, read_body
from .kube_errors import ApiError, conflict_message, not_found, qualified, status_body, status_response
from .kube_metrics import metrics_api, metrics_text
from .kube_watch import watch_response
from .objects import short_hash
from .patch import PatchError, json_patch, merge_patch
from .resources import RESOURCES, ResourceType, ServedVersion, served_resources
from .selectors import SelectorError, parse_field_selector, parse_label_selector, required_value
from .store import AlreadyExists, Conflict, NotFound, Obj
from .tables import to_table
from .termination import PODS, delete_pod
from .usage import UsageModel

JSON_TYPE = "application/json"


class KubeApi:
    def __init__(self, cluster: ClusterState, usage: UsageModel) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.usage = usage
        self.request_counts: dict[tuple[str, str, str], int] = {}
        self.app = Starlette(
            routes=[
                Route("/{path:path}", self.handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            ]
        )

    # --- entry point -----------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        fault = self.cluster.faults.take_api_fault(self.cluster.name, request.method, path)
        if fault is not None:
            if fault.type == "api_timeout":
                await asyncio.sleep(fault.delay_seconds)
                return status_response(
                    ApiError(504, "Timeout", "the server was unable to return a response in the time allotted")
                )
            return status_response(
                ApiError(
                    fault.status,
                    "InternalError",
                    "an error on the server (sandbox fault injection) has prevented the request from succeeding",
                )
            )
        try:
            return await self._route(request, path)
        except ApiError as error:
            return status_response(error)
        except NotFound as error:
            return status_response(ApiError(404, "NotFound", f"not found: {error}"))

    async def _route(self, request: Request, path: str) -> Response:
        minor = self.cluster.minor
        if path == "/version":
            return JSONResponse(discovery.version_info(self.cluster.version))
        if path in ("/healthz", "/livez", "/readyz"):
            return PlainTextResponse("ok")
        if path == "/metrics":
            text = metrics_text(self.cluster.deprecated_calls, self.request_counts)
            return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
        if path == "/api":
            return JSONResponse(discovery.api_versions(request.url.netloc))
        if path.startswith("/openapi/"):
            return openapi_response(path, request, minor, discovery.version_info(self.cluster.version)["gitVersion"])
        if path == "/apis":
            return JSONResponse(discovery.api_group_list(minor))
        parts = [p for p in path.split("/") if p]
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2:
            group = parts[1]
            if len(parts) == 2:
                found = discovery.find_group(minor, group)
                if found is None:
                    raise not_found()
                return JSONResponse(found)
            version, rest = parts[2], parts[3:]
        else:
            raise not_found()
        if not rest:
            listing = discovery.resource_list(minor, group, version)
            if listing is None:
                raise not_found()
            return JSONResponse(listing)
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        resource, served = self._resource(group, version, plural)
        headers = self._note_deprecated(resource, served)
        self._count(request.method, resource.key, subresource or "")
        if resource.group == "metrics.k8s.io":
            nodes = self._selected(request, self._core("nodes"), None) if resource.plural == "nodes" else []
            pods = self._selected(request, self._core("pods"), namespace) if resource.plural == "pods" else []
            return metrics_api(self.usage, resource, name, nodes, pods)
        if resource.group == access_review.GROUP and request.method == "POST":
            status, answer = access_review.review(resource, version, await read_body(request))
            return JSONResponse(answer, status_code=status)
        if resource.namespaced and namespace is None and name is not None and request.method != "GET":
            raise not_found()
        warnings = await body_warnings(request, resource, version) if subresource is None else []
        dispatch = partial(self._dispatch, request, resource, version, namespace, name, subresource)
        response = await (dry_run(self, request, dispatch) if await is_dry_run(request) else dispatch())
        response.headers.update(headers)
        for warning in warnings:
            response.headers.append("Warning", warning)
        return response

    def _resource(self, group: str, version: str, plural: str) -> tuple[ResourceType, ServedVersion]:
        for resource in served_resources(self.cluster.minor).get((group, version), []):
            if resource.plural == plural:
                served = next(v for v in resource.versions if v.version == version)
                return resource, served
        raise not_found()

    def _note_deprecated(self, resource: ResourceType, served: ServedVersion) -> dict[str, str]:
        """Record a call to a deprecated version, as the apiserver's metric and Warning header do."""
        if served.deprecated_in is None:
            return {}
        removed = f"{served.removed_in[0]}.{served.removed_in[1]}" if served.removed_in else ""
        key = (resource.group, served.version, resource.plural, removed)
        self.cluster.deprecated_calls[key] = self.cluster.deprecated_calls.get(key, 0) + 1
        deprecated = f"{served.deprecated_in[0]}.{served.deprecated_in[1]}"
        message = (
            f"{resource.api_version(served.version)} {resource.kind} is deprecated in v{deprecated}+"
            + (f", unavailable in v{removed}+" if removed else "")
            + f"; use {resource.api_version()} {resource.kind}"
        )
        return {"Warning": f'299 - "{message}"'}

    def _count(self, method: str, key: str, subresource: str) -> None:
        counted = (method, key, subresource)
        self.request_counts[counted] = self.request_counts.get(counted, 0) + 1

    # --- verbs -----------------------------------------------------------------------------
    async def _dispatch(
        self,
        request: Request,
        resource: ResourceType,
        version: str,
        namespace: str | None,
        name: str | None,
        subresource: str | None,
    ) -> Response:
        method = request.method
        if name is None:
            if method == "GET":
                if request.query_params.get("watch") in ("1", "true", "True"):
                    convert = partial(self._convert, resource=resource, version=version)
                    return watch_response(self.store, request, resource, namespace, convert)
                return self._list(request, resource, version, namespace)
            if method == "POST":
                return self._create(resource, version, namespace, await read_body(request))
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on a collection")
        ns = namespace or ""
        if subresource == "eviction" and method == "POST":
            return self._evict(ns, name, await read_body(request))
        if subresource == "scale":
            return await self._scale(request, resource, ns, name)
        if subresource == "log":
            self._get(resource, ns, name)
            return PlainTextResponse("sandbox: containers here write no logs\n")
        if method == "GET":
            found = self._convert(self._get(resource, ns, name), resource, version)
            if "as=Table" in request.headers.get("accept", ""):
                return JSONResponse(
                    to_table(resource.key, [found], {"resourceVersion": found["metadata"]["resourceVersion"]})
                )
            return JSONResponse(found)
        if method == "DELETE":
            deleted = self._delete(resource, ns, name, await delete_grace_period(request))
            return JSONResponse(self._convert(deleted, resource, version))
        if method == "PUT":
            body = await read_body(request)
            body.setdefault("metadata", {})["namespace"] = ns if resource.namespaced else None
            if not resource.namespaced:
                body["metadata"].pop("namespace")
            self._get(resource, ns, name)
            try:
                stored = self.store.replace(resource.key, body, body["metadata"].get("resourceVersion"))
            except Conflict:
                raise ApiError(409, "Conflict", conflict_message(resource, name)) from None
            return JSONResponse(self._convert(stored, resource, version))
        if method == "PATCH":
            return JSONResponse(self._convert(await self._patch(request, resource, ns, name), resource, version))
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")

    def _get(self, resource: ResourceType, namespace: str, name: str) -> Obj:
        found = self.store.find(resource.key, namespace, name)
        if found is None:
            raise ApiError(
                404,
                "NotFound",
                f'{qualified(resource)} "{name}" not found',
                {"name": name, "group": resource.group, "kind": resource.plural},
            )
        return found

    def _convert(self, obj: Obj, resource: ResourceType, version: str) -> Obj:
        """Objects are stored once and served at whatever version the client asked for."""
        return {**obj, "apiVersion": resource.api_version(version), "kind": resource.kind}

    def _selected(self, request: Request, resource: ResourceType, namespace: str | None) -> list[Obj]:
        try:
            label_ok = parse_label_selector(request.query_params.get("labelSelector"))
            field_ok = parse_field_selector(request.query_params.get("fieldSelector"))
        except SelectorError as error:
            raise ApiError(400, "BadRequest", str(error)) from None
        node = required_value(request.query_params.get("fieldSelector"), "spec.nodeName")
        candidates = (
            self.store.pods_on_node(node, namespace)
            if node is not None and resource.key == "pods"
            else self.store.items(resource.key, namespace)
        )
        return [obj for obj in candidates if label_ok(obj["metadata"].get("labels") or {}) and field_ok(obj)]

    def _list(self, request: Request, resource: ResourceType, version: str, namespace: str | None) -> Response:
        items = self._selected(request, resource, namespace)
        meta: dict[str, Any] = {"resourceVersion": str(self.store.resource_version)}
        limit = int(request.query_params.get("limit") or 0)
        start = 0
        token = request.query_params.get("continue")
        if token:
            try:
                start = int(json.loads(base64.b64decode(token))["start"])
            except (ValueError, KeyError):
                raise ApiError(400, "BadRequest", "invalid continue token") from None
        if limit > 0 and start + limit < len(items):
            meta["continue"] = base64.b64encode(json.dumps({"start": start + limit}).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
            items = items[start : start + limit]
        else:
            items = items[start:]
        converted = [self._convert(obj, resource, version) for obj in items]
        if "as=Table" in request.headers.get("accept", ""):
            return JSONResponse(to_table(resource.key, converted, meta))
        return JSONResponse(
            {
                "kind": f"{resource.kind}List",
                "apiVersion": resource.api_version(version),
                "metadata": meta,
                "items": converted,
            }
        )

    def _create(self, resource: ResourceType, version: str, namespace: str | None, body: Obj) -> Response:
        meta = body.setdefault("metadata", {})
        if resource.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
            if self.store.find("namespaces", "", meta["namespace"]) is None:
                raise ApiError(404, "NotFound", f'namespaces "{meta["namespace"]}" not found')
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + _suffix(self.store.resource_version)
        if not meta.get("name"):
            raise ApiError(422, "Invalid", f"{resource.kind} is invalid: metadata.name: Required value")
        if resource.plural == "pods":
            # A created pod starts Pending, whatever status the client sent; the scheduler binds it.
            body["status"] = {"phase": "Pending"}
        body["apiVersion"], body["kind"] = resource.api_version(), resource.kind
        try:
            created = self.store.create(resource.key, body)
        except AlreadyExists:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{qualified(resource)} "{meta["name"]}" already exists',
                {"name": meta["name"], "group": resource.group, "kind": resource.plural},
            ) from None
        return JSONResponse(self._convert(created, resource, version), 201)

    def _delete(self, resource: ResourceType, namespace: str, name: str, grace: int | None) -> Obj:
        self._get(resource, namespace, name)
        if resource.plural == "namespaces":
            # Namespace deletion takes everything in it, as the namespace controller does.
            for other in RESOURCES:
                if other.namespaced and other.group != "metrics.k8s.io":
                    for obj in list(self.store.items(other.key, name)):
                        self.store.delete(other.key, name, obj["metadata"]["name"])
        if resource.key == PODS:
            return delete_pod(self.cluster, namespace, name, grace)
        return self.store.delete(resource.key, namespace, name)

    async def _patch(self, request: Request, resource: ResourceType, namespace: str, name: str) -> Obj:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        raw = await request.body()
        if content_type == "application/apply-patch+yaml":
            return self._apply(request, resource, namespace, name, raw)
        current = self._get(resource, namespace, name)
        try:
            if content_type == "application/json-patch+json":
                patched = json_patch(current, json.loads(raw))
            elif content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                patched = merge_patch(current, json.loads(raw))
            else:
                raise ApiError(415, "UnsupportedMediaType", f"the media type {content_type!r} is not supported")
        except (PatchError, ValueError) as error:
            if isinstance(error, ApiError):
                raise
            raise ApiError(422, "Invalid", f"cannot apply patch: {error}") from None
        if not isinstance(patched, dict):
            raise ApiError(422, "Invalid", "a patch must produce an object")
        meta = patched.setdefault("metadata", {})
        meta["name"] = name
        if resource.namespaced:
            meta["namespace"] = namespace
        expected = (
            meta.get("resourceVersion")
            if meta.get("resourceVersion") != current["metadata"]["resourceVersion"]
            else None
        )
        try:
            return self.store.replace(resource.key, patched, expected)
        except Conflict:
            raise ApiError(409, "Conflict", conflict_message(resource, name)) from None

    def _apply(self, request: Request, resource: ResourceType, namespace: str, name: str, raw: bytes) -> Obj:
        current = self.store.find(resource.key, namespace, name)
        try:
            applied, manager, force = ssa.parse(request.query_params, raw, name)
            result = ssa.apply(current, applied, manager, force, resource.api_version(), self.cluster.now_iso())
        except ssa.BadApply as error:
            raise ApiError(400, "BadRequest", str(error)) from None
        except ssa.ApplyConflict as conflict:
            raise ApiError(409, "Conflict", str(conflict)) from None
        result.setdefault("metadata", {})["name"] = name
        if current is None:
            self._create(resource, resource.api_version(), namespace or None, result)
            return self._get(resource, namespace, name)
        if resource.namespaced:
            result["metadata"]["namespace"] = namespace
        return self.store.replace(resource.key, result)

    def _core(self, plural: str) -> ResourceType:
        return next(r for r in served_resources(self.cluster.minor)[("", "v1")] if r.plural == plural)

    def _evict(self, namespace: str, name: str, eviction: Obj) -> Response:
        if self.store.find("pods", namespace, name) is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
        try:
            self.cluster.evict(namespace, name, grace_period_of(eviction.get("deleteOptions"), "deleteOptions"))
        except EvictionRefused as refused:
            details = {"causes": list(refused.causes)} if refused.causes else None
            raise ApiError(refused.code, refused.reason, refused.message, details) from None
        return JSONResponse(status_body(201, "", ""), 201)

    async def _scale(self, request: Request, resource: ResourceType, namespace: str, name: str) -> Response:
        obj = self._get(resource, namespace, name)
        if request.method in ("PATCH", "PUT"):
            body = await read_body(request)
            replicas = body.get("spec", {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(422, "Invalid", "spec.replicas must be a non-negative integer")
            obj = self.store.mutate(
                resource.key, namespace, name, lambda o: o["spec"].__setitem__("replicas", replicas)
            )
        return JSONResponse(
            {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {
                    k: obj["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                },
                "spec": {"replicas": obj["spec"].get("replicas", 0)},
                "status": {"replicas": obj.get("status", {}).get("replicas", 0)},
            }
        )


def _suffix(seed: int) -> str:
    return short_hash(str(seed), 5)
