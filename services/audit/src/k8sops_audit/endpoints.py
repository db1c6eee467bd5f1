"""Audit's API: query and export (scoped by engagement), verification, checkpoints and keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from k8sops_common.auth import Role
from k8sops_common.errors import ProblemError
from k8sops_common.inputs import Int64, Moment, Text
from k8sops_common.service import Context, UnitOfWork

from . import repository
from .auth import Reader, Verifier
from .domain.checkpoint import UntrustedCheckpointError, load_public_key_pem, public_key_to_jwk
from .schemas import AuditEntryOut, AuditEntryPage, CheckpointOut, MismatchOut, PublicKeyOut, VerificationOut
from .service import UntrustedStart, verify
from .tasks import tail_guard
from .witness import WitnessFileError, read_checkpoint_file

router = APIRouter(prefix="/v1/audit", tags=["audit"])

ID = r"^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,199}$"


def entry_filter(
    principal: Reader,
    engagement_id: Annotated[str | None, Query(pattern=ID)] = None,
    actor: Annotated[Text | None, Query(min_length=1, max_length=200)] = None,
    action: Annotated[Text | None, Query(min_length=1, max_length=200)] = None,
    target_kind: Annotated[Text | None, Query(min_length=1, max_length=100)] = None,
    target_name: Annotated[Text | None, Query(min_length=1, max_length=300)] = None,
    trace_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$")] = None,
    since: Annotated[Moment | None, Query(description="occurred at or after (RFC 3339, with a timezone)")] = None,
    until: Annotated[Moment | None, Query(description="occurred before (RFC 3339, with a timezone)")] = None,
) -> repository.EntryFilter:
    # Auditors see everything; everyone else only the engagements in their token.
    scope = None if principal.has_role(Role.AUDITOR) else principal.engagements
    return repository.EntryFilter(
        engagement_ids=scope,
        engagement_id=engagement_id,
        actor=actor,
        action=action,
        target_kind=target_kind,
        target_name=target_name,
        trace_id=trace_id,
        since=since,
        until=until,
    )


Filter = Annotated[repository.EntryFilter, Depends(entry_filter)]


def _after(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        return repository.decode_cursor(cursor)
    except (ValueError, KeyError, TypeError) as error:
        raise ProblemError(
            422,
            "Invalid cursor",
            "Pass back the next_cursor of a previous page unchanged.",
            problem_type="invalid-cursor",
        ) from error


@router.get("/entries", response_model=AuditEntryPage, summary="Entries in sequence order, filtered and paged")
async def list_entries(
    session: UnitOfWork,
    entry_filter: Filter,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditEntryPage:
    rows, last_seq = await repository.list_entries(session, entry_filter, _after(cursor), limit)
    return AuditEntryPage(
        items=[AuditEntryOut.model_validate(row) for row in rows],
        next_cursor=repository.encode_cursor(last_seq) if last_seq is not None else None,
    )


@router.get(
    "/export",
    summary="Every matching entry as JSON Lines",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def export_entries(context: Context, entry_filter: Filter) -> StreamingResponse:
    # The first page is read before the 200 goes out, so a failing query answers an error
    # instead of an empty 200 that looks like "nothing matched".
    session = context.database.sessions()
    try:
        first_page = await repository.list_entries(session, entry_filter, 0, 1000)
    except BaseException:
        await session.close()
        raise

    async def lines() -> AsyncIterator[bytes]:
        rows, last_seq = first_page
        try:
            while True:
                for row in rows:
                    yield (AuditEntryOut.model_validate(row).model_dump_json() + "\n").encode()
                if last_seq is None:
                    return
                rows, last_seq = await repository.list_entries(session, entry_filter, last_seq, 1000)
        finally:
            await session.close()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/verify", response_model=VerificationOut, summary="Re-walk the chain (whole or a range)")
async def verify_chain(
    _: Verifier,
    context: Context,
    session: UnitOfWork,
    first_sequence: Annotated[Int64, Query(alias="from", ge=1)] = 1,
    last_sequence: Annotated[Int64 | None, Query(alias="to", ge=1)] = None,
) -> VerificationOut:
    if last_sequence is not None and last_sequence < first_sequence:
        raise ProblemError(422, "Invalid range", "'to' must not be before 'from'.", problem_type="invalid-range")
    try:
        # The service's own checkpoint file too: checkpoint rows deleted from the database still count.
        witness_file = tail_guard(context).checkpoint_file
        witnessed = read_checkpoint_file(witness_file) if witness_file else []
        report = await verify(session, first_sequence, last_sequence, witnessed)
    except (UntrustedStart, UntrustedCheckpointError, WitnessFileError) as error:
        raise ProblemError(409, "Cannot verify", str(error), problem_type="cannot-verify") from error
    return verification_out(report.result, first_sequence, report.checkpoints_checked)


def verification_out(result: Any, first_sequence: int, checkpoints_checked: int) -> VerificationOut:
    mismatch = result.first_mismatch
    return VerificationOut(
        ok=result.ok,
        first_sequence=first_sequence,
        entries_verified=result.entries_verified,
        head_sequence=result.head.sequence,
        head_link_hash=result.head.link_hash,
        checkpoints_checked=checkpoints_checked,
        first_mismatch=None
        if mismatch is None
        else MismatchOut(
            kind=str(mismatch.kind),
            sequence=mismatch.sequence,
            event_id=mismatch.event_id,
            expected=mismatch.expected,
            found=mismatch.found,
            description=mismatch.describe(),
        ),
    )


@router.get("/checkpoints", response_model=list[CheckpointOut], summary="Signed chain heads (public)")
async def list_checkpoints(
    session: UnitOfWork, after_sequence: Annotated[Int64, Query(alias="after", ge=0)] = 0
) -> list[CheckpointOut]:
    signed = await repository.checkpoints_between(session, after_sequence, None)
    return [
        CheckpointOut(
            head_sequence=item.checkpoint.head_sequence,
            head_link_hash=item.checkpoint.head_link_hash,
            entry_count=item.checkpoint.entry_count,
            created_at=item.checkpoint.created_at,
            key_id=item.key_id,
            signature=item.signature,
            signed_bytes=item.checkpoint.canonical_bytes().decode(),
        )
        for item in signed
    ]


@router.get("/public-keys", response_model=list[PublicKeyOut], summary="Every key that signed a checkpoint (public)")
async def list_public_keys(session: UnitOfWork) -> list[PublicKeyOut]:
    keys = await repository.public_keys(session)
    return [
        PublicKeyOut(key_id=kid, public_key_pem=pem, jwk=public_key_to_jwk(load_public_key_pem(pem.encode())))
        for kid, pem in keys.items()
    ]
