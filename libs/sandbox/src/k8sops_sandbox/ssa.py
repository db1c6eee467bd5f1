"""Server-side apply as the API server does it (`PATCH` with `application/apply-patch+yaml`).

Each apply names a field manager; the fields it set are recorded in `metadata.managedFields`
(FieldsV1, leaf fields). Lists Kubernetes merges by key (containers, initContainers, volumes, env
and imagePullSecrets by `name`, container ports by `containerPort`+`protocol`, Service ports by
`port`+`protocol`, volumeMounts by `mountPath`, …) are merged element by element and owned per
element (`k:{"name":"web"}` with `.` for the element itself), as the API server's
structured-merge-diff does; every other list is atomic (owned and replaced whole). An apply that
changes a field another manager applied is a 409 conflict unless `force=true`; a field (or list
element) this manager applied before, no longer sends and nobody else owns is removed. Applying an
object that does not exist creates it.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Mapping
from typing import Any

import yaml

Obj = dict[str, Any]
# A path is FieldsV1 tokens: "f:<field>", "k:<JSON of the element's key fields>", "." (the element).
Path = tuple[str, ...]
# Fields the server owns or that identify the object: never owned by a manager.
SERVER_FIELDS = frozenset({"status", "apiVersion", "kind"})
SERVER_META = frozenset(
    {"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "name", "namespace"}
)


# Lists merged by key (the Kubernetes API's `x-kubernetes-list-map-keys`), by field name.
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "volumes": ("name",),
    "env": ("name",),
    "imagePullSecrets": ("name",),
    "resourceClaims": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable"),
}
CONTAINER_PORT_KEYS = ("containerPort", "protocol")
SERVICE_PORT_KEYS = ("port", "protocol")
# Key fields the server defaults when a manifest leaves them out.
DEFAULTED_KEYS = {"protocol": "TCP"}


class BadApply(ValueError):
    pass


def parse(query: Mapping[str, str], raw: bytes, name: str) -> tuple[Obj, str, bool]:
    """The applied configuration, its field manager and `force`, as the request gives them."""
    manager = query.get("fieldManager")
    if not manager:
        raise BadApply("PATCH: fieldManager is required for apply requests")
    try:
        applied = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise BadApply(f"error decoding YAML: {error}") from None
    if not isinstance(applied, dict) or not applied.get("kind"):
        raise BadApply("an applied configuration must be an object with its kind")
    if (applied.get("metadata") or {}).get("name", name) != name:
        raise BadApply("the name of the object does not match the name on the URL")
    return applied, manager, query.get("force") in ("true", "1")


class ApplyConflict(Exception):
    def __init__(self, conflicts: list[tuple[str, Path]]) -> None:
        self.conflicts = conflicts
        super().__init__(
            "Apply failed with "
            + f"{len(conflicts)} conflict(s): "
            + "; ".join(f'conflict with "{manager}": {readable(path)}' for manager, path in conflicts)
        )


def readable(path: Path) -> str:
    """`.spec.template.spec.containers[name="web"].image`, as the API server words a conflict."""
    text = ""
    for token in path:
        if token.startswith("k:"):
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(token[2:]).items()) + "]"
        elif token != ".":
            text += "." + token[2:]
    return text


def merge_keys(field: str, items: list[Any]) -> tuple[str, ...] | None:
    """The key fields of a list merged by key; None for an atomic list."""
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    if field == "ports":
        keys = CONTAINER_PORT_KEYS if any("containerPort" in item for item in items) else SERVICE_PORT_KEYS
    else:
        keys = MERGE_KEYS.get(field)  # type: ignore[assignment]
    if keys is None or not all(keys[0] in item for item in items):
        return None
    return keys


def element_token(item: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    key = {k: item.get(k, DEFAULTED_KEYS.get(k)) for k in keys if k in item or k in DEFAULTED_KEYS}
    return "k:" + json.dumps(key, sort_keys=True, separators=(",", ":"))


def leaves(value: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Every leaf of an applied configuration, keyed by its path. An atomic list is one leaf; a
    keyed list gives each element's "." (its key fields as the value) and the element's leaves."""
    if not (isinstance(value, dict) and value):
        return {prefix: value}
    found: dict[Path, Any] = {}
    for key, child in value.items():
        if (not prefix and key in SERVER_FIELDS) or (prefix == ("f:metadata",) and key in SERVER_META):
            continue
        path = (*prefix, f"f:{key}")
        keys = merge_keys(key, child) if isinstance(child, list) else None
        if keys is None:
            found.update(leaves(child, path))
            continue
        for item in child:
            element = (*path, element_token(item, keys))
            found[(*element, ".")] = {k: item[k] for k in keys if k in item}
            found.update(leaves(item, element))
    return found


