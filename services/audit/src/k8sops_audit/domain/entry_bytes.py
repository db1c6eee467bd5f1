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
    roles = ",".join([canonical_string(role) for role in actor.roles])
    return (
        f'{{"action":{canonical_string(entry.action)},'
        f'"actor":{{"roles":[{roles}],"sub":{canonical_string(actor.sub)}}},'
        f'"authorization_ref":{_optional(entry.authorization_ref)},'
        f'"details":{canonical_json(entry.details)},'
        f'"engagement_id":{_optional(entry.engagement_id)},'
        f'"event_id":{canonical_string(entry.event_id)},'
        f'"occurred_at":"{timestamp_text(entry.occurred_at)}",'
        f'"outcome":{canonical_string(entry.outcome.value)},'
        f'"recorded_at":"{timestamp_text(entry.recorded_at)}",'
        f'"sequence":{canonical_integer(entry.sequence)},'
        f'"source_service":{canonical_string(entry.source_service)},'
        f'"target":{{"cluster":{_optional(target.cluster)},"kind":{canonical_string(target.kind)},'
        f'"name":{canonical_string(target.name)},"namespace":{_optional(target.namespace)}}},'
        f'"trace_id":{_optional(entry.trace_id)},'
        f'"v":{ENTRY_FORMAT_VERSION}}}'
    )


def canonical_entry_bytes(entry: AuditEntry) -> bytes:
    """The bytes an entry's content hash is computed over."""
    return canonical_entry_text(entry).encode("utf-8")
