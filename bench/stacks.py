"""Sums py-spy's collapsed stacks (`-f raw --full-filenames`) by where the CPU time goes.

    .venv/bin/python bench/stacks.py intake.raw [--top 15]

Two views, in percent of all samples: inclusive (a stack counts once for every component any of
its frames belongs to: "how much would vanish without it") and self (by the package of the
innermost frame, adding up to 100 %). Stacks of threads that only wait are left out.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

# Inclusive components: a name and a pattern over the frames of a stack.
COMPONENTS: dict[str, str] = {
    "uvicorn + httptools (HTTP parsing, transport)": r"/uvicorn/|/httptools/",
    "starlette + fastapi (routing, dependencies, middleware)": r"/starlette/|/fastapi/",
    "opentelemetry (spans, instrumentation)": r"/opentelemetry/",
    "prometheus metrics": r"/prometheus_client/|k8sops_common/metrics\.py",
    "logging (access log, JSON formatter)": r"/logging/__init__\.py|JsonLogFormatter",
    "jwt verification": r"/jwt/|auth/tokens\.py",
    "pydantic (validation, serialisation)": r"/pydantic/|/pydantic_core/",
    "json": r"/json/",
    "sqlalchemy (ORM, core, compile, pool)": r"/sqlalchemy/",
    "asyncpg (driver, protocol)": r"/asyncpg/",
    "aiokafka (relay, consumer)": r"/aiokafka/",
}
WAITING = re.compile(r"threading\.py|selectors\.py|queue\.py")
FRAME_FILE = re.compile(r"\((.*?):\d+\)$")


def package_of(frame: str) -> str:
    match = FRAME_FILE.search(frame)
    path = match.group(1) if match else frame
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/k8sops_" in path:
        return "k8sops_" + path.split("/k8sops_", 1)[1].split("/", 1)[0]
    if "/python3" in path:
        return "stdlib " + path.rsplit("/python3", 1)[1].split("/", 2)[1].removesuffix(".py")
    return path or "(native)"


def summarise(lines: list[str], top: int) -> dict[str, object]:
    total = 0
    inclusive: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or WAITING.search(stack.rsplit(";", 1)[-1]):
            continue
        count = int(count_text)
        total += count
        for name, pattern in COMPONENTS.items():
            if re.search(pattern, stack):
                inclusive[name] += count
        by_package[package_of(stack.rsplit(";", 1)[-1])] += count

    def share(count: int) -> float:
        return round(100 * count / total, 1) if total else 0.0

    return {
        "samples": total,
        "inclusive_percent": {name: share(inclusive[name]) for name in COMPONENTS},
        "self_percent_by_package": {name: share(count) for name, count in by_package.most_common(top)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stacks", type=Path, help="py-spy record -f raw --full-filenames output")
    parser.add_argument("--top", type=int, default=15, help="packages listed in the self view (default 15)")
    args = parser.parse_args()
    print(json.dumps(summarise(args.stacks.read_text().splitlines(), args.top), indent=2))


if __name__ == "__main__":
    main()
