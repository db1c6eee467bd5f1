"""A service's background task that fails is started again: a failure once ended it for good and
left the service up with, say, its consumer gone (stop 11's durability runs)."""

from __future__ import annotations

import asyncio
from typing import Any

from k8sops_common.service import ServiceContext, ServiceDefinition, create_app


async def test_a_background_loop_that_fails_runs_again_while_the_service_lives(isolation: Any) -> None:
    starts: list[int] = []
    running_again = asyncio.Event()

    async def flaky_loop(context: ServiceContext, stopping: asyncio.Event) -> None:
        starts.append(len(starts))
        if len(starts) == 1:
            raise RuntimeError("the first round meets a bug")
        running_again.set()
        await stopping.wait()

    definition = ServiceDefinition(
        name="intake",
        title="a service with a flaky loop",
        description="",
        migrations_package="k8sops_intake.migrations",
        background_loops=[flaky_loop],
    )
    app = create_app(definition, await isolation.settings("intake", "k8sops_intake.migrations"))
    try:
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(running_again.wait(), 60)
    finally:
        await app.state.context.database.dispose()
    assert starts == [0, 1]
