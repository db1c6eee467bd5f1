"""The hash chain that makes the audit log tamper-evident, and its verification.

Canonical form of an entry (format version 1)
---------------------------------------------
An entry's content is the JSON object below, serialised by the RFC 8785 (JCS) rules implemented
in ``canonical_json.py`` (keys sorted, no whitespace, UTF-8, ECMAScript numbers). Every key is
always present, ``null`` when a value is absent, so "absent" has exactly one spelling::

    {"action": str,
     "actor": {"roles": [str, ... sorted, unique], "sub": str},
     "authorization_ref": str | null,
     "details": {...JSON object...},
     "engagement_id": str | null,
     "event_id": str,
     "occurred_at": "<timestamp>",
     "outcome": "success" | "denied" | "failure",
     "recorded_at": "<timestamp>",
     "sequence": int,
     "source_service": str,
     "target": {"cluster": str | null, "kind": str, "name": str, "namespace": str | null},
     "trace_id": "<32 lowercase hex>" | null,
     "v": 1}

A timestamp is RFC 3339 in UTC with exactly six fractional digits and ``Z``, e.g.
``2025-03-01T08:15:00.000000Z`` (PostgreSQL ``timestamptz`` keeps microseconds, so a stored
entry reproduces its bytes). ``v`` is the format version: a future format gets a new number.

Hashes
------
- content hash = SHA-256 of the canonical bytes, as 64 lowercase hex digits;
- link hash = SHA-256 of the 32 raw bytes of the previous link hash followed by the 32 raw bytes
  of this entry's content hash, as hex. The link before the first entry is 64 zeros.

Because each link covers the previous one, changing, removing or reordering any stored entry
breaks verification at that entry. Rewriting the chain from some entry onwards with recomputed
hashes, or dropping its newest entries, is caught by comparing with signed checkpoints
(``checkpoint.py``), which is why verification accepts the heads those checkpoints vouch for.
"""

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from k8sops_audit.domain.entry import AuditEntry
from k8sops_audit.domain.entry_bytes import canonical_entry_bytes

GENESIS_LINK_HASH = "0" * 64

_HASH_PATTERN = re.compile(r"[0-9a-f]{64}")


def require_hash(name: str, value: object) -> None:
    """Refuse anything but 64 lowercase hex digits, so one hash has exactly one spelling."""
    if not isinstance(value, str) or not _HASH_PATTERN.fullmatch(value):
        raise ValueError(f"{name} must be 64 lowercase hex digits (SHA-256), got {value!r}")


class ChainContinuityError(ValueError):
    """A batch to append does not continue the chain head it is appended to."""


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last entry of a chain (or of a verified prefix): its sequence and link hash."""

    sequence: int
    link_hash: str

    def __post_init__(self) -> None:
        if self.sequence < 0:
            raise ValueError(f"a chain head sequence is 0 or more, got {self.sequence}")
        require_hash("link_hash", self.link_hash)


GENESIS = ChainHead(sequence=0, link_hash=GENESIS_LINK_HASH)


@dataclass(frozen=True, slots=True)
class ChainedEntry:
    """An entry with the hashes stored beside it: computed on append, read back to verify."""

    entry: AuditEntry
    content_hash: str
    link_hash: str

    @property
    def sequence(self) -> int:
        return self.entry.sequence

    @property
    def event_id(self) -> str:
        return self.entry.event_id

    @property
    def head(self) -> ChainHead:
        return ChainHead(self.entry.sequence, self.link_hash)


@dataclass(frozen=True, slots=True)
class UnreadableEntry:
    """A stored row that no longer forms a valid entry (e.g. an outcome edited to nonsense).

    The repository passes it instead of failing, so verification names the entry.
    """

    sequence: int
    event_id: str | None
    content_hash: str
    link_hash: str
    reason: str


StoredEntry = ChainedEntry | UnreadableEntry


def content_hash(entry: AuditEntry) -> str:
    """SHA-256 (hex) of the entry's canonical bytes."""
    return hashlib.sha256(canonical_entry_bytes(entry)).hexdigest()


