"""Audit's background work: sign the chain head periodically."""

from __future__ import annotations

import asyncio
import logging

from k8sops_common.service import ServiceContext

from .service import sign_head
from .signing import AuditSettings, load_signing_key

log = logging.getLogger(__name__)


async def checkpoint_loop(context: ServiceContext, stopping: asyncio.Event) -> None:
    settings = AuditSettings()
    private_key = load_signing_key(settings.signing_key_file)
    while not stopping.is_set():
        try:
            async with context.database.unit_of_work() as session:
                checkpoint = await sign_head(session, private_key)
            if checkpoint is not None:
                log.info("signed checkpoint at %d", checkpoint.head_sequence)
        except Exception:
            log.warning("checkpoint failed; retrying next interval", exc_info=True)
        try:
            await asyncio.wait_for(stopping.wait(), timeout=settings.checkpoint_interval_s)
        except TimeoutError:
            pass
