"""Runs the benchmarks, each in a process of its own, and prints one JSON object with every result.

    .venv/bin/python bench/run.py                     # every bench/bench_*.py
    .venv/bin/python bench/run.py bus                 # only bench_bus.py
    .venv/bin/python bench/run.py bus -- --events 5000  # arguments after `--` go to each benchmark

A benchmark prints its figures as a JSON object on its last stdout line and its progress on stderr
(passed through here). One that exits non-zero, or ends without such a line, or reports an "error",
is listed with its error and stderr tail, and this runner then exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from support import machine

BENCH_DIR = Path(__file__).resolve().parent
PREFIX = "bench_"
STDERR_TAIL_LINES = 30


def available() -> dict[str, Path]:
    return {path.stem.removeprefix(PREFIX): path for path in sorted(BENCH_DIR.glob(f"{PREFIX}*.py"))}


def selected(names: list[str]) -> dict[str, Path]:
    scripts = available()
    if not names:
        return scripts
    chosen: dict[str, Path] = {}
    for name in names:
        short = Path(name).stem.removeprefix(PREFIX)
        if short not in scripts:
            raise SystemExit(f"no benchmark {name!r}; available: {', '.join(scripts) or 'none'}")
        chosen[short] = scripts[short]
    return chosen


def _pass_through(stream: IO[str], tail: deque[str]) -> None:
    for line in stream:
        sys.stderr.write(line)
        sys.stderr.flush()
        tail.append(line.rstrip("\n"))


def run_one(script: Path, arguments: list[str], timeout_s: float) -> dict[str, Any]:
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    process = subprocess.Popen(
        [sys.executable, str(script), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=BENCH_DIR.parent,
    )
    assert process.stderr is not None and process.stdout is not None
    # Each pipe has its own reader: communicate() would race the relay thread for stderr lines.
    relay = threading.Thread(target=_pass_through, args=(process.stderr, tail), daemon=True)
    relay.start()
    stdout_chunks: list[str] = []
    reader = threading.Thread(target=lambda: stdout_chunks.append(process.stdout.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        relay.join(5)
        return {"error": f"timed out after {timeout_s:.0f} s", "stderr_tail": list(tail)}
    relay.join(5)
    reader.join(5)
    stdout = "".join(stdout_chunks)
    lines = stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = None
    if not isinstance(result, dict):
        result = {"error": "no JSON object on the last stdout line"}
    if process.returncode != 0 and "error" not in result:
        result = {"error": f"exit status {process.returncode}", **result}
    if "error" in result:
        result["exit_status"] = process.returncode
        result["stderr_tail"] = list(tail)
    return result


def main() -> None:
    argv = sys.argv[1:]
    passed_on: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, passed_on = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="benchmarks to run (bus, bench_bus or bench_bus.py); default all")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark (default 1800)")
    args = parser.parse_args(argv)

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    results = {name: run_one(script, passed_on, args.timeout) for name, script in selected(args.names).items()}
    print(json.dumps({"machine": machine(), "started_at": started_at, "benchmarks": results}, indent=2))
    if any("error" in result for result in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
