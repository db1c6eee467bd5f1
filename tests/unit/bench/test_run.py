"""The benchmark runner: reads each script's last stdout line and reports failures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parents[3] / "bench"


def load_runner() -> ModuleType:
    sys.path.insert(0, str(BENCH_DIR))  # run.py imports its neighbour `support`
    try:
        spec = importlib.util.spec_from_file_location("bench_run", BENCH_DIR / "run.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH_DIR))


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bench_probe.py"
    path.write_text(body)
    return path


def test_the_last_stdout_line_is_the_result(tmp_path: Path) -> None:
    runner = load_runner()
    path = script(
        tmp_path, 'import sys\nprint("warming up")\nprint("noise", file=sys.stderr)\nprint(\'{"rate": 5}\')\n'
    )
    assert runner.run_one(path, [], timeout_s=30) == {"rate": 5}


def test_arguments_reach_the_benchmark(tmp_path: Path) -> None:
    runner = load_runner()
    path = script(tmp_path, 'import json, sys\nprint(json.dumps({"args": sys.argv[1:]}))\n')
    assert runner.run_one(path, ["--events", "7"], timeout_s=30) == {"args": ["--events", "7"]}


def test_a_crash_is_reported_with_its_stderr(tmp_path: Path) -> None:
    runner = load_runner()
    result = runner.run_one(script(tmp_path, 'raise RuntimeError("broker gone")\n'), [], timeout_s=30)
    assert result["error"] == "no JSON object on the last stdout line"
    assert result["exit_status"] == 1
    assert any("broker gone" in line for line in result["stderr_tail"])


def test_a_reported_error_keeps_its_message(tmp_path: Path) -> None:
    runner = load_runner()
    path = script(tmp_path, 'import sys\nprint(\'{"error": "AssertionError: 3 of 4"}\')\nsys.exit(1)\n')
    result = runner.run_one(path, [], timeout_s=30)
    assert result["error"] == "AssertionError: 3 of 4" and result["exit_status"] == 1


def test_names_are_accepted_with_or_without_prefix_and_suffix() -> None:
    runner = load_runner()
    assert list(runner.selected(["bench_bus.py"])) == ["bus"]
    assert list(runner.selected(["bus"])) == ["bus"]
