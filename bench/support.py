"""What every benchmark script shares: the infrastructure, timing, and the one-JSON-line result.

A benchmark is `bench/bench_<name>.py`; `bench/run.py` runs each in its own process and reads the
JSON object on its last stdout line. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k8sops_platform.embedded import EmbeddedPostgres, TansuBroker, free_port

DATABASE_URL_VARIABLE = "K8SOPS_BENCH_DATABASE_URL"
KAFKA_BOOTSTRAP_VARIABLE = "K8SOPS_BENCH_KAFKA_BOOTSTRAP_SERVERS"
# Benchmarks mint tokens with the development secret; the services they start inherit this.
os.environ.setdefault("K8SOPS_DEV_MODE", "1")


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def load_average() -> float:
    """Other work on the machine skews every figure; each benchmark records how busy it was."""
    return round(os.getloadavg()[0], 2)


@dataclass(frozen=True)
class Infrastructure:
    database_url: str
    kafka_bootstrap_servers: str
    embedded: list[str]


@contextmanager
def infrastructure() -> Iterator[Infrastructure]:
    """PostgreSQL and a Kafka-protocol broker: the configured ones, or embedded ones in a temp folder."""
    database_url = os.environ.get(DATABASE_URL_VARIABLE, "")
    bootstrap = os.environ.get(KAFKA_BOOTSTRAP_VARIABLE, "")
    embedded: list[str] = []
    with tempfile.TemporaryDirectory(prefix="k8sops-bench-") as workdir:
        postgres: EmbeddedPostgres | None = None
        broker: TansuBroker | None = None
        try:
            if not database_url:
                progress("starting embedded PostgreSQL")
                postgres = EmbeddedPostgres(Path(workdir) / "pg")
                database_url = postgres.start()
                embedded.append("postgres")
            if not bootstrap:
                progress("starting embedded Tansu broker")
                broker = TansuBroker(port=free_port(), log_path=Path(workdir) / "tansu.log")
                bootstrap = broker.start()
                embedded.append("tansu")
            yield Infrastructure(database_url, bootstrap, embedded)
        finally:
            if broker is not None:
                broker.stop()
            if postgres is not None:
                postgres.stop()


class Stopwatch:
    """Wall-clock seconds since construction, from `time.perf_counter`."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, interval_s: float = 0.01, timeout_s: float = 300.0
) -> float:
    """Polls `check` until it holds; returns the perf_counter reading at which it was seen to hold."""
    deadline = time.perf_counter() + timeout_s
    while True:
        if await check():
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"condition not met within {timeout_s:.0f} s")
        await asyncio.sleep(interval_s)


@contextmanager
def sampled(pid: int, output: Path | None) -> Iterator[None]:
    """py-spy samples process `pid` and its children while the block runs (no-op without `output`).

    Collapsed stacks (`-f raw`), one line per stack with its sample count; `bench/stacks.py`
    sums them by component. Only samples holding the GIL count: where the CPU goes, not waits.
    """
    if output is None:
        yield
        return
    command = ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--gil", "--nonblocking"]
    command += ["--rate", "200", "--format", "raw", "--full-filenames", "--output", str(output)]
    spy = subprocess.Popen([str(Path(sys.executable).parent / command[0]), *command[1:]], stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled on SIGINT
        spy.wait(60)


def per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def median_figures(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Per figure, the median over rounds: one noisy round on a shared machine moves it little."""
    return {name: round(statistics.median(r[name] for r in rounds), 4) for name in rounds[0]}


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def report(benchmark: Callable[[], dict[str, Any]]) -> None:
    """Runs the benchmark and prints its figures, or its error, as the last stdout line."""
    try:
        figures = benchmark()
    except Exception as error:
        traceback.print_exc()
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}), flush=True)
        sys.exit(1)
    print(json.dumps(figures), flush=True)


def report_measurement(
    measure: Callable[[Infrastructure, argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]],
    args: argparse.Namespace,
) -> None:
    """Starts the infrastructure, runs `measure` in an event loop and reports its figures."""

    def run() -> dict[str, Any]:
        with infrastructure() as infra:
            return asyncio.run(measure(infra, args))

    report(run)
