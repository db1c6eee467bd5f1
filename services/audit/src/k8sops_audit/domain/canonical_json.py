"""Canonical JSON: the byte form that audit hashes and checkpoint signatures are computed over.

The rules are those of RFC 8785 (JSON Canonicalization Scheme, JCS), so any JCS library can
reproduce our bytes:

- objects: members sorted by key, compared as UTF-16 code units; keys must be strings;
- no insignificant whitespace: separators are exactly ``,`` and ``:``;
- strings: UTF-8, only ``"``, ``\\`` and control characters below U+0020 escaped (``\\b \\t \\n
  \\f \\r`` by their short forms, the others as ``\\u00xx``); everything else as is;
- numbers are IEEE-754 doubles printed as ECMAScript prints them (shortest round-trip digits,
  plain notation from 1e-6 up to 1e21, exponent form outside it, ``-0`` as ``0``). An ``int`` is
  printed exactly while it is within ±2^53 and as its nearest double beyond that, which is what
  any JSON consumer does with it; send identifiers larger than 2^53 as strings;
- ``true``, ``false``, ``null`` as usual; lists and tuples are arrays.

Two restrictions on top of JCS, because the audit store is PostgreSQL: strings may not contain
U+0000 (neither ``text`` nor ``jsonb`` can hold it) and must be valid Unicode (no lone
surrogates). NaN and infinities are refused, as JSON has no form for them.

Canonicalising ``1.0`` and ``1`` to the same ``1`` is deliberate: ``jsonb`` may hand a stored
number back as either, and the hash must not depend on which.
"""

import json
import math
from collections.abc import Mapping
from typing import Any

# The C-accelerated JSON string quoter with ensure_ascii off: it escapes exactly the characters
# JCS escapes, with lowercase hex, so we do not reimplement string escaping.
_quote_string: Any = json.encoder.encode_basestring


