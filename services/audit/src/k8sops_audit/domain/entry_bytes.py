"""The canonical bytes of an audit entry (format version 1, specified in ``chain.py``).

They are what ``canonical_json`` writes for the entry's JSON object, but put together from a
template: the object's keys are fixed and already in sorted order, so only the values need
encoding, each by the same functions the general encoder uses. That is several times cheaper
than building the object and sorting it again for every entry ingested or verified, and the
unit tests hold the two to the same bytes for any entry.
"""

from datetime import UTC, datetime
from functools import lru_cache

from k8sops_audit.domain.canonical_json import (
    NotCanonicalisableError,
    canonical_integer,
    canonical_json,
    canonical_string,
)
from k8sops_audit.domain.entry import AuditEntry

ENTRY_FORMAT_VERSION = 1


# Every entry of a batch is recorded at the same moment: that one is formatted once, not per entry.
# Equal instants give equal text whatever their zone, so a cached answer is always the right one.
@lru_cache(maxsize=256)
def timestamp_text(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds and ``Z``: the only timestamp spelling that gets hashed."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # isoformat of a UTC datetime ends in "+00:00"; the canonical spelling is "Z".
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


def canonical_entry_document(entry: AuditEntry) -> dict[str, object]:
    """The JSON object that represents ``entry`` in the chain (format in ``chain.py``)."""
    target = entry.target
    return {
        "action": entry.action,
        "actor": {"roles": list(entry.actor.roles), "sub": entry.actor.sub},
        "authorization_ref": entry.authorization_ref,
        "details": entry.details,
        "engagement_id": entry.engagement_id,
        "event_id": entry.event_id,
        "occurred_at": timestamp_text(entry.occurred_at),
        "outcome": entry.outcome.value,
        "recorded_at": timestamp_text(entry.recorded_at),
        "sequence": entry.sequence,
        "source_service": entry.source_service,
        "target": {
            "cluster": target.cluster,
            "kind": target.kind,
            "name": target.name,
            "namespace": target.namespace,
        },
        "trace_id": entry.trace_id,
        "v": ENTRY_FORMAT_VERSION,
    }


def _optional(text: str | None) -> str:
    return "null" if text is None else canonical_string(text)


def canonical_entry_text(entry: AuditEntry) -> str:
    """The canonical JSON of ``entry``.

    Raises ``NotCanonicalisableError`` when ``details`` (or any text) has no canonical form.
    """
    try:
        return _entry_template(entry)
    except NotCanonicalisableError:
        # The general encoder names where in the entry the bad value is.
        canonical_json(canonical_entry_document(entry))
        raise


def _entry_template(entry: AuditEntry) -> str:
    actor, target = entry.actor, entry.target
    return entry_json(
        canonical_string(entry.action),
        ",".join([canonical_string(role) for role in actor.roles]),
        canonical_string(actor.sub),
        _optional(entry.authorization_ref),
        canonical_json(entry.details),
        _optional(entry.engagement_id),
        canonical_string(entry.event_id),
        timestamp_text(entry.occurred_at),
        canonical_string(entry.outcome.value),
        timestamp_text(entry.recorded_at),
        entry.sequence,
        canonical_string(entry.source_service),
        _optional(target.cluster),
        canonical_string(target.kind),
        canonical_string(target.name),
        _optional(target.namespace),
        _optional(entry.trace_id),
    )


def entry_json(
    action: str,
    roles: str,
    sub: str,
    authorization_ref: str,
    details: str,
    engagement_id: str,
    event_id: str,
    occurred_at: str,
    outcome: str,
    recorded_at: str,
    sequence: int,
    source_service: str,
    cluster: str,
    kind: str,
    name: str,
    namespace: str,
    trace_id: str,
) -> str:
    """The entry's canonical JSON from its values, each already in its canonical JSON form (the
    roles joined by commas, the timestamps as bare text); the ingest fast path shares its parts."""
    return (
        entry_json_head(action, roles, sub, authorization_ref, details, engagement_id, event_id, occurred_at, outcome)
        + entry_json_middle(recorded_at, sequence)
        + entry_json_tail(source_service, cluster, kind, name, namespace, trace_id)
    )


def entry_json_head(
    action: str,
    roles: str,
    sub: str,
    authorization_ref: str,
    details: str,
    engagement_id: str,
    event_id: str,
    occurred_at: str,
    outcome: str,
) -> str:
    """The canonical JSON up to the recorded time's text: what an event alone decides."""
    return (
        f'{{"action":{action},'
        f'"actor":{{"roles":[{roles}],"sub":{sub}}},'
        f'"authorization_ref":{authorization_ref},'
        f'"details":{details},'
        f'"engagement_id":{engagement_id},'
        f'"event_id":{event_id},'
        f'"occurred_at":"{occurred_at}",'
        f'"outcome":{outcome},'
        f'"recorded_at":"'
    )


def entry_json_middle(recorded_at: str, sequence: int) -> str:
    """What the chain decides when the entry is appended: its recorded time and its number."""
    return f'{recorded_at}","sequence":{canonical_integer(sequence)}'


def entry_json_tail(source_service: str, cluster: str, kind: str, name: str, namespace: str, trace_id: str) -> str:
    """The canonical JSON after the sequence number: what an event alone decides."""
    return (
        f',"source_service":{source_service},'
        f'"target":{{"cluster":{cluster},"kind":{kind},'
        f'"name":{name},"namespace":{namespace}}},'
        f'"trace_id":{trace_id},'
        f'"v":{ENTRY_FORMAT_VERSION}}}'
    )


def canonical_entry_bytes(entry: AuditEntry) -> bytes:
    """The bytes an entry's content hash is computed over."""
    return canonical_entry_text(entry).encode("utf-8")
