"""The loop behind every background job that lives in a table (timers, analysis jobs, operations,
webhook deliveries): jobs are rows, so a restart loses nothing. Each round is one function of the
service that claims what is due in its own transaction (`FOR UPDATE SKIP LOCKED`, a lease) and
handles it; this loop only paces the rounds and stops with the service. `keep_running` keeps each
of a service's background tasks (relay, consumer, these loops) alive for the life of the process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """The wait after a failed round: `first_s`, doubled after each further failure up to `max_s`."""

    first_s: float = 0.1
    max_s: float = 5.0


async def poll_rounds(
    work: Callable[[], Awaitable[int]],
    poll_s: float,
    stopping: asyncio.Event,
    what: str,
    backoff: Backoff = Backoff(),
) -> None:
    """Runs `work` back to back while it finds something (a non-zero result), otherwise once every
    `poll_s`, until `stopping` is set. A failing round (the database away, a lock conflict) rolled
    its transaction back, so nothing was claimed: it is logged and tried again after `backoff`."""
    delay = backoff.first_s
    while not stopping.is_set():
        try:
            found = await work()
        except Exception as error:
            log.warning("%s: %s; retrying in %.1fs", what, error, delay, exc_info=True)
            await wait_or_stop(stopping, delay)
            delay = min(delay * 2, backoff.max_s)
            continue
        delay = backoff.first_s
        if not found:
            await wait_or_stop(stopping, poll_s)


async def wait_or_stop(stopping: asyncio.Event, seconds: float) -> None:
    """Waits `seconds`, or less if the service is stopping."""
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def keep_running(
    work: Callable[[], Awaitable[None]],
    stopping: asyncio.Event,
    what: str,
    backoff: Backoff = Backoff(first_s=1.0, max_s=30.0),
) -> None:
    """Runs `work` until `stopping` is set, starting it again whenever it ends before that: by an
    error, by returning, or by a cancellation nobody asked for (aiokafka 0.14 leaks one from a
    client's stop). A background task that ended silently left a service up with its consumer
    gone for good; now each end is logged as an error, and the work resumes after `backoff`."""
    delay = backoff.first_s
    while True:
        try:
            await work()
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if stopping.is_set() or (current is not None and current.cancelling()):
                raise
            log.error("%s ended by a stray cancellation; starting it again in %.1fs", what, delay)
        except Exception:
            log.exception("%s failed; starting it again in %.1fs", what, delay)
        else:
            if stopping.is_set():
                return
            log.error("%s ended while the service runs; starting it again in %.1fs", what, delay)
        await wait_or_stop(stopping, delay)
        if stopping.is_set():
            return
        delay = min(delay * 2, backoff.max_s)