def _refuse(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not a JSON value")


# What `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` runs, made
# once: `dumps` builds a new encoder (and its C scanner) on every call, which costs more than
# encoding an entry's small values. No circular-reference check: `_is_plain` walked the value first.
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
# Arguments: markers, default, string quoter, indent, separators, sort_keys, skipkeys, allow_nan.
_PLAIN_ENCODER_ARGUMENTS = (None, _refuse, _quote_string, None, ":", ",", True, False, True)
_plain_encoder: Any = None if _c_make_encoder is None else _c_make_encoder(*_PLAIN_ENCODER_ARGUMENTS)


# `json.dumps(value)`'s arguments (but markers): exact digits for every number, for storage.
_JSON_TEXT_ARGUMENTS = (None, _refuse, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True)
_json_text_encoder: Any = None if _c_make_encoder is None else _c_make_encoder(*_JSON_TEXT_ARGUMENTS)


def json_text(value: object) -> str:
    """What ``json.dumps(value)`` writes, by one encoder made once; for a value canonicalised
    before (so it holds no cycle). Not canonical: it keeps every digit of a large integer."""
    if _json_text_encoder is None:  # an interpreter without the C accelerator
        return json.dumps(value)
    return "".join(_json_text_encoder(value, 0))


def _plain_json(value: object) -> str:
    if _plain_encoder is None:  # an interpreter without the C accelerator
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "".join(_plain_encoder(value, 0))


# Up to 2^53 every integer is a double, and the shortest digits of that double are its own digits.
_EXACT_INTEGER_LIMIT = 2**53


class NotCanonicalisableError(ValueError):
    """A value has no canonical JSON form; the message names where it is and what to send."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.location: list[str] = []  # filled in while the error travels up the value

    def __str__(self) -> str:
        return f"{'$' + ''.join(reversed(self.location))}: {self.problem}"


def canonical_json(value: object) -> str:
    """Return the canonical JSON text of ``value`` (see the module docstring for the rules)."""
    if _is_plain(value):
        # Without floats and with ASCII keys (code-point order is UTF-16 order there), the C
        # encoder writes exactly the JCS bytes, several times faster than the general path.
        return _plain_json(value)
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _is_plain_text(text: str) -> bool:
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")  # lone surrogates cannot be encoded
    except UnicodeEncodeError:
        return False
    return True


def _is_plain(value: object) -> bool:
    """Whether ``json.dumps`` renders ``value`` canonically: no floats, no huge ints, ASCII keys."""
    kind = type(value)
    if kind is str:
        return _is_plain_text(value)  # type: ignore[arg-type]
    if value is None or kind is bool:
        return True
    if kind is int:
        return -_EXACT_INTEGER_LIMIT <= value <= _EXACT_INTEGER_LIMIT  # type: ignore[operator]
    # Plain loops: this check runs for every audit entry, and generator expressions cost more.
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str or not key.isascii() or "\x00" in key or not _is_plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:  # type: ignore[attr-defined]
            if not _is_plain(item):
                return False
        return True
    return False


def canonical_string(text: str) -> str:
    """The canonical JSON of one string: what ``canonical_json`` writes for it inside any value."""
    if type(text) is str and text.isascii() and "\x00" not in text:
        return _quote_string(text)
    return _quote_text(text if type(text) is str else str(text))


def canonical_integer(value: int) -> str:
    """The canonical JSON of one integer: what ``canonical_json`` writes for it inside any value."""
    return _format_integer(value if type(value) is int else int(value))


def canonical_json_bytes(value: object) -> bytes:
    """Return the canonical JSON of ``value`` as the UTF-8 bytes that get hashed or signed."""
    return canonical_json(value).encode("utf-8")


def format_number(value: float) -> str:
    """Print a finite double as ECMAScript's Number.prototype.toString does (RFC 8785 §3.2.2.3).

    Python's ``repr`` already yields the shortest digits that round-trip (the digits ECMAScript
    picks too); only the placement of the decimal point and the exponent notation differ.
    """
    if not math.isfinite(value):
        raise NotCanonicalisableError(f"{value!r} has no JSON form")
    if value == 0:
        return "0"  # also for -0.0
    sign = "-" if value < 0 else ""
    mantissa, _, exponent_text = repr(abs(value)).partition("e")
    integer_digits, _, fraction_digits = mantissa.partition(".")
    digits = (integer_digits + fraction_digits).lstrip("0")
    # value = int(digits) * 10**scale
    scale = (int(exponent_text) if exponent_text else 0) - len(fraction_digits)
    significant = digits.rstrip("0")
    scale += len(digits) - len(significant)
    digit_count = len(significant)
    # ECMAScript's n: the position of the decimal point relative to the first digit.
    point = scale + digit_count
    if digit_count <= point <= 21:
        return sign + significant + "0" * (point - digit_count)
    if 0 < point <= 21:
        return sign + significant[:point] + "." + significant[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + significant
    exponent = point - 1
    exponent_sign = "+" if exponent >= 0 else "-"
    head = significant[0] + ("." + significant[1:] if digit_count > 1 else "")
    return f"{sign}{head}e{exponent_sign}{abs(exponent)}"


# The encoder below runs for every ingested entry, so it avoids per-value allocations: the
# location of a bad value is only assembled when an error is raised.


def _encode(value: object, parts: list[str]) -> None:
    # Exact type checks first: they are the common case and the cheapest test.
    value_type = type(value)
    if value_type is str:
        parts.append(_quote_text(value))  # type: ignore[arg-type]
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif value_type is int:
        parts.append(_format_integer(value))  # type: ignore[arg-type]
    elif value_type is dict or isinstance(value, Mapping):
        _encode_object(value, parts)  # type: ignore[arg-type]
    elif value_type is list or isinstance(value, tuple | list):
        _encode_array(value, parts)  # type: ignore[arg-type]
    elif value_type is float:
        parts.append(_format_float(value))  # type: ignore[arg-type]
    elif isinstance(value, str):  # str subclasses such as StrEnum members
        parts.append(_quote_text(str(value)))
    elif isinstance(value, int):  # int subclasses (bool was handled above)
        parts.append(_format_integer(int(value)))
    elif isinstance(value, float):
        parts.append(_format_float(float(value)))
    else:
        raise NotCanonicalisableError(
            f"{value_type.__name__} is not a JSON value; use a string, number, boolean, null, list or object"
        )


def _encode_object(value: Mapping[Any, Any], parts: list[str]) -> None:
    keys = list(value)
    try:
        all_keys = "".join(keys)
    except TypeError:
        bad_key = next(key for key in keys if not isinstance(key, str))
        raise NotCanonicalisableError(f"object key {bad_key!r} is not a string; JSON object keys are strings") from None
    if all_keys.isascii() and "\x00" not in all_keys:
        # The common case: code point order is UTF-16 order, and ASCII needs no checks.
        keys.sort()
        quote_key = _quote_string
    else:
        # Code point order differs from UTF-16 order for characters above U+FFFF.
        keys.sort(key=_utf16_sort_key)
        quote_key = _quote_text
    parts.append("{")
    separator = ""
    for key in keys:
        try:
            parts.append(separator + quote_key(key) + ":")
            _encode(value[key], parts)
        except NotCanonicalisableError as error:
            error.location.append(f".{key}")
            raise
        separator = ","
    parts.append("}")


def _encode_array(value: list[Any] | tuple[Any, ...], parts: list[str]) -> None:
    parts.append("[")
    separator = ""
    for index, item in enumerate(value):
        parts.append(separator)
        separator = ","
        try:
            _encode(item, parts)
        except NotCanonicalisableError as error:
            error.location.append(f"[{index}]")
            raise
    parts.append("]")


def _quote_text(text: str) -> str:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise NotCanonicalisableError("string is not valid Unicode (it holds a lone surrogate)") from error
    if "\x00" in text:
        raise NotCanonicalisableError("strings may not contain U+0000")
    quoted: str = _quote_string(text)
    return quoted


def _format_integer(value: int) -> str:
    if -_EXACT_INTEGER_LIMIT <= value <= _EXACT_INTEGER_LIMIT:
        return str(value)
    try:
        as_double = float(value)
    except OverflowError as error:
        raise NotCanonicalisableError(
            f"integer {value} is beyond the range of a JSON number; send it as a string"
        ) from error
    return format_number(as_double)


def _format_float(value: float) -> str:
    if not math.isfinite(value):
        raise NotCanonicalisableError(f"{value!r} has no JSON form; send a finite number, null or a string")
    return format_number(value)


def _utf16_sort_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")
