"""Audit's use cases: append a batch to the chain, sign checkpoints, verify the chain."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.bus import Outbox, ReceivedEvent
from k8sops_common.bus.tracing import trace_id_from_traceparent
from k8sops_common.events.catalog import AuditCheckpointV1, AuditEventV1
from k8sops_common.events.envelope import utc_now

from . import repository
from .domain.chain import GENESIS, ChainHead, ChainVerifier, VerificationResult, chain_entries
from .domain.checkpoint import (
    Checkpoint,
    SignedCheckpoint,
    key_id,
    load_public_key_pem,
    public_key_to_pem,
    sign_checkpoint,
    trusted_head,
)
from .domain.entry import Actor, AuditEntry, Outcome, Target
from .domain.rows import PreparedEvent, Row, entry_record, finish_rows, head_of, prepare_rows
from .witness import TailGuard, WitnessedCheckpoint, checkpoint_record


def entries_from_events(
    events: Sequence[ReceivedEvent], first_sequence: int, recorded_at: datetime
) -> list[AuditEntry]:
    """The entries of a batch, numbered from `first_sequence`, all recorded at `recorded_at`."""
    # A batch comes from few callers: each distinct actor is validated once and then shared.
    actors: dict[tuple[str, tuple[str, ...]], Actor] = {}
    entries = []
    for sequence, event in enumerate(events, start=first_sequence):
        data = event.data
        assert isinstance(data, AuditEventV1)
        actor_key = (data.actor.sub, tuple(data.actor.roles))
        actor = actors.get(actor_key)
        if actor is None:
            actor = actors[actor_key] = Actor(sub=actor_key[0], roles=actor_key[1])
        target = data.target
        entries.append(
            AuditEntry(
                sequence=sequence,
                event_id=event.id,
                occurred_at=data.occurred_at,
                recorded_at=recorded_at,
                source_service=data.source_service,
                actor=actor,
                action=data.action,
                target=Target(kind=target.kind, name=target.name, namespace=target.namespace, cluster=target.cluster),
                engagement_id=data.engagement_id,
                outcome=Outcome(data.outcome),
                authorization_ref=data.authorization_ref,
                # The trace the action ran in; the Kafka header is the fallback for producers without it.
                trace_id=data.trace_id or trace_id_from_traceparent(event.traceparent),
                details=dict(data.details),
            )
        )
    return entries


async def append_events(
    session: AsyncSession, events: Sequence[ReceivedEvent], guard: TailGuard | None = None
) -> ChainHead:
    """Appends the events after the current head, in one transaction with the inbox rows.

    With a guard, a head below the last signed checkpoint is reported and skipped over.
    """
    # What does not depend on the head is done before the lock: other appenders (processes or
    # replicas) wait only for the numbering, the hashes, the COPY and the commit.
    prepared = prepare_rows(_event_fields(events))
    head = await repository.lock_chain_head(session)
    if guard is not None:
        head = await guard.head_to_follow(session, head)
    # One batch, one transaction, one moment of recording (under the lock: times follow the chain).
    rows = rows_after(events, prepared, head, utc_now())
    await repository.append_rows(session, rows)
    return head_of(rows, head)


def stored_rows(events: Sequence[ReceivedEvent], head: ChainHead, recorded_at: datetime) -> list[Row]:
    """The rows of a batch chained after `head`: by the fast path, or, for a batch it does not
    take, by building and validating each entry, which refuses a bad event with its error."""
    return rows_after(events, prepare_rows(_event_fields(events)), head, recorded_at)


def rows_after(
    events: Sequence[ReceivedEvent], prepared: list[PreparedEvent] | None, head: ChainHead, recorded_at: datetime
) -> list[Row]:
    """`stored_rows` with the fast path's share prepared already (None: the fast path does not take them)."""
    rows = None if prepared is None else finish_rows(prepared, head, recorded_at)
    if rows is None:
        chained = chain_entries(head, entries_from_events(events, head.sequence + 1, recorded_at))
        rows = [entry_record(item) for item in chained]
    return rows


