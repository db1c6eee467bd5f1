"""Server-side apply as the API server does it (`PATCH` with `application/apply-patch+yaml`).

Each apply names a field manager; the fields it set are recorded in `metadata.managedFields`
(FieldsV1, leaf fields only: lists are owned whole). An apply that changes a field another
manager applied is a 409 conflict unless `force=true`; a field this manager applied before and
no longer sends is removed. Applying an object that does not exist creates it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import yaml

Obj = dict[str, Any]
Path = tuple[str, ...]
# Fields the server owns or that identify the object: never owned by a manager.
SERVER_FIELDS = frozenset({"status", "apiVersion", "kind"})
SERVER_META = frozenset(
    {"managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "name", "namespace"}
)


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
            + "; ".join(f'conflict with "{manager}": .{".".join(path)}' for manager, path in conflicts)
        )


def leaves(value: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Every leaf of an applied configuration, keyed by its path (a list counts as one leaf)."""
    if isinstance(value, dict) and value:
        found: dict[Path, Any] = {}
        for key, child in value.items():
            if (not prefix and key in SERVER_FIELDS) or (prefix == ("metadata",) and key in SERVER_META):
                continue
            found.update(leaves(child, (*prefix, key)))
        return found
    return {prefix: value}


def _fields_v1(paths: list[Path]) -> Obj:
    tree: Obj = {}
    for path in paths:
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def _paths_of(fields: Obj, prefix: Path = ()) -> list[Path]:
    paths: list[Path] = []
    for key, child in fields.items():
        path = (*prefix, key.removeprefix("f:"))
        paths += _paths_of(child, path) if child else [path]
    return paths


def _lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return False, None
        obj = obj[key]
    return True, obj


def _set(obj: Obj, path: Path, value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(obj.get(key), dict):
            obj[key] = {}
        obj = obj[key]
    obj[path[-1]] = copy.deepcopy(value)


def _remove(obj: Obj, path: Path) -> None:
    parents = [obj]
    for key in path[:-1]:
        child = parents[-1].get(key)
        if not isinstance(child, dict):
            return
        parents.append(child)
    parents[-1].pop(path[-1], None)
    # Drop maps the removal emptied, as the server prunes them.
    for depth in range(len(path) - 1, 0, -1):
        if parents[depth] == {}:
            parents[depth - 1].pop(path[depth - 1], None)


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
            if path in new and _lookup(result, path) != (True, new[path]):
                conflicts.append((str(entry.get("manager")), path))
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    owned_elsewhere = {path for entry in others for path in _paths_of(entry.get("fieldsV1") or {})}
    for path in _paths_of((mine or {}).get("fieldsV1") or {}):
        if path not in new and path not in owned_elsewhere:
            _remove(result, path)
    for path, value in new.items():
        if value == {} and isinstance(_lookup(result, path)[1], dict):
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
    result.setdefault("metadata", {})["managedFields"] = [*others, record]
    return result
