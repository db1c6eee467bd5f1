"""The patch formats the API server accepts: JSON merge, strategic merge (as merge), JSON patch."""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    pass


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386. Strategic merge patch is applied the same way: the sandbox's objects have no list
    that clients patch element-wise, and null still deletes a key (kubectl uncordon relies on it)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    current = doc
    for part in parts[:-1]:
        current = current[int(part)] if isinstance(current, list) else current[part]
    return current, parts[-1]


def json_patch(target: Any, operations: list[dict[str, Any]]) -> Any:
    """RFC 6902: add, remove, replace, test, copy, move."""
    doc = copy.deepcopy(target)
    try:
        for operation in operations:
            op, parts = operation["op"], _pointer(operation["path"])
            if op == "test":
                parent, key = _parent(doc, parts)
                actual = parent[int(key)] if isinstance(parent, list) else parent.get(key)
                if actual != operation.get("value"):
                    raise PatchError(f"test failed at {operation['path']}")
                continue
            if op in ("copy", "move"):
                src_parent, src_key = _parent(doc, _pointer(operation["from"]))
                value = copy.deepcopy(src_parent[int(src_key)] if isinstance(src_parent, list) else src_parent[src_key])
                if op == "move":
                    del src_parent[int(src_key) if isinstance(src_parent, list) else src_key]
                op, operation = "add", {**operation, "value": value}
            parent, key = _parent(doc, parts)
            if op == "remove":
                del parent[int(key) if isinstance(parent, list) else key]
            elif op in ("add", "replace"):
                if isinstance(parent, list):
                    if key == "-":
                        parent.append(operation["value"])
                    elif op == "add":
                        parent.insert(int(key), operation["value"])
                    else:
                        parent[int(key)] = operation["value"]
                else:
                    if op == "replace" and key not in parent:
                        raise PatchError(f"replace of missing path {operation['path']}")
                    parent[key] = operation["value"]
            else:
                raise PatchError(f"unknown JSON patch op {op!r}")
    except (KeyError, IndexError, ValueError, TypeError) as error:
        if isinstance(error, PatchError):
            raise
        raise PatchError(f"cannot apply JSON patch: {error}") from error
    return doc
