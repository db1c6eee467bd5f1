"""Canonical JSON (RFC 8785 rules): published test vectors, stability and refusals."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from k8sops_audit.domain.canonical_json import (
    NotCanonicalisableError,
    _encode,
    canonical_json,
    canonical_json_bytes,
    format_number,
)

# RFC 8785 Appendix B: IEEE-754 bit patterns and the text JCS prints for them.
RFC_8785_NUMBER_SAMPLES = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]

# Text PostgreSQL can store: no U+0000, no lone surrogates.
json_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
# Any JSON value Python's json module reads back as itself: the shape details take.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text
)
# Keys limited to the BMP, where code point order is UTF-16 order.
bmp_text = st.text(st.characters(codec="utf-8", max_codepoint=0xFFFF, exclude_characters="\x00"))
json_values_without_floats = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53) | bmp_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(bmp_text, children, max_size=4),
    max_leaves=20,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize(("bits", "expected"), RFC_8785_NUMBER_SAMPLES)
def test_numbers_print_as_rfc_8785_appendix_b(bits: str, expected: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert format_number(value) == expected
    assert canonical_json(value) == expected


def test_rfc_8785_sample_object_canonicalises_to_the_published_bytes() -> None:
    # The sample of RFC 8785 §3.2.3 (also in the reference implementation's README).
    sample = json.loads(
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        '"literals": [null, true, false]}'
    )
    assert canonical_json(sample) == (
        '{"literals":[null,true,false],'
        '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )


def test_object_keys_sort_by_utf_16_code_units_not_code_points() -> None:
    # RFC 8785 §3.2.3 sorting sample: U+1F600 (surrogates D83D DE00) sorts before U+FB33.
    members = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys_in_output = list(json.loads(canonical_json(members)))
    assert keys_in_output == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_output_has_no_whitespace_and_is_utf_8_without_escaping_non_ascii() -> None:
    assert canonical_json_bytes({"b": [1, "ক্লাস্টার"], "a": {"y": None, "x": True}}) == (
        '{"a":{"x":true,"y":null},"b":[1,"ক্লাস্টার"]}'.encode()
    )


def test_integral_floats_and_integers_canonicalise_alike() -> None:
    # jsonb may return a stored 1.0 as 1 (and 1e20 as an int); the hash must not care.
    assert canonical_json({"n": 1.0, "m": 1e20}) == canonical_json({"n": 1, "m": 10**20})


def test_integers_beyond_2_pow_53_print_as_their_double() -> None:
    assert canonical_json(2**68) == "295147905179352830000"
    assert canonical_json(10**21) == "1e+21"


@pytest.mark.parametrize(
    ("value", "location", "hint"),
    [
        ({"ratio": math.nan}, "$.ratio", "no JSON form"),
        ({"limit": [1, math.inf]}, "$.limit[1]", "no JSON form"),
        ({"ids": {1: "x"}}, "$.ids", "is not a string"),
        ({"note": "a\x00b"}, "$.note", "U+0000"),
        ({"note": "\ud800"}, "$.note", "lone surrogate"),
        ({"tags": {"a", "b"}}, "$.tags", "use a string, number"),
        ({"huge": 10**400}, "$.huge", "send it as a string"),
    ],
)
def test_values_without_a_canonical_form_are_refused_with_their_location(
    value: dict[str, Any], location: str, hint: str
) -> None:
    with pytest.raises(NotCanonicalisableError) as raised:
        canonical_json(value)
    assert str(raised.value).startswith(f"{location}: ")
    assert hint in str(raised.value)


@given(json_values)
def test_canonical_form_survives_a_json_round_trip(value: Any) -> None:
    # What a database hands back must canonicalise to the bytes that were hashed on ingest.
    text = canonical_json(value)
    assert canonical_json(json.loads(text)) == text


@given(st.dictionaries(json_text, json_values, max_size=8))
def test_member_order_does_not_change_the_canonical_form(members: dict[str, Any]) -> None:
    reversed_members = dict(reversed(list(members.items())))
    assert canonical_json(reversed_members) == canonical_json(members)


@given(json_values_without_floats)
def test_without_floats_the_form_equals_sorted_compact_json_dumps(value: Any) -> None:
    # For the common case the format is plain json.dumps with sorted keys, so any tool can
    # reproduce it; only floats (ECMAScript printing) and keys above U+FFFF (UTF-16 order) differ.
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(value) == expected


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_prints_digits_that_read_back_as_the_same_double(
    value: float,
) -> None:
    assert float(format_number(value)) == value


_plain_keys = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=127), max_size=8)
_plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_plain_keys, children, max_size=4),
    max_leaves=20,
)


@given(_plain_values)
def test_the_fast_path_writes_exactly_what_the_general_encoder_writes(value: object) -> None:
    parts: list[str] = []
    _encode(value, parts)
    assert canonical_json(value) == "".join(parts)
