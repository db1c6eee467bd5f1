"""The rows ingest stores: an entry's columns, and the fast path from events straight to rows.

The general path builds an `AuditEntry` per event (validated on construction), a `ChainedEntry`
with the hashes of the entry's canonical bytes, then the row (`entry_record`). `chain_rows` goes
from an event's fields to the same row with the same template (`entry_json`'s parts), the same
encoders, the same hashes, and no object per event, in two steps: `prepare_rows` does all that
does not depend on the chain's head or the moment of recording (before the append lock is taken,
so other appenders wait only for the rest), `finish_rows` numbers and hashes (under it). It
checks only that every event is an ordinary one (every text a non-blank `str` with no U+0000
and no lone surrogate, an aware timestamp, a known outcome, a W3C trace id, flat JSON details)
and answers None for a batch holding anything else: the caller then takes the general path,
which stores the batch or refuses it with the error it always gave. The unit tests hold the two paths to the same rows.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from k8sops_audit.domain.canonical_json import NotCanonicalisableError, canonical_json, json_text
from k8sops_audit.domain.chain import ChainedEntry, ChainHead
from k8sops_audit.domain.entry import MAX_EVENT_ID_LENGTH, TRACE_ID_PATTERN, Outcome
from k8sops_audit.domain.entry_bytes import entry_json_head, entry_json_middle, entry_json_tail, timestamp_text

# The columns of a stored entry, in the order of `entry_record`'s and `chain_rows`' values.
ENTRY_COLUMNS = (
    "seq",
    "event_id",
    "occurred_at",
    "recorded_at",
    "source_service",
    "actor_sub",
    "actor_roles",
    "action",
    "target_kind",
    "target_name",
    "target_namespace",
    "target_cluster",
    "engagement_id",
    "outcome",
    "authorization_ref",
    "trace_id",
    "details",
    "content_hash",
    "link_hash",
)
Row = tuple[Any, ...]


def entry_record(chained: ChainedEntry) -> Row:
    """One row for COPY, its values in `ENTRY_COLUMNS` order (the JSON columns as JSON text, as the
    values are: an integer beyond 2^53 keeps its digits, which its canonical form does not)."""
    entry, actor, target = chained.entry, chained.entry.actor, chained.entry.target
    return (
        entry.sequence,
        entry.event_id,
        entry.occurred_at,
        entry.recorded_at,
        entry.source_service,
        actor.sub,
        json_text(actor.roles),
        entry.action,
        target.kind,
        target.name,
        target.namespace,
        target.cluster,
        entry.engagement_id,
        entry.outcome.value,
        entry.authorization_ref,
        entry.trace_id,
        json_text(dict(entry.details)),
        chained.content_hash,
        chained.link_hash,
    )


def head_of(rows: Sequence[Row], previous: ChainHead) -> ChainHead:
    """The chain's head after `rows` were appended to `previous`."""
    return ChainHead(rows[-1][0], rows[-1][-1]) if rows else previous


class ActorFields(Protocol):
    @property
    def sub(self) -> str: ...
    @property
    def roles(self) -> Sequence[str]: ...


