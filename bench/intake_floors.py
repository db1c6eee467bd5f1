"""The floors `bench_intake.py` times beside intake, each served like intake (uvicorn, the same
worker count, loop and HTTP parser) and driven by the same client at the same concurrency:

- `bare`: a plain ASGI app answering 201 with a JSON body of the size intake's answer has: the
  cost of HTTP alone (uvicorn, httptools, uvloop, the client) on this machine;
- `fastapi`: intake's app stack (`create_app`: its middleware, logging, tracing, metrics, relay)
  with a `POST /v1/requests` taking the same body, auth dependency and headers and answering a
  `RequestOut` built in memory: no database;
- `core`: the same plus the endpoint's statements through SQLAlchemy Core on the service's engine
  (`engine.begin()`: pre-ping, pool, statement cache, instrumentation), no ORM session or service.

`python bench/intake_floors.py <kind>` serves one; the environment is the service's (as intake's).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import uvicorn
from fastapi import APIRouter, FastAPI, Response
from sqlalchemy import text

from k8sops_common.service import Context, ServiceDefinition, create_app
from k8sops_common.settings import ServiceSettings
from k8sops_intake.auth import Participant
from k8sops_intake.requests.schemas import RequestCreate, RequestOut
from k8sops_intake.routing import IdempotencyKey

KINDS = ("bare", "fastapi", "core")
STARTED = "Application startup complete"
# The statements of POST /v1/requests' transaction, as intake sends them (SQLAlchemy's echo): the
# request's INSERT checks the engagement, both outbox rows go in one INSERT, the deliveries in another.
INSERT_REQUEST = (
    "INSERT INTO {schema}.requests (id, engagement_id, cluster_id, category, priority, title, description, "
    "status, opened_by, opened_at, updated_at, decline_reason, decline_pointer) "
    "SELECT $1, $2, NULL, 'incident', 'P2', $3, '', 'opened', 'bench', $4, $4, NULL, NULL "
    "WHERE EXISTS (SELECT id FROM {schema}.engagements WHERE id = $2) RETURNING id"
)
INSERT_OUTBOX = (
    "INSERT INTO {schema}.outbox (event_id, topic, key, payload, traceparent, tracestate) "
    "VALUES ($1, $2, $3, $4, $5, NULL), ($6, $7, $8, $9, $5, NULL)"
)
INSERT_DELIVERIES = (
    "INSERT INTO {schema}.webhook_deliveries (endpoint_id, message_id, event_type, payload, status, attempts, "
    "next_attempt_at, created_at) SELECT id, concat('msg_', replace(gen_random_uuid()::text, '-', '')), "
    "$3, $4, 'pending', 0, $5, $5 FROM {schema}.webhook_endpoints WHERE engagement_id = $1 AND enabled IS true "
    "AND event_types @> CAST($2 AS jsonb)"
)
PAYLOAD = "x" * 700  # a request.opened or audit.event CloudEvent is 600 to 800 bytes


def answer(body: RequestCreate, principal_sub: str) -> RequestOut:
    """What intake answers for a new request (its fields as the service fills them)."""
    now = datetime.now(UTC)
    return RequestOut(
        id=f"req-{uuid.uuid4().hex[:20]}",
        engagement_id=body.engagement_id,
        cluster_id=body.cluster_id,
        category=body.category,
        priority=body.priority,
        status="opened",
        title=body.title,
        description=body.description,
        opened_by=principal_sub,
        opened_at=now,
        updated_at=now,
    )


SAMPLE = RequestCreate.model_validate(
    {"engagement_id": "eng-bench", "category": "incident", "priority": "P2", "title": "bench 1234"}
)
BARE_BODY = answer(SAMPLE, "bench").model_dump_json().encode()


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the request body and answers 201 with a fixed JSON body: nothing but HTTP."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                print(STARTED, file=sys.stderr, flush=True)  # what the bench counts, as uvicorn logs it
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BARE_BODY)).encode())]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": BARE_BODY})


def core_statement(statement: str, schema: str) -> Any:
    """asyncpg's `$n` placeholders as SQLAlchemy's named `:pn`."""
    return text(re.sub(r"\$(\d+)", r":p\1", statement.format(schema=schema)))


def floor_router(with_statements: bool) -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.post("/requests", status_code=201, response_model=RequestOut)
    async def create_request(
        body: RequestCreate,
        principal: Participant,
        context: Context,
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> RequestOut:
        created = answer(body, principal.sub)
        if with_statements:
            settings = context.settings
            request, outbox, deliveries = (
                core_statement(statement, settings.schema_name)
                for statement in (INSERT_REQUEST, INSERT_OUTBOX, INSERT_DELIVERIES)
            )
            now = created.opened_at
            async with context.database.engine.begin() as connection:
                inserted = await connection.scalar(
                    request, {"p1": created.id, "p2": body.engagement_id, "p3": body.title, "p4": now}
                )
                if inserted is None:
                    raise RuntimeError(f"engagement {body.engagement_id} missing: the floor would insert no request")
                trace = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"
                opened = {"p1": str(uuid.uuid4()), "p2": settings.topic("request.opened"), "p3": created.id}
                audit = {"p6": str(uuid.uuid4()), "p7": settings.topic("audit.event"), "p8": body.engagement_id}
                events = {**opened, "p4": PAYLOAD, "p5": trace, **audit, "p9": PAYLOAD}
                await connection.execute(outbox, events)
                subscribed = {"p1": body.engagement_id, "p2": '["request.opened"]', "p3": "request.opened"}
                await connection.execute(deliveries, {**subscribed, "p4": PAYLOAD, "p5": now})
        return created

    return router


def service_floor(kind: str) -> ServiceDefinition:
    return ServiceDefinition(
        name="intake",
        title=f"intake floor: {kind}",
        description="bench floor",
        migrations_package="k8sops_intake.migrations",
        routers=[floor_router(with_statements=kind == "core")],
    )


def fastapi_floor() -> FastAPI:
    return create_app(service_floor("fastapi"))


def core_floor() -> FastAPI:
    return create_app(service_floor("core"))


def start_floor(kind: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    bench = str(Path(__file__).parent)
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [bench, env.get("PYTHONPATH", "")]))}
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, __file__, kind], env=env, stdout=sink, stderr=sink)


def serve(kind: str) -> None:
    """As `service_main` serves intake: uvicorn's defaults (uvloop, httptools), `workers` processes."""
    settings = ServiceSettings(service_name="intake")
    app = {"bare": "bare_app", "fastapi": "fastapi_floor", "core": "core_floor"}[kind]
    factory = kind != "bare"
    if settings.http_workers == 1:
        module = sys.modules[__name__]
        target = getattr(module, app)() if factory else bare_app
        uvicorn.run(target, host=settings.http_host, port=settings.http_port or 8001, log_config=None)
        return
    uvicorn.run(
        f"intake_floors:{app}",
        factory=factory,
        workers=settings.http_workers,
        host=settings.http_host,
        port=settings.http_port or 8001,
        log_config=None,
    )


