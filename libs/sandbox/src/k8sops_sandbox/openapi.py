"""`/openapi/v2` and `/openapi/v3` documents for the resources a cluster serves, and strict field checks.

kubectl reads them: `apply` and `create` ask the v3 document whether PATCH takes `fieldValidation`
(then they leave validation to the server, `fieldValidation=Strict`) and build client-side apply's
strategic merge patch from it; `explain` prints its schemas. The schemas come from
`openapi_schemas.py`; kinds it does not describe get an open schema (any fields).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from . import openapi_v2_proto
from .openapi_schemas import DEFINITIONS, DESCRIPTIONS, FIELD_DESCRIPTIONS, GROUP_PACKAGES, full_name, parse_fields
from .resources import ResourceType, served_resources

PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
SCALARS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
    "boolean": {"type": "boolean"},
    "number": {"type": "number", "format": "double"},
    "time": {"type": "string", "format": "date-time"},
    "intstr": {"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True},
    "quantity": {"type": "string", "format": "quantity"},
    "object": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
}
PATCH_DEFINITION = "meta.v1.Patch"
OPEN_KIND = parse_fields("apiVersion string; kind string; metadata meta.v1.ObjectMeta; spec object; status object")


def kind_definition(resource: ResourceType, version: str) -> str:
    """The definition of a kind at a version: described in `openapi_schemas`, or an open one."""
    return f"{GROUP_PACKAGES[resource.group]}.{version}.{resource.kind}"


def _schema(kind: str, ref_prefix: str) -> dict[str, Any]:
    if kind.startswith("["):
        return {"type": "array", "items": _schema(kind[1:-1], ref_prefix)}
    if kind.startswith("{"):
        return {"type": "object", "additionalProperties": _schema(kind[1:-1], ref_prefix)}
    if kind in SCALARS:
        return dict(SCALARS[kind])
    return {"$ref": ref_prefix + full_name(kind)}


def _definition(name: str, ref_prefix: str, gvks: list[dict[str, str]]) -> dict[str, Any]:
    fields = DEFINITIONS.get(name)
    schema: dict[str, Any] = {"type": "object", "description": DESCRIPTIONS.get(name, "")}
    if fields is None:
        fields = OPEN_KIND
        schema["x-kubernetes-preserve-unknown-fields"] = True
    properties: dict[str, Any] = {}
    for field, kind in fields.items():
        prop = _schema(kind, ref_prefix)
        description = FIELD_DESCRIPTIONS.get((name, field))
        if description and "$ref" in prop and ref_prefix.startswith("#/components"):
            prop = {"allOf": [prop], "description": description}  # v3 keeps a $ref's siblings apart
        elif description:
            prop["description"] = description
        properties[field] = prop
    schema["properties"] = properties
    if gvks:
        schema["x-kubernetes-group-version-kind"] = gvks
    return schema


def _closure(roots: list[str]) -> list[str]:
    seen: list[str] = []
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        for kind in (DEFINITIONS.get(name) or {"metadata": "meta.v1.ObjectMeta"}).values():
            inner = kind.strip("[]{}")
            if inner not in SCALARS:
                todo.append(inner)
    return sorted(seen)


def _served(minor: tuple[int, int]) -> dict[tuple[str, str], list[ResourceType]]:
    return {gv: items for gv, items in served_resources(minor).items() if gv[0] in GROUP_PACKAGES}


def _operation(
    resource: ResourceType, version: str, action: str, ref: str, v3: bool, query: tuple[str, ...]
) -> dict[str, Any]:
    gvk = {"group": resource.group, "version": version, "kind": resource.kind}
    parameters: list[dict[str, Any]] = []
    for name in query:
        parameter: dict[str, Any] = {"name": name, "in": "query", "uniqueItems": True}
        if v3:
            parameter["schema"] = {"type": "boolean" if name == "force" else "string"}
        else:
            parameter["type"] = "boolean" if name == "force" else "string"
        parameters.append(parameter)
    operation: dict[str, Any] = {
        "operationId": f"{action}{resource.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
        "parameters": parameters,
    }
    body_ref = ref + full_name(PATCH_DEFINITION if action == "patch" else kind_definition(resource, version))
    body_types = PATCH_TYPES if action == "patch" else ("application/json", "application/yaml")
    if action in ("post", "put", "patch"):
        if v3:
            operation["requestBody"] = {
                "content": {media: {"schema": {"$ref": body_ref}} for media in body_types},
                "required": True,
            }
        else:
            operation["consumes"] = list(body_types)
            parameters.append({"name": "body", "in": "body", "required": True, "schema": {"$ref": body_ref}})
    answer = {"$ref": ref + full_name(kind_definition(resource, version))}
    if v3:
        operation["responses"] = {"200": {"description": "OK", "content": {"application/json": {"schema": answer}}}}
    else:
        operation["responses"] = {"200": {"description": "OK", "schema": answer}}
    return operation


def _paths(resources: list[ResourceType], version: str, v3: bool) -> dict[str, Any]:
    ref = "#/components/schemas/" if v3 else "#/definitions/"
    writes = ("dryRun", "fieldManager", "fieldValidation")
    paths: dict[str, Any] = {}
    for resource in resources:
        base = f"/apis/{resource.group}/{version}" if resource.group else f"/api/{version}"
        scope = f"{base}/namespaces/{{namespace}}" if resource.namespaced else base
        collection = f"{scope}/{resource.plural}"
        verbs = set(resource.verbs)

        def op(action: str, query: tuple[str, ...] = (), resource: ResourceType = resource) -> dict[str, Any]:
            return _operation(resource, version, action, ref, v3, query)

        listing: dict[str, Any] = {}
        if "list" in verbs:
            listing["get"] = op("list", ("labelSelector", "fieldSelector", "limit", "continue", "watch"))
        if "create" in verbs:
            listing["post"] = op("post", writes)
        if listing:
            paths[collection] = listing
        item: dict[str, Any] = {}
        if "get" in verbs:
            item["get"] = op("get")
        if "update" in verbs:
            item["put"] = op("put", writes)
        if "patch" in verbs:
            item["patch"] = op("patch", (*writes, "force"))
        if "delete" in verbs:
            item["delete"] = op("delete", ("dryRun",))
        if item:
            paths[f"{collection}/{{name}}"] = item
    return paths


def _definitions(gv_resources: dict[tuple[str, str], list[ResourceType]], v3: bool) -> dict[str, Any]:
    ref = "#/components/schemas/" if v3 else "#/definitions/"
    gvks: dict[str, list[dict[str, str]]] = {}
    for (group, version), resources in gv_resources.items():
        for resource in resources:
            gvks.setdefault(kind_definition(resource, version), []).append(
                {"group": group, "version": version, "kind": resource.kind}
            )
    definitions = {full_name(name): _definition(name, ref, gvks.get(name, [])) for name in _closure(list(gvks))}
    definitions[full_name(PATCH_DEFINITION)] = {
        "type": "object",
        "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
    }
    return definitions


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


@lru_cache(maxsize=16)
def v3_documents(minor: tuple[int, int], git_version: str) -> dict[str, bytes]:
    """`api/v1`, `apis/apps/v1`, ... -> that group-version's OpenAPI 3.0 document."""
    documents: dict[str, bytes] = {}
    for (group, version), resources in _served(minor).items():
        document = {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": git_version},
            "paths": _paths(resources, version, v3=True),
            "components": {"schemas": _definitions({(group, version): resources}, v3=True)},
        }
        documents[_gv_path(group, version)] = json.dumps(document).encode()
    return documents


