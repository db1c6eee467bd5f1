"""Reads the Kubernetes protobuf encoding of the built-in kinds into the JSON form the store keeps.

kubectl >= 1.35 builds typed objects with client-go's protobuf-preferring clients (`create
deployment`, `create configmap`, `auth can-i`, ...) and sends them as
`application/vnd.kubernetes.protobuf`: the bytes `k8s\\x00` and a `runtime.Unknown` whose `raw` is
the object's message. A real apiserver reads that for every built-in kind; the sandbox reads the
kinds in `proto_types.MESSAGES` with the plain protobuf wire format driven by those field tables.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from .proto_types import ENVELOPE_KINDS, MESSAGES, Field

MAGIC = b"k8s\x00"
UNKNOWN = "runtime.Unknown"


class ProtobufError(ValueError):
    """The body is not a well-formed protobuf message; the text says what is wrong."""


class UnreadableKind(ProtobufError):
    """Well-formed, but a kind or field the sandbox's tables do not describe: JSON works for it."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise ProtobufError("varint longer than 64 bits")


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs: an int for varint/fixed fields, bytes for length-delimited ones."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise ProtobufError(f"field {number} runs past the end of its message")
            value, at = data[at : at + size], at + size
        elif wire == 1:
            value, at = struct.unpack_from("<q", data, at)[0], at + 8
        elif wire == 5:
            value, at = struct.unpack_from("<i", data, at)[0], at + 4
        else:
            raise ProtobufError(f"field {number} has unsupported wire type {wire}")
        yield number, value


def _text(parts: dict[int, int | bytes], number: int) -> str:
    value = parts.get(number, b"")
    return value.decode() if isinstance(value, bytes) else ""


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, value: int | bytes, where: str) -> Any:
    if kind in ("int32", "int64"):
        if not isinstance(value, int):
            raise ProtobufError(f"{where}: expected an integer")
        return _signed(value)
    if kind == "bool":
        return bool(value)
    if not isinstance(value, bytes):
        raise ProtobufError(f"{where}: expected length-delimited data")
    if kind == "string":
        return value.decode()
    if kind == "bytes":
        return base64.b64encode(value).decode()  # JSON carries []byte as base64, as Go's encoder does
    if kind == "time":
        seconds = nanos = 0
        for number, part in fields(value):
            if number == 1 and isinstance(part, int):
                seconds = _signed(part)
            elif number == 2 and isinstance(part, int):
                nanos = _signed(part)
        if not seconds and not nanos:
            return None  # the zero Time is `null` in JSON
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "intstr":
        parts = dict(fields(value))
        if parts.get(1, 0) == 1:
            return _text(parts, 3)
        int_value = parts.get(2, 0)
        return _signed(int_value) if isinstance(int_value, int) else 0
    if kind == "quantity":
        return _text(dict(fields(value)), 1)
    if kind == "raw":
        raw = dict(fields(value)).get(1, b"")
        return json.loads(raw) if isinstance(raw, bytes) and raw else None
    return decode_message(kind, value)


def _map_entry(value_kind: str, entry: bytes, where: str) -> tuple[str, Any]:
    parts = dict(fields(entry))
    key = parts.get(1, b"")
    if not isinstance(key, bytes):
        raise ProtobufError(f"{where}: map key is not a string")
    return key.decode(), _scalar(value_kind, parts.get(2, b""), where)


def decode_message(type_name: str, data: bytes) -> dict[str, Any]:
    table = MESSAGES.get(type_name)
    if table is None:
        raise UnreadableKind(f"the sandbox cannot read the protobuf message {type_name}; send it as JSON")
    out: dict[str, Any] = {}
    for number, value in fields(data):
        spec: Field | None = table.get(number)
        if spec is None:
            raise UnreadableKind(f"the sandbox does not know field {number} of {type_name}; send it as JSON")
        name, kind, shape = spec
        where = f"{type_name}.{name}"
        if shape == "map":
            key, item = _map_entry(kind, value if isinstance(value, bytes) else b"", where)
            out.setdefault(name, {})[key] = item
        elif shape == "inline":
            out.update(decode_message(kind, value if isinstance(value, bytes) else b""))
        elif shape == "list":
            out.setdefault(name, []).append(_scalar(kind, value, where))
        else:
            item = _scalar(kind, value, where)
            # Protobuf writes every non-pointer scalar; JSON leaves the empty ones out.
            if item not in ("", None, 0, False) or (shape == "opt" and item is not None):
                out[name] = item
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """A `k8s\\x00`-framed runtime.Unknown -> the object as JSON (apiVersion, kind and its fields)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("a Kubernetes protobuf body starts with the bytes 'k8s\\x00'")
    envelope = dict(fields(body[len(MAGIC) :]))
    type_meta, raw = envelope.get(1, b""), envelope.get(2, b"")
    encoding = envelope.get(3, b"")
    if not isinstance(type_meta, bytes) or not isinstance(raw, bytes):
        raise ProtobufError(f"malformed {UNKNOWN} envelope")
    if encoding:
        raise UnreadableKind(f"the sandbox reads uncompressed protobuf only, not contentEncoding {encoding!r}")
    meta = dict(fields(type_meta))
    api_version, kind = _text(meta, 1), _text(meta, 2)
    type_name = ENVELOPE_KINDS.get((api_version.rpartition("/")[0], kind))
    if type_name is None:
        raise UnreadableKind(f"the sandbox cannot read {kind or 'an object'} ({api_version}) as protobuf; send JSON")
    return {"apiVersion": api_version, "kind": kind, **decode_message(type_name, raw)}
