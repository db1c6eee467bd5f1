"""A Kafka client whose stop overran its bound (`bus.admin.stop_client`) leaves nothing running.

The real case: a consumer's stop waited for a group rejoin that hung against a restarted Tansu.
Here a real Tansu is frozen (SIGSTOP: its sockets stay open and nothing answers) and a joined
consumer is made to rejoin (a new subscription, as a changed partition count would): its stop
waits for that JoinGroup answer, past the bound. The test checks what is left afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import psutil
import pytest
from aiokafka import AIOKafkaConsumer

from k8sops_common.bus.admin import stop_client
from k8sops_platform.embedded import TansuBroker
from tests.conftest import Isolation

Eventually = Callable[..., Awaitable[object]]


def aiokafka_tasks(started_before: set[asyncio.Task[object]]) -> list[str]:
    """The pending tasks running aiokafka's code (a client's coordination, fetches, reads, metadata)
    started since: the event loop may still run what earlier tests' clients left."""
    names = []
    for task in asyncio.all_tasks() - started_before:
        code = getattr(task.get_coro(), "cr_code", None)
        if not task.done() and code is not None and "/aiokafka/" in code.co_filename:
            names.append(code.co_qualname)
    return sorted(names)


async def joins(caplog: pytest.LogCaptureFixture) -> int:
    return sum("(Re-)joining group" in record.getMessage() for record in caplog.records)


def connections_to(port: int) -> int:
    """This process's established TCP connections to the port."""
    return sum(
        1
        for connection in psutil.Process().net_connections(kind="tcp")
        if connection.raddr and connection.raddr.port == port and connection.status == psutil.CONN_ESTABLISHED
    )


async def test_a_consumer_whose_stop_overran_the_bound_leaves_no_task_or_connection_behind(
    isolation: Isolation, own_broker: TansuBroker, eventually: Eventually, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="aiokafka")
    earlier_tasks = asyncio.all_tasks()
    topic = f"{isolation.topic_prefix}request.opened"
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=own_broker.bootstrap_servers,
        group_id=f"{isolation.topic_prefix}stop-bound",
        enable_auto_commit=False,
        session_timeout_ms=4_000,
        heartbeat_interval_ms=800,
    )
    await consumer.start()

    async def joined() -> bool:
        await consumer.getmany(timeout_ms=100)
        return bool(consumer.assignment())

    await eventually(joined, bool, timeout_s=60)
    assert connections_to(own_broker.port) > 0
    with own_broker.frozen():
        consumer.subscribe([topic])
        await eventually(lambda: joins(caplog), lambda count: count >= 2, timeout_s=30)
        await asyncio.wait_for(stop_client(consumer, timeout_s=1.0), 30)
        assert "did not stop within" in caplog.text

        async def left_behind() -> tuple[list[str], int]:
            return aiokafka_tasks(earlier_tasks), connections_to(own_broker.port)

        await eventually(left_behind, lambda found: found == ([], 0), timeout_s=10)
