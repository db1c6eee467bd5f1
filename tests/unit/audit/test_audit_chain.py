"""The audit hash chain: canonical form, hashing, and verification naming the first bad entry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8sops_audit.domain.chain import (
    GENESIS,
    GENESIS_LINK_HASH,
    ChainContinuityError,
    ChainedEntry,
    ChainHead,
    ChainVerifier,
    MismatchKind,
    UnreadableEntry,
    canonical_entry_bytes,
    chain_entries,
    content_hash,
    link_hash,
    verify_chain,
)
from k8sops_audit.domain.entry import Actor, AuditEntry, Outcome, Target

EntryFactory = Callable[..., AuditEntry]
ChainBuilder = Callable[[int], list[ChainedEntry]]

DHAKA = timezone(timedelta(hours=6))
CHAIN_LENGTH = 60

# A fixed entry with every kind of value: its bytes and hash are pinned below, so any change
# to the canonical format (which would orphan every stored chain) fails loudly.
GOLDEN_ENTRY = AuditEntry(
    sequence=42,
    event_id="0b7f0e52-3c1d-4a8e-9f60-5d2c1b0a9e87",
    occurred_at=datetime(2026, 3, 1, 14, 15, 0, 123456, tzinfo=DHAKA),
    recorded_at=datetime(2026, 3, 1, 8, 15, 0, 200000, tzinfo=UTC),
    source_service="upgrade-runner",
    actor=Actor(sub="operator-7", roles=("k8s-ops.senior", "k8s-ops.operator")),
    action="namespace.delete",
    target=Target(kind="Namespace", name="legacy-batch", cluster="prod-dhaka-1"),
    engagement_id="eng-acme-bd",
    outcome=Outcome.SUCCESS,
    authorization_ref="authz-9c41",
    trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    details={"reason": "ক্লাস্টার পরিষ্কার", "pvcs": ["data-0", "data-1"], "cpu": 1.5, "dry_run": False},
)
GOLDEN_BYTES = (
    '{"action":"namespace.delete",'
    '"actor":{"roles":["k8s-ops.operator","k8s-ops.senior"],"sub":"operator-7"},'
    '"authorization_ref":"authz-9c41",'
    '"details":{"cpu":1.5,"dry_run":false,"pvcs":["data-0","data-1"],'
    '"reason":"ক্লাস্টার পরিষ্কার"},'
    '"engagement_id":"eng-acme-bd",'
    '"event_id":"0b7f0e52-3c1d-4a8e-9f60-5d2c1b0a9e87",'
    '"occurred_at":"2026-03-01T08:15:00.123456Z",'
    '"outcome":"success",'
    '"recorded_at":"2026-03-01T08:15:00.200000Z",'
    '"sequence":42,'
    '"source_service":"upgrade-runner",'
    '"target":{"cluster":"prod-dhaka-1","kind":"Namespace","name":"legacy-batch","namespace":null},'
    '"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",'
    '"v":1}'
).encode()
GOLDEN_CONTENT_HASH = "95eae765536fda51b94095e95a6243b8ad232e70724ad601e399a41ba6146c32"


@pytest.fixture(scope="module")
def chain(build_chain: ChainBuilder) -> list[ChainedEntry]:
    return build_chain(CHAIN_LENGTH)


def stored_as(row: ChainedEntry, entry: AuditEntry) -> ChainedEntry:
    """The row after someone edited its content in the database, hashes left as they were."""
    return ChainedEntry(entry, row.content_hash, row.link_hash)


def head_before(chain: list[ChainedEntry], index: int) -> ChainHead:
    return chain[index - 1].head if index else GENESIS


# --- canonical form -----------------------------------------------------------------------


def test_canonical_bytes_of_an_entry_are_pinned() -> None:
    assert canonical_entry_bytes(GOLDEN_ENTRY) == GOLDEN_BYTES
    assert content_hash(GOLDEN_ENTRY) == hashlib.sha256(GOLDEN_BYTES).hexdigest()
    assert content_hash(GOLDEN_ENTRY) == GOLDEN_CONTENT_HASH


def test_equal_content_hashes_equally_whatever_the_key_order_timezone_or_role_order() -> None:
    same_content = replace(
        GOLDEN_ENTRY,
        occurred_at=GOLDEN_ENTRY.occurred_at.astimezone(UTC),
        recorded_at=GOLDEN_ENTRY.recorded_at.astimezone(DHAKA),
        actor=Actor(sub="operator-7", roles=("k8s-ops.operator", "k8s-ops.senior")),
        details=dict(reversed(list(GOLDEN_ENTRY.details.items()))),
    )
    assert canonical_entry_bytes(same_content) == GOLDEN_BYTES


def test_details_read_back_from_json_storage_hash_as_on_ingest() -> None:
    stored_details = json.loads(json.dumps(GOLDEN_ENTRY.details))
    assert content_hash(replace(GOLDEN_ENTRY, details=stored_details)) == content_hash(GOLDEN_ENTRY)


json_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
names = json_text.filter(str.strip)
details_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(json_text, children, max_size=3),
    max_leaves=12,
)
aware_datetimes = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
trace_ids = st.text("0123456789abcdef", min_size=32, max_size=32)
entries = st.builds(
    AuditEntry,
    sequence=st.integers(min_value=1, max_value=2**40),
    event_id=st.uuids().map(str),
    occurred_at=aware_datetimes,
    recorded_at=aware_datetimes,
    source_service=names,
    actor=st.builds(Actor, sub=names, roles=st.lists(names, max_size=3).map(tuple)),
    action=names,
    target=st.builds(Target, kind=names, name=names, namespace=st.none() | names, cluster=st.none() | names),
    engagement_id=st.none() | names,
    outcome=st.sampled_from(Outcome),
    authorization_ref=st.none() | names,
    trace_id=st.none() | trace_ids,
    details=st.dictionaries(json_text, details_values, max_size=5),
)


@given(entries, st.integers(min_value=-12 * 60, max_value=14 * 60))
def test_any_entry_hashes_the_same_after_a_storage_round_trip(entry: AuditEntry, offset_minutes: int) -> None:
    # As a database returns it: times in another zone, details re-parsed from JSON text.
    zone = timezone(timedelta(minutes=offset_minutes))
    read_back = replace(
        entry,
        occurred_at=entry.occurred_at.astimezone(zone),
        recorded_at=entry.recorded_at.astimezone(zone),
        details=json.loads(json.dumps(dict(entry.details))),
    )
    assert content_hash(read_back) == content_hash(entry)


# --- hashing and appending ----------------------------------------------------------------


def test_link_hash_is_sha256_over_the_raw_previous_link_and_content_digests() -> None:
    previous, content = hashlib.sha256(b"a").hexdigest(), hashlib.sha256(b"b").hexdigest()
    expected = hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(content)).hexdigest()
    assert link_hash(previous, content) == expected
    assert link_hash(GENESIS_LINK_HASH, "0" * 64) == hashlib.sha256(bytes(64)).hexdigest()


@pytest.mark.parametrize("malformed", ["F" * 64, "0" * 63, "g" * 64, "ab" * 31 + " a"])
def test_link_hash_refuses_anything_but_64_lowercase_hex_digits(malformed: str) -> None:
    with pytest.raises(ValueError, match="64 lowercase hex"):
        link_hash(malformed, "0" * 64)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        link_hash("0" * 64, malformed)


def test_first_entry_links_to_the_genesis_hash_of_64_zeros(chain: list[ChainedEntry]) -> None:
    first = chain[0]
    assert GENESIS == ChainHead(0, "0" * 64)
    assert first.content_hash == content_hash(first.entry)
    assert first.link_hash == link_hash("0" * 64, first.content_hash)


def test_batches_appended_one_after_another_equal_one_batch(
    make_entry: EntryFactory, chain: list[ChainedEntry]
) -> None:
    first_batch = chain_entries(GENESIS, [make_entry(sequence) for sequence in range(1, 26)])
    second_batch = chain_entries(
        first_batch[-1].head, [make_entry(sequence) for sequence in range(26, CHAIN_LENGTH + 1)]
    )
    assert first_batch + second_batch == chain


@pytest.mark.parametrize("first_sequence", [1, 3, 12])
def test_a_batch_that_does_not_continue_the_head_is_refused(
    make_entry: EntryFactory, chain: list[ChainedEntry], first_sequence: int
) -> None:
    head_at_ten = chain[9].head
    with pytest.raises(ChainContinuityError, match="expected 11"):
        chain_entries(head_at_ten, [make_entry(first_sequence)])
    with pytest.raises(ChainContinuityError, match=f"has sequence {first_sequence + 2}"):
        chain_entries(head_at_ten, [make_entry(11), make_entry(first_sequence + 2)])


# --- verification -------------------------------------------------------------------------


def test_a_long_untouched_chain_verifies(build_chain: ChainBuilder) -> None:
    long_chain = build_chain(2_000)
    result = verify_chain(long_chain)
    assert result.ok
    assert result.entries_verified == 2_000
    assert result.head == long_chain[-1].head
    assert result.started_after == GENESIS


def test_an_empty_chain_verifies_to_genesis() -> None:
    result = verify_chain([])
    assert result.ok and result.entries_verified == 0 and result.head == GENESIS


def test_a_range_verifies_from_the_head_before_it(chain: list[ChainedEntry]) -> None:
    result = verify_chain(chain[20:40], chain[19].head)
    assert result.ok
    assert result.entries_verified == 20
    assert result.head == chain[39].head


def test_verifying_page_by_page_equals_one_walk(chain: list[ChainedEntry]) -> None:
    index = 33
    tampered = list(chain)
    tampered[index] = stored_as(chain[index], replace(chain[index].entry, action="secret.read"))
    verifier = ChainVerifier(GENESIS)
    pages = [tampered[start : start + 7] for start in range(0, len(tampered), 7)]
    still_intact = [verifier.feed(page) for page in pages]
    assert still_intact[: index // 7] == [True] * (index // 7)
    assert not any(still_intact[index // 7 :])
    assert verifier.result() == verify_chain(tampered)


# Values a superuser could write into each field of a stored entry.
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "sequence": st.integers(1, 10**6),
    "event_id": st.uuids().map(str),
    "occurred_at": aware_datetimes,
    "recorded_at": aware_datetimes,
    "source_service": names,
    "actor.sub": names,
    "actor.roles": st.lists(names, max_size=3).map(tuple),
    "action": names,
    "target.kind": names,
    "target.name": names,
    "target.namespace": st.none() | names,
    "target.cluster": st.none() | names,
    "engagement_id": st.none() | names,
    "outcome": st.sampled_from(Outcome),
    "authorization_ref": st.none() | names,
    "trace_id": st.none() | trace_ids,
    "details": st.dictionaries(json_text, details_values, max_size=4),
}


def with_field(entry: AuditEntry, field: str, value: Any) -> AuditEntry:
    part, _, name = field.partition(".")
    if part == "actor":
        return replace(entry, actor=replace(entry.actor, **{name: value}))
    if part == "target":
        return replace(entry, target=replace(entry.target, **{name: value}))
    return replace(entry, **{field: value})


def edit_field(entry: AuditEntry, field: str, data: st.DataObject) -> AuditEntry:
    """``entry`` with ``field`` set to a drawn value that really differs from the current one."""
    edits = FIELD_VALUES[field].map(lambda value: with_field(entry, field, value))
    edited: AuditEntry = data.draw(edits.filter(lambda candidate: candidate != entry), label="edit")
    return edited


@settings(max_examples=300)
@given(data=st.data())
def test_editing_any_field_of_any_stored_entry_is_named_at_exactly_that_entry(
    chain: list[ChainedEntry], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(chain) - 1), label="index")
    field = data.draw(st.sampled_from(sorted(FIELD_VALUES)), label="field")
    original = chain[index]
    edited = edit_field(original.entry, field, data)
    stored = list(chain)
    stored[index] = stored_as(original, edited)

    result = verify_chain(stored)

    mismatch = result.first_mismatch
    assert mismatch is not None
    assert mismatch.event_id == edited.event_id
    assert result.entries_verified == index
    assert result.head == head_before(chain, index)
    if field == "sequence":
        assert mismatch.kind is MismatchKind.SEQUENCE
        assert (mismatch.sequence, mismatch.expected) == (edited.sequence, str(original.sequence))
    else:
        assert mismatch.kind is MismatchKind.CONTENT
        assert mismatch.sequence == original.sequence
        assert (mismatch.expected, mismatch.found) == (content_hash(edited), original.content_hash)


@pytest.mark.parametrize(
    "smallest_edit",
    [
        lambda e: replace(e, occurred_at=e.occurred_at + timedelta(microseconds=1)),
        lambda e: replace(e, action=e.action + " "),
        lambda e: replace(e, actor=replace(e.actor, roles=(*e.actor.roles, "k8s-ops.senior"))),
        lambda e: replace(e, details={**e.details, "replicas": {"from": 3, "to": 4}}),
        lambda e: replace(e, details={**e.details, "note": None}),
        lambda e: replace(e, target=replace(e.target, namespace=None)),
    ],
    ids=["one-microsecond", "trailing-space", "extra-role", "nested-number", "added-null", "null"],
)
def test_the_smallest_edits_are_detected(
    chain: list[ChainedEntry], smallest_edit: Callable[[AuditEntry], AuditEntry]
) -> None:
    stored = list(chain)
    stored[30] = stored_as(chain[30], smallest_edit(chain[30].entry))
    mismatch = verify_chain(stored).first_mismatch
    assert mismatch is not None
    assert (mismatch.kind, mismatch.sequence) == (MismatchKind.CONTENT, 31)


@given(data=st.data())
def test_an_edit_with_a_recomputed_content_hash_breaks_the_link_at_that_entry(
    chain: list[ChainedEntry], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(chain) - 1), label="index")
    field = data.draw(st.sampled_from(sorted(set(FIELD_VALUES) - {"sequence"})), label="field")
    original = chain[index]
    edited = edit_field(original.entry, field, data)
    stored = list(chain)
    stored[index] = ChainedEntry(edited, content_hash(edited), original.link_hash)

    mismatch = verify_chain(stored).first_mismatch

    assert mismatch is not None
    assert (mismatch.kind, mismatch.sequence) == (MismatchKind.LINK, original.sequence)
    assert mismatch.found == original.link_hash
    assert mismatch.expected == link_hash(head_before(chain, index).link_hash, content_hash(edited))


@pytest.mark.parametrize("index", [0, 1, 30, CHAIN_LENGTH - 2])
def test_a_removed_entry_is_named_at_the_entry_after_the_gap(chain: list[ChainedEntry], index: int) -> None:
    stored = chain[:index] + chain[index + 1 :]
    result = verify_chain(stored)
    mismatch = result.first_mismatch
    assert mismatch is not None
    assert mismatch.kind is MismatchKind.SEQUENCE
    assert (mismatch.sequence, mismatch.event_id) == (index + 2, chain[index + 1].event_id)
    assert (mismatch.expected, mismatch.found) == (str(index + 1), str(index + 2))
    assert result.entries_verified == index


@pytest.mark.parametrize("index", [0, 17, CHAIN_LENGTH - 2])
def test_two_swapped_entries_are_named_at_the_first_of_them(chain: list[ChainedEntry], index: int) -> None:
    stored = list(chain)
    stored[index], stored[index + 1] = stored[index + 1], stored[index]
    mismatch = verify_chain(stored).first_mismatch
    assert mismatch is not None
    assert (mismatch.kind, mismatch.sequence) == (MismatchKind.SEQUENCE, index + 2)


def test_swapped_entries_renumbered_with_recomputed_content_hashes_break_the_link(
    chain: list[ChainedEntry],
) -> None:
    index = 17
    first, second = chain[index].entry, chain[index + 1].entry
    moved_up = replace(second, sequence=first.sequence)
    moved_down = replace(first, sequence=second.sequence)
    stored = list(chain)
    stored[index] = ChainedEntry(moved_up, content_hash(moved_up), chain[index].link_hash)
    stored[index + 1] = ChainedEntry(moved_down, content_hash(moved_down), chain[index + 1].link_hash)
    mismatch = verify_chain(stored).first_mismatch
    assert mismatch is not None
    assert (mismatch.kind, mismatch.sequence, mismatch.event_id) == (
        MismatchKind.LINK,
        index + 1,
        second.event_id,
    )


def test_a_duplicated_entry_is_named(chain: list[ChainedEntry]) -> None:
    stored = [*chain[:10], chain[9], *chain[10:]]
    mismatch = verify_chain(stored).first_mismatch
    assert mismatch is not None
    assert (mismatch.kind, mismatch.sequence, mismatch.expected) == (
        MismatchKind.SEQUENCE,
        10,
        "11",
    )


def test_an_edited_stored_content_hash_is_a_content_mismatch(chain: list[ChainedEntry]) -> None:
    stored = list(chain)
    stored[5] = ChainedEntry(chain[5].entry, "f" * 64, chain[5].link_hash)
    mismatch = verify_chain(stored).first_mismatch
    assert mismatch is not None
    assert (mismatch.kind, mismatch.sequence) == (MismatchKind.CONTENT, 6)
    assert (mismatch.expected, mismatch.found) == (chain[5].content_hash, "f" * 64)


@pytest.mark.parametrize("edited_link", ["e" * 64, "A" * 64, ""])
def test_an_edited_stored_link_hash_is_a_link_mismatch(chain: list[ChainedEntry], edited_link: str) -> None:
    stored = list(chain)
    stored[5] = ChainedEntry(chain[5].entry, chain[5].content_hash, edited_link)
    mismatch = verify_chain(stored).first_mismatch
    assert mismatch is not None
    assert (mismatch.kind, mismatch.sequence) == (MismatchKind.LINK, 6)
    assert (mismatch.expected, mismatch.found) == (chain[5].link_hash, edited_link)


def test_a_row_that_is_no_longer_a_valid_entry_is_named(chain: list[ChainedEntry]) -> None:
    stored: list[ChainedEntry | UnreadableEntry] = list(chain)
    stored[8] = UnreadableEntry(
        sequence=9,
        event_id=chain[8].event_id,
        content_hash=chain[8].content_hash,
        link_hash=chain[8].link_hash,
        reason="outcome must be one of success, denied, failure, got 'ok'",
    )
    result = verify_chain(stored)
    assert result.first_mismatch is not None
    assert result.first_mismatch.kind is MismatchKind.UNREADABLE
    assert result.first_mismatch.describe() == (
        f"entry 9 (event {chain[8].event_id}): stored row is not a valid entry: "
        "outcome must be one of success, denied, failure, got 'ok'"
    )
    assert result.entries_verified == 8


def test_details_edited_into_something_that_is_not_json_are_named(
    chain: list[ChainedEntry],
) -> None:
    stored = list(chain)
    stored[3] = stored_as(chain[3], replace(chain[3].entry, details={"replicas": float("nan")}))
    mismatch = verify_chain(stored).first_mismatch
    assert mismatch is not None
    assert (mismatch.kind, mismatch.sequence) == (MismatchKind.UNREADABLE, 4)
    assert mismatch.found.startswith("$.details.replicas: ")


def test_a_consistently_rewritten_tail_passes_alone_but_not_against_a_vouched_head(
    chain: list[ChainedEntry],
) -> None:
    # Whoever can recompute every hash can rewrite history; a head vouched for earlier cannot
    # be matched. This is what signed checkpoints are for.
    vouched = chain[49].head
    rewritten = chain[:20] + chain_entries(
        chain[19].head,
        [replace(row.entry, outcome=Outcome.DENIED) for row in chain[20:]],
    )
    assert verify_chain(rewritten).ok

    result = verify_chain(rewritten, expected_heads=[vouched])
    mismatch = result.first_mismatch
    assert mismatch is not None
    assert (mismatch.kind, mismatch.sequence) == (MismatchKind.HEAD, 50)
    assert (mismatch.expected, mismatch.found) == (vouched.link_hash, rewritten[49].link_hash)
    assert result.entries_verified == 49


def test_a_truncated_chain_is_named_against_a_vouched_head(chain: list[ChainedEntry]) -> None:
    vouched = chain[-1].head
    result = verify_chain(chain[:-3], expected_heads=[vouched])
    mismatch = result.first_mismatch
    assert mismatch is not None
    assert (mismatch.kind, mismatch.sequence, mismatch.event_id) == (
        MismatchKind.HEAD,
        CHAIN_LENGTH,
        None,
    )
    assert mismatch.found == f"no entry (the chain ends at {CHAIN_LENGTH - 3})"
    assert result.entries_verified == CHAIN_LENGTH - 3


def test_a_vouched_head_before_the_starting_point_is_refused(chain: list[ChainedEntry]) -> None:
    with pytest.raises(ValueError, match="not after the starting point"):
        ChainVerifier(chain[10].head, expected_heads=[chain[10].head])


def test_a_mismatch_describes_itself_for_a_person(chain: list[ChainedEntry]) -> None:
    stored = list(chain)
    stored[2] = stored_as(chain[2], replace(chain[2].entry, action="secret.read"))
    mismatch = verify_chain(stored).first_mismatch
    assert mismatch is not None
    assert mismatch.describe() == (
        f"entry 3 (event {chain[2].event_id}): content hash mismatch: "
        f"expected {content_hash(stored[2].entry)}, found {chain[2].content_hash}"
    )
