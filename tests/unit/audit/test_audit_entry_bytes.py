"""The template that writes an entry's canonical bytes writes exactly what the general encoder
writes for the entry's JSON object, so chains hashed before the template still verify."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from k8sops_audit.domain.canonical_json import canonical_json_bytes
from k8sops_audit.domain.chain import GENESIS, ChainedEntry, chain_entries, link_hash, verify_chain
from k8sops_audit.domain.entry import AuditEntry
from k8sops_audit.domain.entry_bytes import canonical_entry_bytes, canonical_entry_document

from .test_audit_chain import entries


def hashed_by_the_general_encoder(batch: list[AuditEntry]) -> list[ChainedEntry]:
    """The chain as the code before the template wrote it: the object built, then encoded."""
    chained, previous = [], GENESIS.link_hash
    for entry in batch:
        content = hashlib.sha256(canonical_json_bytes(canonical_entry_document(entry))).hexdigest()
        previous = link_hash(previous, content)
        chained.append(ChainedEntry(entry, content, previous))
    return chained


@given(entries, st.integers(min_value=-12 * 60, max_value=14 * 60))
def test_any_entry_in_any_zone_gets_the_bytes_of_the_general_encoder(entry: AuditEntry, offset_minutes: int) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))
    in_zone = replace(
        entry, occurred_at=entry.occurred_at.astimezone(zone), recorded_at=entry.recorded_at.astimezone(zone)
    )
    for candidate in (entry, in_zone):
        assert canonical_entry_bytes(candidate) == canonical_json_bytes(canonical_entry_document(candidate))


@given(st.lists(entries, min_size=1, max_size=8))
def test_a_chain_written_by_the_general_encoder_verifies_and_is_rebuilt_hash_for_hash(
    batch: list[AuditEntry],
) -> None:
    numbered = [replace(entry, sequence=number) for number, entry in enumerate(batch, start=1)]
    written_before = hashed_by_the_general_encoder(numbered)
    result = verify_chain(written_before)
    assert result.ok and result.entries_verified == len(numbered)
    assert chain_entries(GENESIS, numbered) == written_before
