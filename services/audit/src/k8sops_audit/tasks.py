"""Audit's background work: sign the chain head every interval or every N entries, whichever
comes first, and once more on the way out; report a chain shorter than it signed."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from k8sops_common.service import ServiceContext

from .service import sign_and_witness
from .signing import AuditSettings, load_signing_key
from .witness import TailGuard

log = logging.getLogger(__name__)
RETRIES_WHILE_DUE = 50
RETRY_DELAY_S = 0.1


async def _wait(event: asyncio.Event, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout_s)


def tail_guard(context: ServiceContext) -> TailGuard:
    """The process's one guard, shared by the consumer, the checkpoint loop and /readyz."""
    guard = context.extras.get("tail_guard")
    if not isinstance(guard, TailGuard):
        settings = AuditSettings()
        guard = TailGuard(settings.witness_file, settings.checkpoint_every_entries)
        context.extras["tail_guard"] = guard
    return guard


async def chain_intact(context: ServiceContext) -> str | None:
    """Readiness: a chain shorter than (or different from) what this service signed is not ready."""
    guard = tail_guard(context)
    async with context.database.sessions() as session:
        await guard.check(session)
    return None if guard.problem is None else f"audit chain: {guard.problem}"


async def checkpoint_loop(context: ServiceContext, stopping: asyncio.Event) -> None:
    settings = AuditSettings()
    private_key = load_signing_key(settings.signing_key_file)
    guard = tail_guard(context)
    retries = 0
    while True:
        guard.sign_soon.clear()
        try:
            async with context.database.unit_of_work() as session:
                await guard.start(session)
                signed = await sign_and_witness(session, private_key, context.outbox, guard)
            if signed is not None:
                log.info("signed checkpoint at %d", signed.checkpoint.head_sequence)
        except Exception:
            log.warning("checkpoint failed; retrying next interval", exc_info=True)
        if stopping.is_set():
            return  # the head was signed once more on the way out
        # The consumer signals before its batch commits; until the batch shows, look again shortly.
        retries = retries + 1 if guard.checkpoint_due and retries < RETRIES_WHILE_DUE else 0
        if retries:
            await _wait(stopping, RETRY_DELAY_S)
            continue
        waits = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(guard.sign_soon.wait())]
        await asyncio.wait(waits, timeout=settings.checkpoint_interval_s, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waits:
            waiter.cancel()
