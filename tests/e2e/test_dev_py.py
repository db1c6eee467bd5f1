"""Issue 15: the two commands on a stock Python, and the first screen of `k8sops run`.

The stock Python is simulated exactly as Debian ships it without python3.X-venv: a venv made
`--without-pip` whose `import ensurepip` fails (a .pth entry blocks the module, as its absence does).
"""

from __future__ import annotations

import base64
import http.server
import importlib.util
import json
import os
import platform
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from k8sops_platform.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("viewer", "requester", "admin", "operator", "senior", "auditor")


def _clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}}
    return {**env, **overrides}


@pytest.fixture
def python_without_pip(tmp_path: Path) -> Path:
    env_dir = tmp_path / "stock-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "no_ensurepip.pth").write_text("import sys; sys.modules['ensurepip'] = None\n")
    probe = subprocess.run([str(python), "-c", "import ensurepip"], capture_output=True, text=True)
    assert probe.returncode != 0 and "ensurepip" in probe.stderr
    assert subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True).returncode != 0
    return python


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """What `dev.py sync` needs of a fresh clone: dev.py, the workspace and its lock file."""
    copy = tmp_path / "clone"
    copy.mkdir()
    for name in ("dev.py", "pyproject.toml", "uv.lock"):
        shutil.copy2(ROOT / name, copy / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")
    for name in ("libs", "services"):
        shutil.copytree(ROOT / name, copy / name, ignore=ignore)
    return copy


def test_bootstrap_without_pip_fetches_the_uv_wheel_and_syncs_a_working_venv(
    python_without_pip: Path, checkout: Path
) -> None:
    # The index pip would use (PIP_INDEX_URL, pip.conf, or PyPI); the uv cache makes the sync fast.
    result = subprocess.run(
        [str(python_without_pip), "dev.py", "sync"],
        cwd=checkout,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "this Python has no pip (ensurepip); fetching uv-" in result.stdout
    assert "Traceback" not in result.stderr
    uv_version = subprocess.run([str(checkout / ".tools" / "bin" / "uv"), "--version"], capture_output=True, text=True)
    assert uv_version.stdout.startswith("uv ")
    imported = subprocess.run(
        [str(checkout / ".venv" / "bin" / "python"), "-c", "import k8sops_sla_timer, k8sops_platform, pytest"],
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr


def test_bootstrap_without_pip_and_without_an_index_says_in_one_sentence_what_to_install(
    python_without_pip: Path, checkout: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/simple"
    result = subprocess.run(
        [str(python_without_pip), "dev.py", "sync"],
        cwd=checkout,
        env=_clean_env(PIP_INDEX_URL=closed),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    [message] = result.stderr.strip().splitlines()
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}-venv"
    assert f"install the {minor} package" in message and closed in message
    assert message.count(". ") == 0 and message.endswith("run dev.py again.")
    assert not (checkout / ".tools" / "bin" / "uv").exists()


def _load_dev_py() -> object:
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="wheel names for glibc Linux"
)
def test_a_pep_503_mirror_from_pip_conf_with_credentials_gives_the_newest_fitting_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = platform.machine()
    page = "".join(
        f'<a href="../../files/{name}#sha256={digest}"{extra}>{name}</a>\n'
        for name, digest, extra in (
            (f"uv-0.13.9-py3-none-manylinux_2_17_{machine}.manylinux2014_{machine}.whl", "aa", ""),
            (f"uv-0.13.12-py3-none-manylinux_2_17_{machine}.whl", "bb", ' data-yanked=""'),
            (f"uv-0.13.10-py3-none-musllinux_1_1_{machine}.whl", "cc", ""),
            ("uv-0.14.0-py3-none-macosx_11_0_arm64.whl", "dd", ""),
            ("uv-0.14.0.tar.gz", "ee", ""),
        )
    )
    seen: list[tuple[str, str | None]] = []

    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization")))
            body = f"<html><body>{page}</body></html>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "pip.conf"
        config.write_text(f"[global]\nindex-url = http://mirror:s%40cret@127.0.0.1:{server.server_port}/simple\n")
        monkeypatch.delenv("PIP_INDEX_URL", raising=False)
        monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
        dev: Any = _load_dev_py()
        index = dev.index_url()
        assert index == f"http://mirror:s%40cret@127.0.0.1:{server.server_port}/simple"
        name, url, sha256 = dev._pick_wheel(dev._project_files(index, "uv"))
    finally:
        server.shutdown()
    # 0.13.12 is yanked, 0.13.10 is for musl, 0.14.0 for macOS: 0.13.9 is the newest that fits.
    assert name.startswith("uv-0.13.9-") and sha256 == "aa"
    assert url == f"http://mirror:s%40cret@127.0.0.1:{server.server_port}/files/{name}"
    assert seen == [("/simple/uv/", "Basic " + base64.b64encode(b"mirror:s@cret").decode())]
    assert "s%40cret" not in dev._without_credentials(index)


@pytest.mark.parametrize(("argv", "code"), [(["--help"], 0), (["-h"], 0), (["deploy"], 2), ([], 2)])
def test_help_and_unknown_commands_answer_with_the_usage(argv: list[str], code: int) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "dev.py"), *argv], capture_output=True, text=True, timeout=30)
    assert result.returncode == code
    output = result.stdout + result.stderr
    assert output.count("usage: python3 dev.py") == 1 and "Traceback" not in output
    assert all(command in output for command in ("run", "test", "bench", "sync"))


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not under pytest's 0700 temp folder: PostgreSQL runs as its own user and must reach the data.
    parent = Path(tempfile.mkdtemp(prefix="k8sops-run-"))
    parent.chmod(0o755)
    yield parent / "data"
    shutil.rmtree(parent, ignore_errors=True)


