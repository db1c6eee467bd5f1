"""What every service's FastAPI app has: lifespan with db, outbox relay, consumer and background
loops; `/healthz`, `/readyz`, `/metrics`; problem+json errors; tracing and JSON logs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import importlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy.ext.asyncio import AsyncSession

from .auth.tokens import TokenVerifier
from .bus.admin import ping_broker
from .bus.consumer import EventConsumer, Subscriptions
from .bus.outbox import Outbox, OutboxRelay
from .bus.republish import republish_command
from .bus.tracing import quiet
from .db import Database, engine_from_settings
from .errors import install_problem_handlers, problem_response
from .jobs import keep_running
from .metrics import install_metrics
from .migrations import migrate
from .openapi import install_problem_documentation
from .request_limits import RequestLimits
from .settings import InsecureSettings, ServiceSettings
from .telemetry import instrument, setup_logging, setup_tracing

log = logging.getLogger(__name__)
# Names `module:attribute` of the ServiceDefinition for the worker processes (`worker_app`).
DEFINITION_VARIABLE = "K8SOPS_SERVICE_DEFINITION"


@dataclass
class ServiceContext:
    """Everything a service's endpoints and handlers share, built once per process."""

    settings: ServiceSettings
    database: Database
    outbox: Outbox
    relay: OutboxRelay
    consumer: EventConsumer | None = None
    extras: dict[str, Any] = field(default_factory=dict)


BackgroundLoop = Callable[[ServiceContext, asyncio.Event], Coroutine[Any, Any, None]]
# A service's own readiness condition: a reason it is not ready, or None.
ReadinessCheck = Callable[[ServiceContext], Awaitable[str | None]]


@dataclass
class ServiceDefinition:
    name: str
    title: str
    description: str
    migrations_package: str
    routers: Sequence[APIRouter] = ()
    subscriptions: Callable[[ServiceContext], Subscriptions] | None = None
    background_loops: Sequence[BackgroundLoop] = ()
    readiness_checks: Sequence[ReadinessCheck] = ()
    default_port: int = 8000
    # Extra `python -m k8sops_<service> <command> [args]` commands besides migrate and serve.
    commands: Mapping[str, Callable[[ServiceSettings, list[str]], int]] = field(default_factory=dict)


def get_context(request: Request) -> ServiceContext:
    context: ServiceContext = request.app.state.context
    return context


Context = Annotated[ServiceContext, Depends(get_context)]


async def unit_of_work(context: Context) -> AsyncIterator[AsyncSession]:
    """One transaction per command: the state change and its outbox rows commit together."""
    async with context.database.unit_of_work() as session:
        yield session


# scope="function": the transaction commits when the endpoint returns, before the response is
# sent, so a failed commit answers an error (never a 201) and a read right after sees the write.
UnitOfWork = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


def create_app(definition: ServiceDefinition, settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings(service_name=definition.name)
    settings.refuse_development_secret()
    setup_logging(settings.service_name, settings.log_level)
    setup_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)
    database = Database(engine_from_settings(settings))
    context = ServiceContext(
        settings=settings,
        database=database,
        outbox=Outbox(settings),
        relay=OutboxRelay(settings, database),
    )
    if definition.subscriptions is not None:
        context.consumer = EventConsumer(settings, database, definition.subscriptions(context))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stopping = asyncio.Event()
        # Tasks inherit the context they are created in: polls that find nothing make no spans;
        # the work they find turns tracing on again in its own trace (`bus.tracing.traced`).
        work: dict[str, Callable[[], Awaitable[None]]] = {"outbox relay": context.relay.run}
        if context.consumer is not None:
            work["consumer"] = context.consumer.run
        for loop in definition.background_loops:
            work[loop.__name__] = functools.partial(loop, context, stopping)
        with quiet():
            tasks = [asyncio.create_task(keep_running(run, stopping, what), name=what) for what, run in work.items()]
        try:
            yield
        finally:
            stopping.set()
            if context.consumer is not None:
                context.consumer.stop()
            await context.relay.stop()
            _, pending = await asyncio.wait(tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await database.dispose()

    # Swagger UI and Redoc from files in the fastapi-offline wheel: /docs works without a CDN.
    app = FastAPIOffline(title=definition.title, description=definition.description, version="0.1.0", lifespan=lifespan)
    app.state.context = context
    app.state.token_verifier = TokenVerifier(settings)
    install_problem_handlers(app)
    install_metrics(app, settings.service_name)
    install_problem_documentation(app)
    _install_health(app, context, definition.readiness_checks)
    for router in definition.routers:
        app.include_router(router)
    instrument(app, database.engine, settings.otel_exporter_otlp_endpoint)
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes)
    return app


