"""Topics are created with the partitions their consumers need: `audit.event` with six, so that
audit's processes split it evenly, every other topic and every DLQ with three."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaProducer

from k8sops_common.bus.admin import all_topic_names, ensure_topics, ensure_topics_exist


async def partitions(producer: AIOKafkaProducer, topic: str) -> int:
    return len(await producer.partitions_for(topic) or ())


async def test_the_platform_and_a_relay_create_audit_event_with_six_partitions(kafka_bootstrap: str) -> None:
    platform_prefix, relay_prefix = f"t{uuid.uuid4().hex[:8]}.", f"t{uuid.uuid4().hex[:8]}."
    # As `k8sops run` and the tests create every topic.
    await ensure_topics(kafka_bootstrap, all_topic_names(platform_prefix))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        # As a relay creates what a restarted broker forgot, before it publishes.
        wanted = {f"{relay_prefix}audit.event", f"{relay_prefix}request.opened"}
        await ensure_topics_exist(producer, wanted, kafka_bootstrap)
        for prefix in (platform_prefix, relay_prefix):
            assert await partitions(producer, f"{prefix}audit.event") == 6
            assert await partitions(producer, f"{prefix}request.opened") == 3
        assert await partitions(producer, f"{platform_prefix}audit.event.dlq") == 3
    finally:
        await producer.stop()
