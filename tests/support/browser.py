"""A real headless Chromium for tests that must see a page as a browser does.

Use the `chromium` fixture (import it into a conftest: `from tests.support.browser import chromium`)
and `dump_dom(chromium, path)`. The fixture finds `chromium` or `chromium-headless-shell`; when
neither is there and the tests run as root (CI), it installs Debian's package; otherwise it fails
with the one command that installs it. It never skips: a browser test that did not run is not a pass.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-headless-shell")
INSTALL = "apt-get update && apt-get install -y chromium"


def find_chromium() -> str | None:
    return next((found for name in NAMES if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    found = find_chromium()
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail(f"Chromium is needed for the browser tests; install it with: sudo sh -c '{INSTALL}'")
    # Test workers run in parallel and apt-get allows one at a time: the first installs, the others wait.
    with open(Path(tempfile.gettempdir()) / "k8sops-tests-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = find_chromium()
        if found:
            return found
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        result = subprocess.run(["sh", "-c", INSTALL], env=env, capture_output=True, text=True, timeout=900)
    found = find_chromium()
    if result.returncode != 0 or not found:
        pytest.fail(f"installing Chromium with `{INSTALL}` failed ({result.returncode}): {result.stderr[-2000:]}")
    return found


async def dump_dom(chromium: str, page: Path | str, timeout_s: float = 60.0, extra_args: tuple[str, ...] = ()) -> str:
    """The DOM after Chromium loaded and laid out `page` (an absolute local path, or a URL)."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        process = await asyncio.create_subprocess_exec(
            chromium,
            "--headless",
            "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *extra_args,
            "--dump-dom",
            page.as_uri() if isinstance(page, Path) else page,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    if process.returncode != 0:
        raise AssertionError(f"chromium exited with {process.returncode}: {stderr.decode()[-2000:]}")
    return stdout.decode()