def _install_health(app: FastAPI, context: ServiceContext, checks: Sequence[ReadinessCheck]) -> None:
    @app.get("/healthz", tags=["health"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Database schema and broker reachable", response_model=None)
    async def readyz() -> dict[str, Any] | JSONResponse:
        reasons: list[str] = []
        try:
            await asyncio.wait_for(context.database.ping(f"{context.settings.schema_name}.outbox"), timeout=3)
        except Exception as error:
            reasons.append(f"database: {error or type(error).__name__}")
        try:
            await ping_broker(context.settings.kafka_bootstrap_servers)
        except Exception as error:
            reasons.append(f"broker {context.settings.kafka_bootstrap_servers}: {error or type(error).__name__}")
        for check in checks:
            reason = await check(context)
            if reason is not None:
                reasons.append(reason)
        if reasons:
            return problem_response(503, "Not ready", "; ".join(reasons), problem_type="not-ready", checks=reasons)
        return {"status": "ready"}


def service_main(definition: ServiceDefinition, argv: list[str] | None = None) -> None:
    """`python -m k8sops_<service> migrate|serve|<extra command> [args]`."""
    if getattr(sys.modules.get("__main__"), "__name__", "") == "__mp_main__":
        # A worker process (spawned) runs `python -m k8sops_<service>`'s module again before it
        # starts; its app comes from `worker_app`, so this call must do nothing.
        return
    parser = argparse.ArgumentParser(prog=f"k8sops_{definition.name.replace('-', '_')}")
    parser.add_argument("command", choices=["migrate", "serve", "republish", *definition.commands])
    args, rest = parser.parse_known_args(argv)
    settings = ServiceSettings(service_name=definition.name)
    if args.command in definition.commands:
        raise SystemExit(definition.commands[args.command](settings, rest))
    if args.command == "republish":
        raise SystemExit(republish_command(settings, rest))
    if rest:
        parser.error(f"unexpected arguments {rest}")
    if args.command == "migrate":
        migrate(definition.migrations_package, settings.database_url, settings.schema_name)
        return
    port = settings.http_port or definition.default_port
    if settings.http_workers > 1:
        _serve_in_workers(definition, settings, port, settings.http_workers)
        return
    try:
        app = create_app(definition, settings)
    except InsecureSettings as error:
        raise SystemExit(str(error)) from None
    freeze_startup_heap()
    uvicorn.run(app, host=settings.http_host, port=port, log_config=None)


def _serve_in_workers(definition: ServiceDefinition, settings: ServiceSettings, port: int, workers: int) -> None:
    """uvicorn's supervisor binds the port once and runs `workers` processes that each build the app.

    Each worker is a whole service process (relay, consumer, background loops): the relay's advisory
    lock, the consumer group and SKIP LOCKED claims make them safe side by side, as replicas are.
    """
    try:
        settings.refuse_development_secret()
    except InsecureSettings as error:
        raise SystemExit(str(error)) from None
    setup_logging(settings.service_name, settings.log_level)
    os.environ[DEFINITION_VARIABLE] = _import_path(definition)
    uvicorn.run(
        f"{__name__}:worker_app",
        factory=True,
        workers=workers,
        host=settings.http_host,
        port=port,
        log_config=None,
    )


def _import_path(definition: ServiceDefinition) -> str:
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("k8sops_") and module_name != "k8sops_common.service":
            for attribute, value in vars(module).items():
                if value is definition:
                    return f"{module_name}:{attribute}"
    raise RuntimeError(f"the definition of {definition.name} is not a module attribute; workers cannot import it")


def worker_app() -> FastAPI:
    """uvicorn's app factory in each worker process: the definition `service_main` named."""
    module_name, _, attribute = os.environ[DEFINITION_VARIABLE].partition(":")
    definition: ServiceDefinition = getattr(importlib.import_module(module_name), attribute)
    app = create_app(definition)
    freeze_startup_heap()
    return app


YOUNG_COLLECTION_ALLOCATIONS = 50_000


def freeze_startup_heap() -> None:
    """Puts what a service process holds once it has started (modules, the app, its models) out of
    the garbage collector's reach. A consumer's poll keeps thousands of parsed events alive, so
    full collections come often, and each re-walked those ~200,000 objects: 30 to 45 µs of CPU per
    audit entry (bench/README.md, "Audit ingest (stop 10)"). Called once per service process, not
    per app, so tests that build many apps do not pin their garbage.

    The young generation is also collected less often: at CPython's 700 allocations most of a
    poll's objects were still alive at each young collection, promoted and walked again by the
    older ones; at 50,000 most die first (audit ingest 2.5 µs of CPU less per event, bench/README.md,
    "Audit ingest (stop 11)")."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, *gc.get_threshold()[1:])