def _read_lines(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line.rstrip("\n"))


def _json_list(url: str) -> list[Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        found = json.load(response)
    assert isinstance(found, list), found
    return found


def test_the_first_screen_of_run_has_no_warnings_and_a_token_for_every_role(data_dir: Path) -> None:
    ports = {
        f"K8SOPS_{name}_PORT": str(free_port())
        for name in ("INTAKE", "SLA_TIMER", "UPGRADE_RUNNER", "COST_ANALYZER", "AUDIT", "BROKER")
    }
    ports |= {f"K8SOPS_SANDBOX_{name}_PORT": str(free_port()) for name in ("KUBE", "PLATFORM", "PROMETHEUS")}
    # Audit signs its head every second, so the check below need not wait the default minute.
    env = _clean_env(**ports, K8SOPS_AUDIT_CHECKPOINT_INTERVAL_S="1")
    for variable in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "XDG_RUNTIME_DIR"):
        env.pop(variable, None)  # embedded servers, and the condition platformdirs warned about
    k8sops = Path(sys.executable).parent / "k8sops"
    process = subprocess.Popen(
        [str(k8sops), "run", "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    screen: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while not (screen and screen[-1].startswith("more tokens:")):
            assert time.monotonic() < deadline, "\n".join(screen)
            assert process.poll() is None, "\n".join(screen)
            try:
                screen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
        # Audit runs as its insert-only writer here, as nowhere else in the tests: it still signs.
        checkpoints = f"http://127.0.0.1:{ports['K8SOPS_AUDIT_PORT']}/v1/audit/checkpoints"
        while not _json_list(checkpoints):
            assert time.monotonic() < deadline + 60, "audit signed no checkpoint; see audit.log"
            assert process.poll() is None, "\n".join(screen)
            time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    text = "\n".join(screen)
    assert not [line for line in screen if re.search(r"warn|traceback", line, re.IGNORECASE)], text
    for role in ROLES:
        [line] = [line for line in screen if line.split()[:1] == [role]]
        payload = line.split()[1].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["roles"] == [f"k8s-ops.{role}"] and claims["engagements"] == ["eng-demo"]
    assert "k8sops-token --sub" in screen[-1]
    assert f"http://127.0.0.1:{ports['K8SOPS_INTAKE_PORT']}" in text
    assert "contexts        acme-prod (current), acme-staging" in text
    assert str(data_dir / "sandbox" / "kubeconfig") in text
    assert process.returncode == 0


def test_run_help_documents_every_option_and_variable_it_reads() -> None:
    k8sops = Path(sys.executable).parent / "k8sops"
    result = subprocess.run([str(k8sops), "run", "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    sources = "\n".join(path.read_text() for path in (ROOT / "libs/platform/src/k8sops_platform").glob("*.py"))
    read = set(re.findall(r'os\.environ(?:\.get\(|\[)"([A-Z0-9_]+)"', sources))
    read |= set(re.findall(r'\("--[a-z-]+", "([A-Z0-9_]+)"\)', sources))  # option/variable pairs
    read |= {f"K8SOPS_{name}_PORT" for name in ("INTAKE", "SLA_TIMER", "UPGRADE_RUNNER", "COST_ANALYZER", "AUDIT")}
    read -= {"PATH"}
    assert {"DATABASE_URL", "K8SOPS_SANDBOX_KUBE_PORT", "K8SOPS_JWT_SECRET"} <= read
    assert not [variable for variable in read if variable not in result.stdout]
    for option in ("--data-dir", "--no-sandbox", "--no-demo"):
        assert option in result.stdout