def _fields_v1(paths: list[Path]) -> Obj:
    tree: Obj = {}
    for path in paths:
        node = tree
        for token in path:
            node = node.setdefault(token, {})
    return tree


def _paths_of(fields: Obj, prefix: Path = ()) -> list[Path]:
    paths: list[Path] = []
    for token, child in fields.items():
        paths += _paths_of(child, (*prefix, token)) if child else [(*prefix, token)]
    return paths


def _matches(item: Any, key: Mapping[str, Any]) -> bool:
    return isinstance(item, dict) and all(item.get(k, DEFAULTED_KEYS.get(k)) == v for k, v in key.items())


def _step(node: Any, token: str) -> tuple[bool, Any]:
    if token.startswith("f:"):
        if isinstance(node, dict) and token[2:] in node:
            return True, node[token[2:]]
        return False, None
    if isinstance(node, list):
        key = json.loads(token[2:])
        for item in node:
            if _matches(item, key):
                return True, item
    return False, None


def _lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    for token in path:
        if token == ".":
            return True, {}  # the element exists: its fields are other leaves
        found, obj = _step(obj, token)
        if not found:
            return False, None
    return True, obj


def _set(obj: Obj, path: Path, value: Any) -> None:
    node: Any = obj
    for token, following in itertools.pairwise(path):
        if token.startswith("f:"):
            wanted: type = list if following.startswith("k:") else dict
            if not isinstance(node.get(token[2:]), wanted):
                node[token[2:]] = wanted()
            node = node[token[2:]]
        else:
            found, item = _step(node, token)
            if not found:
                # A new element: its key fields as applied (a defaulted key is left to the server).
                item = copy.deepcopy(value) if following == "." else json.loads(token[2:])
                node.append(item)
            node = item
    if path[-1] != ".":
        node[path[-1][2:]] = copy.deepcopy(value)


def _remove(obj: Obj, path: Path) -> None:
    chain: list[tuple[str, Any]] = [("", obj)]
    for token in path[:-1] if path[-1] == "." else path:
        found, child = _step(chain[-1][1], token)
        if not found:
            return
        chain.append((token, child))
    # Drop the leaf (or element), then what the removal emptied, as the server prunes them.
    while len(chain) > 1:
        token, child = chain.pop()
        parent = chain[-1][1]
        if token.startswith("f:"):
            parent.pop(token[2:], None)
        else:
            parent[:] = [item for item in parent if item is not child]
        if parent not in ({}, []):
            return


def apply(current: Obj | None, applied: Obj, manager: str, force: bool, api_version: str, now: str) -> Obj:
    """The object after `manager` applies `applied` to `current` (None: it does not exist yet)."""
    result = copy.deepcopy(current) if current is not None else {}
    entries = [dict(entry) for entry in (result.get("metadata") or {}).get("managedFields") or []]
    mine = next((e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"), None)
    others = [e for e in entries if e is not mine]
    new = leaves(applied)
    conflicts = []
    for entry in others:
        for path in _paths_of(entry.get("fieldsV1") or {}):
            if path[-1] != "." and path in new and _lookup(result, path) != (True, new[path]):
                conflicts.append((str(entry.get("manager")), path))
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    owned_elsewhere = {path for entry in others for path in _paths_of(entry.get("fieldsV1") or {})}
    # Whole elements first (one another manager still has fields in stays), then fields; an
    # element's key fields go only with the element.
    dropped = [p for p in _paths_of((mine or {}).get("fieldsV1") or {}) if p not in new and p not in owned_elsewhere]
    for path in sorted(dropped, key=lambda p: p[-1] != "."):
        if path[-1] == "." and any(p[: len(path) - 1] == path[:-1] for p in owned_elsewhere):
            continue
        if len(path) > 1 and path[-2].startswith("k:") and path[-1][2:] in json.loads(path[-2][2:]):
            continue
        _remove(result, path)
    for path, value in new.items():
        if value == {} and path[-1] != "." and isinstance(_lookup(result, path)[1], dict):
            continue  # an empty map merges into what is there; it does not clear it
        _set(result, path, value)
    if force and conflicts:
        # A forced apply takes the fields over: the other managers no longer own them.
        taken = {path for _, path in conflicts}
        for entry in others:
            kept = [p for p in _paths_of(entry.get("fieldsV1") or {}) if p not in taken]
            entry["fieldsV1"] = _fields_v1(kept)
        others = [e for e in others if e["fieldsV1"]]
    record = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": _fields_v1(sorted(new)),
    }
    # A manager that applies no field any more owns nothing and leaves the list, as on a real server.
    result.setdefault("metadata", {})["managedFields"] = [*others, record] if new else others
    return result
