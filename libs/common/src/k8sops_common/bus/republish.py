"""`python -m k8sops_<service> republish --topic T --since TIME`: publish a topic's events again.

The operator's recovery path when a consumer outside the platform (billing, for `credit.issued`)
lost what it had received: the service's sent outbox rows of that topic since the given time are
marked unsent, and the running service's relay publishes them again in their original order,
with their original event ids, so any consumer that already has them drops the duplicates.
Only rows within the outbox retention (`K8SOPS_OUTBOX_RETENTION_S`) can be published again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime

from sqlalchemy import func, select

from ..db import Database, engine_from_settings
from ..events.catalog import TOPICS
from ..settings import ServiceSettings
from .ledger import republish


def _aware_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time: {error}") from error
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} needs a UTC offset, e.g. 2026-11-27T10:00:00+00:00")
    return parsed


async def republish_since(settings: ServiceSettings, topic: str, since: datetime) -> int:
    database = Database(engine_from_settings(settings))
    try:
        async with database.unit_of_work() as session:
            count = await republish(session, {settings.topic(topic)}, since=since)
            # Wakes the running relays at commit, as the outbox trigger does for inserted rows.
            await session.execute(select(func.pg_notify(settings.schema_name, "")))
        return count
    finally:
        await database.dispose()


def republish_command(settings: ServiceSettings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m k8sops_{settings.service_name.replace('-', '_')} republish",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--topic", required=True, choices=TOPICS, help="the topic, without any prefix")
    parser.add_argument("--since", required=True, type=_aware_time, help="ISO 8601 time with a UTC offset")
    args = parser.parse_args(argv)
    count = asyncio.run(republish_since(settings, args.topic, args.since))
    print(json.dumps({"topic": settings.topic(args.topic), "since": args.since.isoformat(), "republished": count}))
    return 0