class LeanClient:
    """HTTP/1.1 keep-alive POSTs of one prepared request over asyncio streams: a client costing a
    small part of what httpx does per request, to show what the servers do when the client is cheap."""

    def __init__(self, host: str, port: int, headers: dict[str, str], body: bytes) -> None:
        self.host, self.port = host, port
        lines = ["POST /v1/requests HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.request = ("\r\n".join([*lines, f"Content-Length: {len(body)}", "", ""])).encode() + body
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.writers: list[asyncio.StreamWriter] = []

    async def open(self, connections: int) -> None:
        for _ in range(connections):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.writers.append(writer)
            self.idle.put_nowait((reader, writer))

    async def post(self, _: int) -> None:
        reader, writer = await self.idle.get()
        writer.write(self.request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
        status = head[9:12]
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        body = await reader.readexactly(length)
        if status != b"201":
            raise AssertionError(f"POST /v1/requests answered {status.decode()}: {body.decode(errors='replace')}")
        self.idle.put_nowait((reader, writer))

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        await asyncio.gather(*(writer.wait_closed() for writer in self.writers), return_exceptions=True)


def cpu_seconds_of(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds of each process that still exists."""
    seconds: dict[int, float] = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        seconds[pid] = times.user + times.system
    return seconds


def process_tree(pid: int) -> list[int]:
    try:
        root = psutil.Process(pid)
        return [root.pid, *(child.pid for child in root.children(recursive=True))]
    except psutil.Error:
        return []


class TreeCpu:
    """CPU seconds a process and its children spent between `__init__` and `spent()`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.started = cpu_seconds_of(process_tree(pid))

    def spent(self) -> float:
        now = cpu_seconds_of(process_tree(self.pid))
        return sum(seconds - self.started.get(pid, 0.0) for pid, seconds in now.items())


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in KINDS:
        raise SystemExit(f"usage: intake_floors.py {{{','.join(KINDS)}}}")
    sys.path.insert(0, str(Path(__file__).parent))
    serve(sys.argv[1])
