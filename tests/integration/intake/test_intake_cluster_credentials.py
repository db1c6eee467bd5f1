"""Each cluster's credentials reference travels on `engagement.changed`, so the upgrade-runner knows
where the secret store keeps that cluster's token (the token itself never travels)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from aiokafka import AIOKafkaConsumer

from k8sops_common.service import create_app
from k8sops_intake.settings import WebhookSettings
from k8sops_upgrade_runner.app import DEFINITION as RUNNER
from tests.conftest import poll_until

from .conftest import OWN, SENIOR, Intake

REFERENCES = {f"{OWN}-staging": f"vault://k8s/{OWN}-staging/admin", f"{OWN}-prod": f"vault://k8s/{OWN}-prod/admin"}


async def test_the_cluster_credentials_reference_reaches_the_runner_over_kafka(
    isolation: Any, running_intake: Callable[..., Awaitable[Intake]]
) -> None:
    async with AsyncExitStack() as stack:
        runner_settings = await isolation.settings("upgrade-runner", "k8sops_upgrade_runner.migrations")
        runner = create_app(RUNNER, runner_settings)
        await stack.enter_async_context(runner.router.lifespan_context(runner))
        # Sets up the engagement and its two clusters through the API, each with its reference.
        intake = await running_intake(WebhookSettings(allow_private_targets=True))

        consumer = AIOKafkaConsumer(
            f"{isolation.topic_prefix}engagement.changed",
            bootstrap_servers=isolation.bootstrap,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        stack.push_async_callback(consumer.stop)

        seen: list[dict[str, Any]] = []

        async def latest_clusters() -> list[dict[str, Any]]:
            """The clusters of the newest `engagement.changed` read so far."""
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    assert record.value is not None
                    seen[:] = json.loads(record.value)["data"]["clusters"]
            return seen

        published = await poll_until(latest_clusters, lambda clusters: len(clusters) == 2)
        assert {cluster["cluster_id"]: cluster["credentials_ref"] for cluster in published} == REFERENCES

        stored = await poll_until(
            lambda: isolation.fetch(
                f"SELECT cluster_id, credentials_ref FROM {runner_settings.schema_name}.clusters"
                " WHERE credentials_ref IS NOT NULL"
            ),
            lambda rows: len(rows) == 2,
        )
        assert {row["cluster_id"]: row["credentials_ref"] for row in stored} == REFERENCES
        # The API still never shows the reference.
        assert "vault://" not in (await intake.client.get(f"/v1/engagements/{OWN}", headers=SENIOR)).text
