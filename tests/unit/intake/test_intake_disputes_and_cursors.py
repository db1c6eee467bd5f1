"""Dispute entry rules and the opaque list cursor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from k8sops_intake.domain.disputes import EntryRefused, WrongSide, check_entry
from k8sops_intake.domain.pagination import BadCursor, decode_cursor, encode_cursor

EVERYTHING = {"customer_position", "provider_position", "senior_engaged"}


def test_each_side_adds_only_its_own_entries() -> None:
    check_entry("customer_position", frozenset({"customer"}), set(), decided=False)
    check_entry("provider_position", frozenset({"provider"}), set(), decided=False)
    check_entry("nonprod_test", frozenset({"customer"}), set(), decided=False)
    with pytest.raises(WrongSide):
        check_entry("customer_position", frozenset({"provider", "senior"}), set(), decided=False)
    with pytest.raises(WrongSide):
        check_entry("senior_engaged", frozenset({"provider"}), set(), decided=False)
    with pytest.raises(WrongSide):
        check_entry("decision", frozenset({"customer"}), EVERYTHING, decided=False)


def test_the_customer_admin_decides_only_after_both_positions_and_a_senior() -> None:
    for missing in EVERYTHING:
        with pytest.raises(EntryRefused, match=missing):
            check_entry("decision", frozenset({"customer_admin"}), EVERYTHING - {missing}, decided=False)
    check_entry("decision", frozenset({"customer_admin"}), EVERYTHING, decided=False)


def test_a_decided_dispute_takes_no_more_entries() -> None:
    with pytest.raises(EntryRefused, match="new dispute"):
        check_entry("nonprod_test", frozenset({"provider"}), EVERYTHING, decided=True)


@given(
    moment=st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    record_id=st.text(min_size=1, max_size=64).filter(lambda text: "\x00" not in text),
)
def test_a_cursor_returns_the_position_it_was_made_from(moment: datetime, record_id: str) -> None:
    assert decode_cursor(encode_cursor(moment, record_id)) == (moment, record_id)


@pytest.mark.parametrize("cursor", ["", "not-a-cursor", "W10", "WyIyMDI1LTAxLTAxVDAwOjAwOjAwIiwgIngiXQ"])
def test_a_cursor_we_did_not_make_is_refused(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor)
