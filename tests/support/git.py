"""A Git repository in a folder, made with the real `git`, for desired state read from Git."""

from __future__ import annotations

import subprocess
from pathlib import Path


def committed_repository(folder: Path, files: dict[str, str]) -> str:
    """`files` (path in the repository: text) committed on `main`; answers the repository's file:// URL."""
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    for command in (
        ["git", "init", "--quiet", "--initial-branch", "main"],
        ["git", "add", "."],
        ["git", "-c", "user.name=t", "-c", "user.email=t@example", "commit", "--quiet", "-m", "desired state"],
    ):
        subprocess.run(command, cwd=folder, check=True)
    return f"file://{folder}"
