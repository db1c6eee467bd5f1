"""Desired state from a Git repository path (GitOps), read with the `git` command: a shallow
clone of one ref, then every YAML document under the path whose kind drift tracks."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ..domain.drift import MANAGED_KINDS

# Only transports that fetch data; `ext::` and friends would run commands.
GIT_SAFETY = ("-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c", "protocol.ssh.allow=always")
GIT_LOCAL = ("-c", "protocol.file.allow=always")


class GitSourceError(ValueError):
    """The repository, ref or path cannot be read; the message says which."""


async def _git(*args: str, timeout_s: float, local: bool = False) -> str:
    process = await asyncio.create_subprocess_exec(
        "git",
        *GIT_SAFETY,
        *(GIT_LOCAL if local else ()),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        process.kill()
        raise GitSourceError(f"git {args[0]} took longer than {timeout_s:.0f}s") from None
    if process.returncode != 0:
        raise GitSourceError(f"git {args[0]} failed: {err.decode(errors='replace').strip()[-500:]}")
    return out.decode()


async def read_manifests(
    repository: str, ref: str, path: str, *, allow_local: bool = False, timeout_s: float = 60
) -> tuple[str, list[dict[str, Any]]]:
    """The commit read and the tracked objects under `path` at `ref` (namespace `default` when unset).
    `file://` repositories are read only when allowed: they expose the runner's own disk."""
    local = repository.startswith("file://")
    if local and not allow_local:
        raise GitSourceError("file:// repositories are not allowed here (K8SOPS_UPGRADE_GIT_ALLOW_LOCAL)")
    relative = PurePosixPath(path.strip("/") or ".")
    if relative.is_absolute() or ".." in relative.parts:
        raise GitSourceError(f"path {path!r} must stay inside the repository")
    with tempfile.TemporaryDirectory(prefix="k8sops-git-") as folder:
        checkout = Path(folder) / "repo"
        clone = ("clone", "--quiet", "--depth", "1", "--branch", ref, "--", repository, str(checkout))
        await _git(*clone, timeout_s=timeout_s, local=local)
        commit = (await _git("-C", str(checkout), "rev-parse", "HEAD", timeout_s=timeout_s)).strip()
        root = checkout / relative
        if not root.is_dir():
            raise GitSourceError(f"{repository}@{ref} has no directory {path!r}")
        objects = []
        for file in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
            try:
                documents = list(yaml.safe_load_all(file.read_text()))
            except yaml.YAMLError as error:
                raise GitSourceError(f"{file.relative_to(checkout)} is not valid YAML: {error}") from None
            for document in documents:
                if isinstance(document, dict) and document.get("kind") in MANAGED_KINDS and document.get("metadata"):
                    document["metadata"].setdefault("namespace", "default")
                    objects.append(document)
    return commit, objects
