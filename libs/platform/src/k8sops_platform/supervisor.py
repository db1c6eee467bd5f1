"""Keeps the platform's processes running: a crash is restarted with backoff, a crash loop stops it all.

One process that dies (a service killed with SIGKILL, the broker gone) must not take the others
down: the outbox keeps what they write until the broker is back, and a restarted consumer resumes
from its committed offsets. Only a process that keeps dying (`max_crashes` within `window_s`) is
beyond help, and then the operator gets its name and its log.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class CrashLoop(RuntimeError):
    """A process crashed too often to keep restarting it."""


class PortTaken(RuntimeError):
    """A port the platform needs is in use by something else."""


def check_ports_free(ports: list[tuple[int, str, str]], host: str = "127.0.0.1") -> None:
    """Raises naming every (port, what, variable that moves it) already bound on `host`."""
    taken = []
    for port, what, variable in ports:
        with socket.socket() as probe:
            # As uvicorn and Tansu bind: a port in TIME_WAIT is free to them.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                taken.append(f"port {port} ({what}) is taken; set {variable} to move it")
    if taken:
        raise PortTaken("; ".join(taken) + " (is another `k8sops run` still running?)")


@dataclass
class Child:
    name: str
    log_path: Path
    is_running: Callable[[], bool]
    restart: Callable[[], None]
    crashes: deque[float] = field(default_factory=deque)
    restart_at: float | None = None


@dataclass
class Supervisor:
    say: Callable[[str], None]
    max_crashes: int = 5
    window_s: float = 120.0
    max_backoff_s: float = 30.0
    children: list[Child] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic

    def add(self, name: str, log_path: Path, is_running: Callable[[], bool], restart: Callable[[], None]) -> None:
        self.children.append(Child(name, log_path, is_running, restart))

    def check(self) -> None:
        """Restarts what is due; raises CrashLoop when a child crashed `max_crashes` times in the window."""
        for child in self.children:
            now = self.clock()
            if child.restart_at is None:
                if not child.is_running():
                    self._crashed(child, now)
            elif now >= child.restart_at:
                child.restart_at = None
                try:
                    child.restart()
                    self.say(f"{child.name} restarted")
                except Exception as error:
                    self.say(f"{child.name} failed to restart: {error}")
                    self._crashed(child, self.clock())

    def _crashed(self, child: Child, now: float) -> None:
        child.crashes.append(now)
        while child.crashes and child.crashes[0] < now - self.window_s:
            child.crashes.popleft()
        if len(child.crashes) >= self.max_crashes:
            raise CrashLoop(
                f"{child.name} crashed {len(child.crashes)} times within {self.window_s:.0f}s; "
                f"giving up; see {child.log_path}"
            )
        backoff = min(2.0 ** (len(child.crashes) - 1), self.max_backoff_s)
        child.restart_at = now + backoff
        self.say(f"{child.name} exited; restarting it in {backoff:.0f}s (see {child.log_path})")