class TargetFields(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def cluster(self) -> str | None: ...


class EventFields(Protocol):
    """What an `audit.event`'s data holds (the catalog's `AuditEventV1`)."""

    @property
    def actor(self) -> ActorFields: ...
    @property
    def action(self) -> str: ...
    @property
    def target(self) -> TargetFields: ...
    @property
    def engagement_id(self) -> str | None: ...
    @property
    def outcome(self) -> str: ...
    @property
    def authorization_ref(self) -> str | None: ...
    @property
    def source_service(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def details(self) -> Mapping[str, Any]: ...


# The C quoter `canonical_string` ends in: the checks it makes first are made once, on the whole
# entry's text (a NUL is quoted as \u0000; a lone surrogate fails to encode as UTF-8).
_quote: Any = json.encoder.encode_basestring
_OUTCOMES = frozenset(outcome.value for outcome in Outcome)
_NUL = "\\u0000"


def _ordinary(required: tuple[object, ...], optional: tuple[object, ...] = ()) -> bool:
    """Each is a non-blank `str` (what `AuditEntry` requires of its texts); an optional one may be None."""
    for text in required:
        if type(text) is not str or not text.strip():
            return False
    for text in optional:
        if text is not None and (type(text) is not str or not text.strip()):
            return False
    return True


def _quoted(text: str | None) -> str:
    return "null" if text is None else _quote(text)


def _actor_parts(actor: ActorFields) -> tuple[str, str, str] | None:
    """The actor's canonical roles and sub, and its stored roles; None when not ordinary."""
    roles = actor.roles
    if type(roles) is not list and type(roles) is not tuple:
        return None
    if not _ordinary((actor.sub, *roles)):
        return None
    # As `Actor` keeps them: a set, in a fixed order.
    normalised = tuple(sorted(set(roles)))
    return ",".join([_quote(role) for role in normalised]), _quote(actor.sub), json_text(normalised)


# One event's share of its row and canonical bytes, prepared before the chain is locked: the UTF-8
# of the canonical JSON before the recorded time and after the sequence number, the event id, the
# time it happened, and the row's columns from `source_service` to `details` (`ENTRY_COLUMNS`).
PreparedEvent = tuple[bytes, bytes, str, datetime, tuple[Any, ...]]


def chain_rows(
    previous: ChainHead, events: Iterable[tuple[str, EventFields, str | None]], recorded_at: datetime
) -> list[Row] | None:
    """The rows of `events` (event id, data, trace id) hashed onto the chain after `previous`, all
    recorded at `recorded_at`; None when an event is not an ordinary one (take the general path)."""
    prepared = prepare_rows(events)
    return None if prepared is None else finish_rows(prepared, previous, recorded_at)


def prepare_rows(events: Iterable[tuple[str, EventFields, str | None]]) -> list[PreparedEvent] | None:
    """Everything of the rows of `events` that does not depend on the chain's head or the moment of
    recording, done before the append lock is taken; None when an event is not an ordinary one."""
    actors: dict[tuple[str, tuple[str, ...]], tuple[str, str, str] | None] = {}
    prepared: list[PreparedEvent] = []
    for event_id, data, trace_id in events:
        actor, target, details, occurred_at = data.actor, data.target, data.details, data.occurred_at
        actor_key = (actor.sub, tuple(actor.roles))
        if actor_key in actors:
            actor_parts = actors[actor_key]
        else:
            actor_parts = actors[actor_key] = _actor_parts(actor)
        if (
            actor_parts is None
            or not _ordinary(
                (event_id, data.action, data.source_service, target.kind, target.name),
                (target.namespace, target.cluster, data.engagement_id, data.authorization_ref),
            )
            or len(event_id) > MAX_EVENT_ID_LENGTH
            or type(data.outcome) is not str
            or data.outcome not in _OUTCOMES
            or (trace_id is not None and (type(trace_id) is not str or not TRACE_ID_PATTERN.fullmatch(trace_id)))
            or type(details) is not dict
            or type(occurred_at) is not datetime
        ):
            return None
        offset = occurred_at.utcoffset()
        if offset is None:
            return None
        try:
            # `timestamp_text` without its cache: every event happened at a moment of its own.
            moment = occurred_at.astimezone(UTC) if offset else occurred_at
            details_text = canonical_json(details)
        except (NotCanonicalisableError, OverflowError):
            return None
        head = entry_json_head(
            _quote(data.action),
            actor_parts[0],
            actor_parts[1],
            _quoted(data.authorization_ref),
            details_text,
            _quoted(data.engagement_id),
            _quote(event_id),
            moment.isoformat(timespec="microseconds")[:-6] + "Z",
            _quote(data.outcome),
        )
        tail = entry_json_tail(
            _quote(data.source_service),
            _quoted(target.cluster),
            _quote(target.kind),
            _quote(target.name),
            _quoted(target.namespace),
            _quoted(trace_id),
        )
        # The part the chain fills in is digits and a timestamp: no escape can span the parts.
        if _NUL in head or _NUL in tail:
            return None
        try:
            head_bytes, tail_bytes = head.encode("utf-8"), tail.encode("utf-8")
        except UnicodeEncodeError:
            return None
        columns = (
            data.source_service,
            actor.sub,
            actor_parts[2],
            data.action,
            target.kind,
            target.name,
            target.namespace,
            target.cluster,
            data.engagement_id,
            data.outcome,
            data.authorization_ref,
            trace_id,
            json_text(details),
        )
        prepared.append((head_bytes, tail_bytes, event_id, occurred_at, columns))
    return prepared


def finish_rows(prepared: Sequence[PreparedEvent], previous: ChainHead, recorded_at: datetime) -> list[Row] | None:
    """The rows of prepared events numbered and hashed onto the chain after `previous`, all recorded
    at `recorded_at`: the part of ingest done under the append lock. None for a naive `recorded_at`."""
    if recorded_at.utcoffset() is None:
        return None
    recorded_text = timestamp_text(recorded_at)
    sequence, link = previous.sequence, bytes.fromhex(previous.link_hash)
    sha256 = hashlib.sha256
    rows: list[Row] = []
    for head, tail, event_id, occurred_at, columns in prepared:
        sequence += 1
        content = sha256(head + entry_json_middle(recorded_text, sequence).encode() + tail).digest()
        link = sha256(link + content).digest()
        rows.append((sequence, event_id, occurred_at, recorded_at, *columns, content.hex(), link.hex()))
    return rows
