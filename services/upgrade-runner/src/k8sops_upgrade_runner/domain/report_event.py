"""The report as it travels on `upgrade.report`: bounded, so a 500-node report still fits one
Kafka message; the whole report stays on the API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Characters of Markdown and of JSON each; with the envelope the message stays far below the
# broker's 1 MB default.
REPORT_EVENT_LIMIT = 60_000


def bounded_report(report: Mapping[str, Any], markdown: str, limit: int = REPORT_EVENT_LIMIT) -> dict[str, Any]:
    """`markdown`, `report` and `truncated` for the event. Too long a Markdown is cut at a line end
    with a note; too large a JSON keeps everything but its per-node rows, which become per-pool
    counts of each phase (the rows are the bulk of a large cluster's report)."""
    truncated = False
    if len(markdown) > limit:
        note = "\n\n… (cut to fit the event: the whole report is on the operation's report endpoint)\n"
        cut = markdown[: limit - len(note)]
        markdown = cut[: cut.rfind("\n") + 1 or len(cut)] + note
        truncated = True
    document = dict(report)
    if len(json.dumps(document, default=str)) > limit:
        document["node_pools"] = {
            pool: {"nodes": len(rows), "phases": _phase_counts(rows)} for pool, rows in report["node_pools"].items()
        }
        document["spec"] = None
        truncated = True
        if len(json.dumps(document, default=str)) > limit:
            document = {key: report[key] for key in SUMMARY_KEYS if key in report}
    return {"markdown": markdown, "report": document, "truncated": truncated}


SUMMARY_KEYS = (
    "operation_id",
    "kind",
    "engagement_id",
    "cluster_id",
    "cluster_name",
    "from_version",
    "to_version",
    "outcome",
    "failure",
)


def _phase_counts(rows: list[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["phase"]] = counts.get(row["phase"], 0) + 1
    return counts
