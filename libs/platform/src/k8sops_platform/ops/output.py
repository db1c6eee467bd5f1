"""Tables for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from .client import CliError, Exit

# A terminal's own width; piped into a file or a grep, rows are not cut to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, soft_wrap=True)  # one line per error, for grep


def emit(data: Any, as_json: bool, columns: Sequence[str] = (), title: str | None = None) -> None:
    """`data` as JSON, or as a table of `columns` (a list of objects) or of fields (one object)."""
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    if isinstance(data, list):
        table = Table(*columns, title=title)
        for item in data:
            table.add_row(*(_cell(item.get(column)) for column in columns))
        console.print(table if data else f"{title or 'nothing'}: none")
        return
    table = Table("field", "value", title=title, show_header=False)
    for key, value in data.items():
        table.add_row(key, _cell(value))
    console.print(table)


def report_format(chosen: str, as_json: bool, formats: Sequence[str]) -> str:
    """`--json` means the JSON report; anything but `formats` is a usage error (exit 2)."""
    chosen = "json" if as_json else chosen
    if chosen not in formats:
        raise CliError(f"--format is one of {', '.join(formats)}, not {chosen!r}", Exit.USAGE)
    return chosen


def write_report(text: str, chosen: str) -> None:
    """A report as the service rendered it; JSON indented for people."""
    if chosen == "json":
        text = json.dumps(json.loads(text), indent=2)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def duration(seconds: float) -> str:
    """`1h 05m` or `-0h 12m` (negative: overdue)."""
    sign = "-" if seconds < 0 else ""
    minutes = int(abs(seconds) // 60)
    return f"{sign}{minutes // 60}h {minutes % 60:02d}m"