def link_hash(previous_link_hash: str, entry_content_hash: str) -> str:
    """SHA-256 (hex) over the previous link's 32 bytes followed by the content hash's 32 bytes."""
    require_hash("previous_link_hash", previous_link_hash)
    require_hash("content_hash", entry_content_hash)
    return _link_hash_unchecked(previous_link_hash, entry_content_hash)


def _link_hash_unchecked(previous_link_hash: str, entry_content_hash: str) -> str:
    # For hashes this module computed or already validated: skips the format checks per entry.
    return hashlib.sha256(bytes.fromhex(previous_link_hash) + bytes.fromhex(entry_content_hash)).hexdigest()


def chain_entries(previous: ChainHead, entries: Iterable[AuditEntry]) -> list[ChainedEntry]:
    """Hash a batch of new entries onto the chain whose current head is ``previous``.

    The entries must carry the consecutive sequence numbers that follow ``previous``; the
    caller assigns them (after dropping redelivered event ids) under the chain's lock.
    """
    chained: list[ChainedEntry] = []
    head_sequence, head_link = previous.sequence, bytes.fromhex(previous.link_hash)
    sha256 = hashlib.sha256
    for entry in entries:
        if entry.sequence != head_sequence + 1:
            raise ChainContinuityError(
                f"entry {entry.event_id} has sequence {entry.sequence}, "
                f"but the chain head is at {head_sequence}; expected {head_sequence + 1}"
            )
        # The raw digests are chained directly; hex is only their stored spelling.
        content = sha256(canonical_entry_bytes(entry)).digest()
        head_link = sha256(head_link + content).digest()
        head_sequence = entry.sequence
        chained.append(ChainedEntry(entry, content.hex(), head_link.hex()))
    return chained


class MismatchKind(StrEnum):
    SEQUENCE = "sequence"  # a gap, a duplicate or an entry out of order
    UNREADABLE = "unreadable"  # the stored row is not a valid entry any more
    CONTENT = "content"  # the entry's content does not match its stored content hash
    LINK = "link"  # the stored link hash does not follow from the previous link and content
    HEAD = "head"  # the chain disagrees with a head vouched for by a checkpoint


@dataclass(frozen=True, slots=True)
class ChainMismatch:
    """The first place where the stored chain is not what it should be.

    ``sequence`` and ``event_id`` name the stored entry where it happens (for entries missing
    at the end: the sequence a checkpoint vouched for, and no event). ``expected`` is what
    verification computed (or a checkpoint vouched for), ``found`` what is stored: hashes for
    content, link and head mismatches, sequence numbers for a sequence mismatch, and the reason
    for an unreadable entry.
    """

    kind: MismatchKind
    sequence: int
    event_id: str | None
    expected: str
    found: str

    def describe(self) -> str:
        subject = f"entry {self.sequence}" + (f" (event {self.event_id})" if self.event_id else "")
        if self.kind is MismatchKind.SEQUENCE:
            return f"{subject}: out of sequence: expected {self.expected}, found {self.found}"
        if self.kind is MismatchKind.UNREADABLE:
            return f"{subject}: stored row is not a valid entry: {self.found}"
        return f"{subject}: {self.kind.value} hash mismatch: expected {self.expected}, found {self.found}"


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """Outcome of re-walking (part of) the chain.

    ``entries_verified`` counts the entries that matched, ``head`` is the last of them (or the
    starting point when none did): on success the head of the verified range.
    """

    started_after: ChainHead
    entries_verified: int
    head: ChainHead
    first_mismatch: ChainMismatch | None

    @property
    def ok(self) -> bool:
        return self.first_mismatch is None


