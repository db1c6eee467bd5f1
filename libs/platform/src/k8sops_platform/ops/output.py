"""Tables for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)


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
