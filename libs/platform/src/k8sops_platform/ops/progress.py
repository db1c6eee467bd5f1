"""`k8sops upgrades watch`: a running operation followed until it ends or waits for a person.

People get a Rich live view (state, nodes done, the latest step); scripts (`--json`) get one JSON
line per change, the last one naming the outcome. The exit code is the outcome (`client.Exit`).
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from .client import Api, Exit
from .output import console

ENDED = {"completed": Exit.OK, "rolled_back": Exit.NOT_COMPLETED, "cancelled": Exit.NOT_COMPLETED}
ENDED["precheck_failed"] = Exit.NOT_COMPLETED  # stays there until someone fixes the cluster and re-checks
WAITS_FOR = {
    "awaiting_signoff": "the customer's sign-off (`k8sops upgrades sign-off`)",
    "awaiting_decommission": "an operator's decommission",
    "shift_blocked": "a re-check after the blocked workloads are fixed",
}
# A scheduled operation whose next run is further away than this waits for its maintenance window.
WINDOW_WAIT = timedelta(seconds=60)


@dataclass
class Snapshot:
    operation: dict[str, Any]
    nodes: list[dict[str, Any]]
    last_step: dict[str, Any] | None

    def summary(self) -> dict[str, Any]:
        op = self.operation
        return {
            "operation_id": op["operation_id"],
            "kind": op["kind"],
            "cluster_id": op["cluster_id"],
            "state": op["state"],
            "from_version": op["from_version"],
            "to_version": op["to_version"],
            "nodes_done": sum(1 for node in self.nodes if node["phase"] == "done"),
            "nodes_total": len(self.nodes),
            "last_step": self.last_step,
        }


def snapshot(client: Api, operation_id: str) -> Snapshot:
    base = f"/v1/operations/{operation_id}"
    operation = client.get(base)
    steps = client.get(f"{base}/steps")
    return Snapshot(operation, client.get(f"{base}/nodes"), steps[-1] if steps else None)


def outcome_of(operation: dict[str, Any], now: datetime) -> tuple[Exit, str] | None:
    """How `watch` ends for this state, or None while the runner is still working on it."""
    state = operation["state"]
    if state in ENDED:
        return ENDED[state], state
    if state in WAITS_FOR:
        return Exit.NOT_FINISHED, f"{state}: waits for {WAITS_FOR[state]}"
    if state == "scheduled":
        next_run = operation["next_run_at"]
        if next_run is None or datetime.fromisoformat(next_run) > now + WINDOW_WAIT:
            return Exit.NOT_FINISHED, f"scheduled: waits for its maintenance window (next look {next_run or 'none'})"
    return None


def render(snap: Snapshot) -> Group:
    summary = snap.summary()
    header = Table(show_header=False, box=None)
    header.add_row("operation", f"{summary['operation_id']} ({summary['kind']}) on {summary['cluster_id']}")
    header.add_row("versions", f"{summary['from_version'] or '?'} → {summary['to_version'] or '?'}")
    header.add_row("state", f"[bold]{summary['state']}[/bold]")
    step = summary["last_step"]
    if step:
        header.add_row("last step", f"{step['at']} {step['to_state']}: {step['detail']}")
    clusters: dict[str, list[dict[str, Any]]] = {}
    for node in snap.nodes:  # a bar per cluster: a staged upgrade does the non-prod pair as well
        clusters.setdefault(node["cluster_name"], []).append(node)
    for cluster, nodes_of in clusters.items():
        done = sum(1 for node in nodes_of if node["phase"] == "done")
        bar = Table.grid(padding=(0, 1))
        bar.add_row(ProgressBar(total=len(nodes_of), completed=done, width=40), f"{done}/{len(nodes_of)}")
        header.add_row(f"nodes {cluster}", bar)
    parts: list[Any] = [header]
    if snap.nodes:
        nodes = Table("node", "pool", "phase", "detail", title=None)
        for node in snap.nodes:
            if node["phase"] not in ("pending", "done"):
                nodes.add_row(node["node"], node["pool"], node["phase"], node["detail"])
        if nodes.row_count:
            parts.append(nodes)
    return Group(*parts)


def watch(client: Api, operation_id: str, *, interval_s: float, timeout_s: float | None, as_json: bool) -> Exit:
    """Polls until the operation ends, waits for a person, or `timeout_s` passes."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    printed: dict[str, Any] | None = None
    snap = snapshot(client, operation_id)
    live = nullcontext() if as_json else Live(render(snap), console=console, auto_refresh=False)
    with live:
        while True:
            outcome = outcome_of(snap.operation, datetime.now(UTC))
            if outcome is None and deadline is not None and time.monotonic() > deadline:
                outcome = (Exit.NOT_FINISHED, f"{snap.operation['state']}: still running after {timeout_s:g} s")
            summary = snap.summary()
            if as_json and (summary != printed or outcome is not None):
                line = {**summary, **({"outcome": outcome[1], "exit_code": int(outcome[0])} if outcome else {})}
                print(json.dumps(line, default=str), flush=True)
                printed = summary
            elif isinstance(live, Live):
                live.update(render(snap), refresh=True)
            if outcome is not None:
                break
            time.sleep(interval_s)
            snap = snapshot(client, operation_id)
    if not as_json:
        console.print(f"{operation_id}: {outcome[1]}", highlight=False)
    return outcome[0]
