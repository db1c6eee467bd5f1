"""Stopping an aiokafka client never holds the caller for good (`bus.admin.stop_client`)."""

from __future__ import annotations

import asyncio

import pytest

from k8sops_common.bus.admin import stop_client


class HangingClient:
    """Stops as an AIOKafkaConsumer whose group coordination hangs: never, until cancelled."""

    def __init__(self) -> None:
        self.cancelled = False

    async def stop(self) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


class LeakingClient:
    """Stops as aiokafka 0.14 does while a fetch backs off: by raising CancelledError."""

    async def stop(self) -> None:
        raise asyncio.CancelledError


async def test_a_stop_that_hangs_is_cancelled_after_the_bound_and_the_caller_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = HangingClient()
    await asyncio.wait_for(stop_client(client, timeout_s=0.05), 30)
    await asyncio.sleep(0)  # the cancelled stop runs its handler
    assert client.cancelled
    assert "did not stop within" in caplog.text


async def test_a_leaked_cancellation_is_a_stopped_client_but_our_own_goes_through() -> None:
    await asyncio.wait_for(stop_client(LeakingClient()), 30)

    waiting = asyncio.create_task(stop_client(HangingClient()))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