def _event_fields(events: Sequence[ReceivedEvent]) -> Iterator[tuple[str, AuditEventV1, str | None]]:
    for event in events:
        data = event.data
        assert isinstance(data, AuditEventV1)
        # The trace the action ran in; the Kafka header is the fallback for producers without it.
        yield event.id, data, data.trace_id or trace_id_from_traceparent(event.traceparent)


async def sign_head(
    session: AsyncSession, private_key: Ed25519PrivateKey, *, signed_before: int = 0
) -> SignedCheckpoint | None:
    """Signs the current head unless it is already checkpointed; None when there is nothing new.

    `signed_before` is the last head signed according to the checkpoint file: a head at or below
    it is never signed again, even if the database lost the checkpoint rows (and entries) above it.
    """
    head = await repository.read_head(session)
    latest = max(signed_before, await repository.latest_checkpoint_sequence(session))
    if head.sequence == 0 or head.sequence <= latest:
        return None
    now = utc_now()
    public_key = private_key.public_key()
    await repository.register_signing_key(session, key_id(public_key), public_key_to_pem(public_key).decode(), now)
    signed = sign_checkpoint(Checkpoint.of_head(head, now), private_key)
    await repository.add_checkpoint(session, signed)
    return signed


async def sign_and_witness(
    session: AsyncSession, private_key: Ed25519PrivateKey, outbox: Outbox, guard: TailGuard
) -> SignedCheckpoint | None:
    """Signs the head, publishes the checkpoint (`audit.checkpoint`) and writes it to the file.

    The file is written before the transaction commits: a checkpoint there but not in the
    database still names a head that existed, the reverse would leave a head unwitnessed.
    One process signs at a time (the signing lock, held to the commit), after reading what the
    others wrote to the file: the file's heads only grow, and no head is signed twice.
    """
    await repository.lock_signing(session)
    guard.follow_file()
    signed = await sign_head(session, private_key, signed_before=guard.signed.sequence)
    if signed is None:
        return None
    pem = public_key_to_pem(private_key.public_key()).decode()
    await outbox.add(session, AuditCheckpointV1.model_validate(checkpoint_record(signed, pem)))
    guard.record(signed, pem)
    return signed


@dataclass(frozen=True)
class VerificationReport:
    result: VerificationResult
    checkpoints_checked: int


class UntrustedStart(Exception):
    pass


async def verify(
    session: AsyncSession,
    first_seq: int = 1,
    last_seq: int | None = None,
    witnessed: Sequence[WitnessedCheckpoint] = (),
) -> VerificationReport:
    """Re-walks entries first_seq..last_seq; signed checkpoints inside the range must be passed through.

    Those are the checkpoints in the database plus `witnessed` ones (kept outside it by a third
    party or the checkpoint file), so deleting checkpoint rows does not hide a shortened chain.
    A range that does not start at 1 trusts the stored link of the entry before it; for a
    start a third party can trust, begin right after a signed checkpoint.
    """
    previous = GENESIS
    if first_seq > 1:
        link = await repository.link_hash_at(session, first_seq - 1)
        if link is None:
            raise UntrustedStart(f"there is no entry {first_seq - 1} to start after")
        previous = ChainHead(first_seq - 1, link)
    known_pems = {item.signed.key_id: item.public_key_pem for item in witnessed if item.public_key_pem}
    known_pems.update(await repository.public_keys(session))
    keys = {kid: load_public_key_pem(pem.encode()) for kid, pem in known_pems.items()}
    checkpoints = await repository.checkpoints_between(session, first_seq - 1, last_seq)
    checkpoints += [
        item.signed
        for item in witnessed
        if first_seq - 1 < item.signed.checkpoint.head_sequence <= (last_seq or item.signed.checkpoint.head_sequence)
    ]
    expected_heads = []
    for signed in checkpoints:
        public_key = keys.get(signed.key_id)
        if public_key is None:
            raise UntrustedStart(f"checkpoint at {signed.checkpoint.head_sequence} names unknown key {signed.key_id}")
        expected_heads.append(trusted_head(signed, public_key))
    verifier = ChainVerifier(previous, expected_heads)
    async for page in repository.entries_in_range(session, first_seq, last_seq):
        if not verifier.feed(page):
            break
    return VerificationReport(verifier.result(), len(checkpoints))