class ChainVerifier:
    """Re-walks stored entries in sequence order and stops at the first mismatch.

    Feed it pages of rows as they are read (``feed`` may be called many times), then take
    ``result()``. ``expected_heads`` are heads that trusted checkpoints vouch for; each must lie
    after ``previous`` and within the rows fed, so a rewritten or truncated chain is named.
    """

    def __init__(self, previous: ChainHead = GENESIS, expected_heads: Iterable[ChainHead] = ()) -> None:
        self._started_after = previous
        # The head is kept as two plain values: building a validated ChainHead per row is waste.
        self._head_sequence = previous.sequence
        self._head_link_hash = previous.link_hash
        self._entries_verified = 0
        self._first_mismatch: ChainMismatch | None = None
        self._expected_link_at: dict[int, str] = {}
        for expected in expected_heads:
            if expected.sequence <= previous.sequence:
                raise ValueError(
                    f"expected head at {expected.sequence} is not after the starting point {previous.sequence}"
                )
            self._expected_link_at[expected.sequence] = expected.link_hash

    def feed(self, rows: Iterable[StoredEntry]) -> bool:
        """Verify the next rows; return whether the chain is still intact."""
        for row in rows:
            if self._first_mismatch is not None:
                break
            self._first_mismatch = self._check(row)
            if self._first_mismatch is None:
                self._entries_verified += 1
                self._head_sequence = row.sequence
                self._head_link_hash = row.link_hash
        return self._first_mismatch is None

    def result(self) -> VerificationResult:
        return VerificationResult(
            started_after=self._started_after,
            entries_verified=self._entries_verified,
            head=ChainHead(self._head_sequence, self._head_link_hash),
            first_mismatch=self._first_mismatch or self._unreached_expected_head(),
        )

    def _check(self, row: StoredEntry) -> ChainMismatch | None:
        expected_sequence = self._head_sequence + 1
        event_id = row.event_id
        if row.sequence != expected_sequence:
            return ChainMismatch(
                MismatchKind.SEQUENCE,
                row.sequence,
                event_id,
                expected=str(expected_sequence),
                found=str(row.sequence),
            )
        if isinstance(row, UnreadableEntry):
            return ChainMismatch(MismatchKind.UNREADABLE, row.sequence, event_id, "a valid entry", row.reason)
        try:
            recomputed_content_hash = content_hash(row.entry)
        except ValueError as error:
            return ChainMismatch(MismatchKind.UNREADABLE, row.sequence, event_id, "a valid entry", str(error))
        if recomputed_content_hash != row.content_hash:
            return ChainMismatch(
                MismatchKind.CONTENT,
                row.sequence,
                event_id,
                expected=recomputed_content_hash,
                found=row.content_hash,
            )
        recomputed_link_hash = _link_hash_unchecked(self._head_link_hash, recomputed_content_hash)
        if recomputed_link_hash != row.link_hash:
            return ChainMismatch(
                MismatchKind.LINK,
                row.sequence,
                event_id,
                expected=recomputed_link_hash,
                found=row.link_hash,
            )
        vouched_link_hash = self._expected_link_at.get(row.sequence)
        if vouched_link_hash is not None and vouched_link_hash != row.link_hash:
            return ChainMismatch(
                MismatchKind.HEAD,
                row.sequence,
                event_id,
                expected=vouched_link_hash,
                found=row.link_hash,
            )
        return None

    def _unreached_expected_head(self) -> ChainMismatch | None:
        # A vouched-for head beyond the last row means entries were dropped from the end.
        beyond = [sequence for sequence in self._expected_link_at if sequence > self._head_sequence]
        if not beyond:
            return None
        sequence = min(beyond)
        return ChainMismatch(
            MismatchKind.HEAD,
            sequence,
            None,
            expected=self._expected_link_at[sequence],
            found=f"no entry (the chain ends at {self._head_sequence})",
        )


def verify_chain(
    stored_rows: Iterable[StoredEntry],
    previous: ChainHead = GENESIS,
    *,
    expected_heads: Iterable[ChainHead] = (),
) -> VerificationResult:
    """Re-walk ``stored_rows`` (in sequence order) from ``previous``; report the first mismatch.

    Pass ``GENESIS`` to verify from the start, or the head of the row before a range (or of a
    trusted checkpoint) to verify only that range.
    """
    verifier = ChainVerifier(previous, expected_heads)
    verifier.feed(stored_rows)
    return verifier.result()
