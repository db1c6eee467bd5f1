"""The `/openapi/v2` document in gnostic's `openapi.v2.Document` protobuf, the only form kubectl reads.

client-go's discovery asks `/openapi/v2` for `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`
and unmarshals the answer as protobuf whatever its content type. Field numbers are those of
gnostic's OpenAPIv2.proto; vendor extensions travel as YAML text (JSON is YAML).
"""

from __future__ import annotations

import json
from typing import Any

# What the client asks for has an `@`, which Go's mime parser refuses in an answer; the apiserver
# answers with a dot instead.
MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_OPERATIONS = {"get": 2, "put": 3, "post": 4, "delete": 5, "patch": 8}


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _message(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _text(number: int, value: str | None) -> bytes:
    return _message(number, value.encode()) if value else b""


def _flag(number: int, value: bool) -> bytes:
    return _varint(number << 3) + b"\x01" if value else b""


def _extensions(number: int, node: dict[str, Any]) -> bytes:
    """NamedAny {name, value: Any {yaml}} for each `x-` key."""
    return b"".join(
        _message(number, _text(1, key) + _message(2, _text(2, json.dumps(value))))
        for key, value in node.items()
        if key.startswith("x-")
    )


def schema(node: dict[str, Any]) -> bytes:
    out = _text(1, node.get("$ref")) + _text(2, node.get("format")) + _text(4, node.get("description"))
    if "additionalProperties" in node:
        out += _message(21, _message(1, schema(node["additionalProperties"])))
    if "type" in node:
        out += _message(22, _text(1, node["type"]))
    if "items" in node:
        out += _message(23, _message(1, schema(node["items"])))
    for part in node.get("allOf", []):
        out += _message(24, schema(part))
    if "properties" in node:
        named = (_message(1, _text(1, name) + _message(2, schema(prop))) for name, prop in node["properties"].items())
        out += _message(25, b"".join(named))
    return out + _extensions(31, node)


def _parameter(node: dict[str, Any]) -> bytes:
    if node["in"] == "body":
        body = _text(2, node["name"]) + _text(3, "body") + _flag(4, node.get("required", False))
        return _message(1, _message(1, body + _message(5, schema(node["schema"]))))
    query = _text(2, node["in"]) + _text(4, node["name"]) + _text(6, node.get("type")) + _flag(20, True)
    return _message(1, _message(2, _message(3, query)))


def _operation(node: dict[str, Any]) -> bytes:
    out = _text(5, node.get("operationId"))
    out += b"".join(_text(7, media) for media in node.get("consumes", []))
    out += b"".join(_message(8, _parameter(parameter)) for parameter in node.get("parameters", []))
    codes = b""
    for code, response in node.get("responses", {}).items():
        answer = _text(1, response.get("description")) + _message(2, _message(1, schema(response["schema"])))
        codes += _message(1, _text(1, code) + _message(2, _message(1, answer)))
    return out + _message(9, codes) + _extensions(13, node)


def document(doc: dict[str, Any]) -> bytes:
    info = _text(1, doc["info"]["title"]) + _text(2, doc["info"]["version"])
    paths = b""
    for path, item in doc["paths"].items():
        verbs = [(number, item[verb]) for verb, number in _OPERATIONS.items() if verb in item]
        operations = b"".join(_message(number, _operation(operation)) for number, operation in verbs)
        paths += _message(2, _text(1, path) + _message(2, operations))
    definitions = b"".join(
        _message(1, _text(1, name) + _message(2, schema(node))) for name, node in doc["definitions"].items()
    )
    return _text(1, doc["swagger"]) + _message(2, info) + _message(8, paths) + _message(9, definitions)
