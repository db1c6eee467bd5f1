"""`k8sops-sandbox serve --scenario ...` and `k8sops-sandbox scenarios`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from .scenario import load_scenario, shipped_scenarios
from .server import run_sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="k8sops-sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a scenario's Kubernetes, platform and Prometheus APIs")
    serve.add_argument("--scenario", required=True, help="shipped scenario name or path to a YAML file")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--kube-port", type=int, default=6443, help="first cluster; the next ones get +1, +2...")
    serve.add_argument("--platform-port", type=int, default=8010)
    serve.add_argument("--prometheus-port", type=int, default=9090)
    serve.add_argument("--kubeconfig", type=Path, help="where to write the kubeconfig")
    serve.add_argument("--state-dir", type=Path, help="folder for the kubeconfig and sandbox.json")
    serve.add_argument(
        "--require-tokens", action="store_true", help="refuse (401) Kubernetes API calls without the cluster's token"
    )
    commands.add_parser("scenarios", help="list the shipped scenarios")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    kubeconfig = args.kubeconfig
    if kubeconfig is None and args.state_dir is None:
        kubeconfig = Path.cwd() / "sandbox.kubeconfig"
    async with run_sandbox(
        args.scenario,
        host=args.host,
        kube_port=args.kube_port,
        platform_port=args.platform_port,
        prometheus_port=args.prometheus_port,
        kubeconfig_path=kubeconfig,
        state_dir=args.state_dir,
        require_tokens=args.require_tokens,
    ) as sandbox:
        print(
            f"sandbox ready kube={sandbox.kube_url} platform={sandbox.platform_url} "
            f"prometheus={sandbox.prometheus_url} kubeconfig={sandbox.kubeconfig_path}",
            flush=True,
        )
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "scenarios":
        for name in shipped_scenarios():
            print(f"{name}\t{load_scenario(name).description}")
        return
    try:
        asyncio.run(_serve(args))
    except (FileNotFoundError, OSError, ValueError) as error:
        print(f"k8sops-sandbox: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
