"""The background-job loop every service runs its rounds in: pacing, backoff and stopping."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from k8sops_common.jobs import Backoff, keep_running, poll_rounds

LONG_POLL_S = 60.0  # a round that waited for it would make the test time out


def scripted(
    stopping: asyncio.Event, results: list[int | Exception], calls: list[float]
) -> Callable[[], Awaitable[int]]:
    """A round that returns (or raises) the next scripted result and sets `stopping` after the last."""
    loop = asyncio.get_running_loop()

    async def work() -> int:
        calls.append(loop.time())
        result = results[len(calls) - 1]
        if len(calls) == len(results):
            stopping.set()
        if isinstance(result, Exception):
            raise result
        return result

    return work


async def test_rounds_that_find_work_run_back_to_back_and_the_loop_ends_when_stopping() -> None:
    stopping, calls = asyncio.Event(), list[float]()
    work = scripted(stopping, [3, 1, 2], calls)
    await asyncio.wait_for(poll_rounds(work, LONG_POLL_S, stopping, "test"), 10)
    assert len(calls) == 3


async def test_an_idle_round_waits_the_poll_interval() -> None:
    stopping, calls = asyncio.Event(), list[float]()
    work = scripted(stopping, [0, 0], calls)
    await asyncio.wait_for(poll_rounds(work, 0.05, stopping, "test"), 10)
    assert calls[1] - calls[0] >= 0.045


async def test_stopping_ends_an_idle_wait_at_once() -> None:
    stopping = asyncio.Event()

    async def idle() -> int:
        asyncio.get_running_loop().call_soon(stopping.set)
        return 0

    await asyncio.wait_for(poll_rounds(idle, LONG_POLL_S, stopping, "test"), 10)


async def test_failed_rounds_back_off_doubling_up_to_the_cap_and_a_good_round_resets_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stopping, calls = asyncio.Event(), list[float]()
    away = ConnectionRefusedError("database away")
    work = scripted(stopping, [away, away, away, 1, away, 0], calls)
    with caplog.at_level(logging.WARNING, logger="k8sops_common.jobs"):
        await asyncio.wait_for(
            poll_rounds(work, LONG_POLL_S, stopping, "test", Backoff(first_s=0.01, max_s=0.025)),
            10,
        )
    assert [record.args[2] for record in caplog.records] == [0.01, 0.02, 0.025, 0.01]  # type: ignore[index]
    assert all(record.exc_info for record in caplog.records)
    assert len(calls) == 6


FAST = Backoff(first_s=0.001, max_s=0.001)


async def test_kept_work_that_fails_or_returns_early_is_logged_and_started_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stopping, calls = asyncio.Event(), list[int]()
    endings: list[BaseException | None] = [RuntimeError("broker gone"), None, asyncio.CancelledError()]

    async def work() -> None:
        calls.append(len(calls))
        if len(calls) <= len(endings):
            ending = endings[len(calls) - 1]
            if ending is not None:
                raise ending
            return
        fourth_start.set()
        await stopping.wait()  # the fourth start runs until the service stops

    fourth_start = asyncio.Event()
    kept = asyncio.create_task(keep_running(work, stopping, "consumer", FAST))
    await asyncio.wait_for(fourth_start.wait(), 10)
    stopping.set()
    await asyncio.wait_for(kept, 10)
    assert len(calls) == 4
    messages = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert messages == [
        "consumer failed; starting it again in 0.0s",
        "consumer ended while the service runs; starting it again in 0.0s",
        "consumer ended by a stray cancellation; starting it again in 0.0s",
    ]


async def test_kept_work_stops_with_the_service_and_a_real_cancellation_goes_through() -> None:
    stopping, calls = asyncio.Event(), list[int]()

    async def work() -> None:
        calls.append(len(calls))
        started.set()
        await asyncio.sleep(LONG_POLL_S)

    started = asyncio.Event()
    kept = asyncio.create_task(keep_running(work, stopping, "relay", FAST))
    await asyncio.wait_for(started.wait(), 10)
    kept.cancel()
    with pytest.raises(asyncio.CancelledError):
        await kept
    assert calls == [0]

    async def returns_when_stopping() -> None:
        stopping.set()

    await asyncio.wait_for(keep_running(returns_when_stopping, stopping, "loop", FAST), 10)
