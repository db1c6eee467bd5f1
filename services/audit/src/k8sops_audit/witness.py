"""Tail protection: every signed checkpoint is also kept outside the database, and the chain's head
is held to the last one before each append.

A superuser (or the schema owner, who can disable the append-only trigger) can delete the newest
entries together with their checkpoint rows; what is left is a consistent, shorter chain. The
checkpoint file next to the signing key, and every witness that keeps the `audit.checkpoint`
events, still name the longer head, so the cut is reported and new entries are numbered after it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from . import repository
from .domain.chain import GENESIS, ChainHead
from .domain.checkpoint import Checkpoint, SignedCheckpoint, key_id, load_public_key_pem

log = logging.getLogger(__name__)

CHAIN_TAMPERED = Gauge(
    "k8sops_audit_chain_tampered", "1 when entries a signed checkpoint vouched for are missing or rewritten"
)
MISSING_ENTRIES = Gauge("k8sops_audit_missing_entries", "Entries missing below the last signed checkpoint")


class WitnessFileError(ValueError):
    pass


def checkpoint_record(signed: SignedCheckpoint, public_key_pem: str) -> dict[str, Any]:
    """One checkpoint as the file, the API and the `audit.checkpoint` event spell it."""
    checkpoint = signed.checkpoint
    return {
        "head_sequence": checkpoint.head_sequence,
        "head_link_hash": checkpoint.head_link_hash,
        "entry_count": checkpoint.entry_count,
        "created_at": checkpoint.created_at.isoformat(),
        "key_id": signed.key_id,
        "signature": signed.signature,
        "signed_bytes": checkpoint.canonical_bytes().decode(),
        "public_key_pem": public_key_pem,
    }


@dataclass(frozen=True)
class WitnessedCheckpoint:
    signed: SignedCheckpoint
    public_key_pem: str | None  # None when the witness kept only what GET /v1/audit/checkpoints gives


def parse_checkpoints(text: str, source: str) -> list[WitnessedCheckpoint]:
    """JSON Lines (this service's file, the events) or a JSON array (GET /v1/audit/checkpoints)."""
    stripped = text.strip()
    try:
        if stripped.startswith("["):
            records = json.loads(stripped)
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [_witnessed(record) for record in records]
    except (ValueError, KeyError, TypeError) as error:
        raise WitnessFileError(f"{source} is not a list of audit checkpoints: {error}") from error


def _witnessed(record: dict[str, Any]) -> WitnessedCheckpoint:
    if "specversion" in record:  # a whole `audit.checkpoint` CloudEvent as the witness received it
        record = record["data"]
    checkpoint = Checkpoint(
        head_sequence=int(record["head_sequence"]),
        head_link_hash=str(record["head_link_hash"]),
        entry_count=int(record["entry_count"]),
        created_at=datetime.fromisoformat(str(record["created_at"]).replace("Z", "+00:00")),
    )
    pem = record.get("public_key_pem")
    if pem is not None and key_id(load_public_key_pem(str(pem).encode())) != record["key_id"]:
        raise ValueError(f"checkpoint {checkpoint.head_sequence}: public key does not match key_id")
    return WitnessedCheckpoint(SignedCheckpoint(checkpoint, str(record["key_id"]), str(record["signature"])), pem)


def read_checkpoint_file(path: Path) -> list[WitnessedCheckpoint]:
    if not path.exists():
        return []
    return parse_checkpoints(path.read_text(), str(path))


def append_checkpoint_file(path: Path, record: dict[str, Any]) -> None:
    """One line per checkpoint, on disk (fsync) before the database commits it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(descriptor, (json.dumps(record, sort_keys=True) + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@dataclass
class TailGuard:
    """What this service signed, and whether the stored chain still holds it.

    Every audit process (`K8SOPS_HTTP_WORKERS` workers, replicas sharing the file) keeps a guard of
    its own; they agree through the checkpoint file, which each reads again for the lines the
    others appended before it appends, signs or answers `/readyz` (`follow_file`).
    """

    checkpoint_file: Path | None
    checkpoint_every_entries: int
    signed: ChainHead = GENESIS
    problem: str | None = None
    missing_entries: int = 0
    appended_up_to: int = 0
    sign_soon: asyncio.Event = field(default_factory=asyncio.Event)
    _started: bool = False
    # How far the file was read, and which file that was (a file moved aside is read anew).
    _read_up_to: int = 0
    _file_identity: tuple[int, int] | None = None

    async def start(self, session: AsyncSession) -> None:
        """On the first use: every checkpoint in the file must still be in the chain."""
        if self._started:
            return
        heads = [item.signed.checkpoint.head for item in self._new_checkpoints()]
        if heads:
            self._take_signed(heads)
            stored = await repository.link_hashes_at(session, [head.sequence for head in heads])
            broken = sorted(head.sequence for head in heads if stored.get(head.sequence) != head.link_hash)
            if broken:
                stored_head = await repository.read_head(session)
                self._report(
                    f"signed checkpoints at {_ranges(broken)} are not in the chain any more "
                    f"(it ends at {stored_head.sequence})",
                    max(0, self.signed.sequence - stored_head.sequence),
                )
        self._started = True

    def follow_file(self) -> None:
        """Takes in the checkpoints other processes appended to the file since the last look (one
        `stat` when there are none): the last signed head never goes back."""
        heads = [item.signed.checkpoint.head for item in self._new_checkpoints()]
        if heads:
            self._take_signed(heads)

    async def head_to_follow(self, session: AsyncSession, head: ChainHead) -> ChainHead:
        """The head new entries chain onto: never below the last signed one, so no number is reused.

        Called under the append lock with the stored head.
        """
        await self.start(session)
        self.follow_file()
        if self.signed.sequence == 0:
            return head
        if head.sequence < self.signed.sequence:
            self._report_cut(head)
            return self.signed
        if await repository.link_hash_at(session, self.signed.sequence) != self.signed.link_hash:
            self._report_rewritten()
        return head

    async def check(self, session: AsyncSession) -> None:
        """For `/readyz`: the chain still holds the last signed head, whichever process appended or
        signed last (an answer from one worker must not miss what another found)."""
        await self.start(session)
        self.follow_file()
        if self.problem is not None or self.signed.sequence == 0:
            return
        if await repository.link_hash_at(session, self.signed.sequence) == self.signed.link_hash:
            return
        head = await repository.read_head(session)
        if head.sequence < self.signed.sequence:
            self._report_cut(head)
        else:
            self._report_rewritten()

    def appended(self, head: ChainHead) -> None:
        """Called inside the append transaction, before it commits."""
        self.appended_up_to = max(self.appended_up_to, head.sequence)
        if self.checkpoint_due:
            self.sign_soon.set()

    @property
    def checkpoint_due(self) -> bool:
        return self.appended_up_to - self.signed.sequence >= self.checkpoint_every_entries

    def record(self, signed: SignedCheckpoint, public_key_pem: str) -> None:
        if self.checkpoint_file is not None:
            append_checkpoint_file(self.checkpoint_file, checkpoint_record(signed, public_key_pem))
        self.signed = signed.checkpoint.head

    def _new_checkpoints(self) -> list[WitnessedCheckpoint]:
        """The whole lines added to the file since it was last read (a line still being written is
        read next time); all of it when the file was replaced or shortened."""
        if self.checkpoint_file is None:
            return []
        try:
            with self.checkpoint_file.open("rb") as file:
                status = os.fstat(file.fileno())
                identity = (status.st_dev, status.st_ino)
                if identity != self._file_identity or status.st_size < self._read_up_to:
                    self._file_identity, self._read_up_to = identity, 0
                if status.st_size == self._read_up_to:
                    return []
                file.seek(self._read_up_to)
                added = file.read()
        except FileNotFoundError:
            return []
        complete = added[: added.rfind(b"\n") + 1]
        self._read_up_to += len(complete)
        return parse_checkpoints(complete.decode(), str(self.checkpoint_file))

    def _take_signed(self, heads: list[ChainHead]) -> None:
        newest = max(heads, key=lambda head: head.sequence)
        if newest.sequence > self.signed.sequence:
            self.signed = newest

    def _report_cut(self, head: ChainHead) -> None:
        self._report(
            f"the chain ends at {head.sequence} but checkpoint {self.signed.sequence} was signed: entries "
            f"{head.sequence + 1}..{self.signed.sequence} are missing; new entries follow "
            f"{self.signed.sequence}",
            self.signed.sequence - head.sequence,
        )

    def _report_rewritten(self) -> None:
        self._report(f"entry {self.signed.sequence} is missing or not the one its signed checkpoint names", 0)

    def _report(self, problem: str, missing: int) -> None:
        if problem != self.problem:
            log.error("audit chain tampered: %s", problem)
        self.problem = problem
        self.missing_entries = max(self.missing_entries, missing)
        CHAIN_TAMPERED.set(1)
        MISSING_ENTRIES.set(self.missing_entries)


def _ranges(sequences: Iterable[int]) -> str:
    items = list(sequences)
    return ", ".join(str(item) for item in items[:10]) + (f" and {len(items) - 10} more" if len(items) > 10 else "")