def v3_root(minor: tuple[int, int], git_version: str) -> dict[str, Any]:
    paths = {
        path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={hashlib.sha512(body).hexdigest().upper()}"}
        for path, body in v3_documents(minor, git_version).items()
    }
    return {"paths": paths}


@lru_cache(maxsize=16)
def v2_protobuf(minor: tuple[int, int], git_version: str) -> bytes:
    return openapi_v2_proto.document(json.loads(v2_document(minor, git_version)))


@lru_cache(maxsize=16)
def v2_document(minor: tuple[int, int], git_version: str) -> bytes:
    served = _served(minor)
    paths: dict[str, Any] = {}
    for (_, version), resources in served.items():
        paths.update(_paths(resources, version, v3=False))
    document = {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": git_version},
        "paths": paths,
        "definitions": _definitions(served, v3=False),
    }
    return json.dumps(document).encode()


def unknown_fields(obj: Any, resource: ResourceType, version: str) -> list[str]:
    """Paths of fields the schema does not know (`spec.foo`), as strict field validation reports them."""
    found: list[str] = []

    def walk(value: Any, kind: str, path: str) -> None:
        if kind.startswith("[") and isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, kind[1:-1], f"{path}[{index}]")
        elif kind.startswith("{") and isinstance(value, dict):
            for key, item in value.items():
                walk(item, kind[1:-1], f"{path}.{key}")
        elif kind not in SCALARS and isinstance(value, dict):
            fields = DEFINITIONS.get(kind)
            if fields is None:
                return
            for key, item in value.items():
                where = f"{path}.{key}" if path else key
                if key not in fields:
                    found.append(where)
                else:
                    walk(item, fields[key], where)

    walk(obj, kind_definition(resource, version), "")
    return found
