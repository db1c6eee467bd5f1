"""The operation report: one JSON document, and the same content as Markdown (SPEC 6.5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def build_report(
    operation: Mapping[Any, Any],
    steps: Sequence[Mapping[Any, Any]],
    nodes: Sequence[Mapping[Any, Any]],
) -> dict[str, Any]:
    """Everything the customer needs to read afterwards: every step with its timing, findings
    with their evidence, every node touched (and how it was left), and the outcome."""
    pools: dict[str, list[dict[str, Any]]] = {}
    for node in nodes:
        pools.setdefault(f"{node['cluster_name']}/{node['pool']}", []).append(
            {
                "node": node["node"],
                "phase": node["phase"],
                "from_version": node["from_version"],
                "to_version": node["to_version"],
                "started_at": _iso(node["started_at"]),
                "finished_at": _iso(node["finished_at"]),
                "touched": list(node["touched"] or []),
                "detail": node["detail"],
            }
        )
    timed_steps = []
    for index, step in enumerate(steps):
        ended = steps[index + 1]["at"] if index + 1 < len(steps) else None
        timed_steps.append(
            {
                "state": step["to_state"],
                "from_state": step["from_state"],
                "started_at": _iso(step["at"]),
                "ended_at": _iso(ended),
                "seconds": round((ended - step["at"]).total_seconds(), 3) if ended else None,
                "actor": step["actor"],
                "detail": step["detail"],
            }
        )
    return {
        "operation_id": operation["operation_id"],
        "kind": operation["kind"],
        "engagement_id": operation["engagement_id"],
        "cluster_id": operation["cluster_id"],
        "cluster_name": operation["cluster_name"],
        "from_version": operation["from_version"],
        "to_version": operation["to_version"],
        "outcome": operation["state"],
        "emergency": operation["emergency"],
        "stage": operation["stage"],
        "signoff": operation["signoff"],
        "findings": list(operation["findings"] or []),
        "postcheck_problems": list((operation["postcheck"] or {}).get("problems", [])),
        "rollback": operation["rollback"],
        "failure": operation["failure"],
        "steps": timed_steps,
        "node_pools": pools,
        "spec": operation.get("spec"),
    }


TITLES = {"upgrade": "Upgrade", "addon": "Add-on", "drift-reconcile": "Drift reconcile", "migration": "Migration"}


def _kind_sections(report: Mapping[str, Any]) -> list[str]:
    """What a kind other than `upgrade` acted on: the add-on, the drifted objects, the workloads."""
    spec = report.get("spec") or {}
    if report["kind"] == "upgrade" and spec.get("surge"):
        lines = ["## Node replacement", ""]
        for pool, entry in sorted(spec["surge"].items()):
            names = ", ".join(node["name"] for node in entry["nodes"])
            lines.append(f"- {pool}: {entry['mode']} ({entry['reason']}{': ' + names if names else ''})")
        return [*lines, ""]
    if report["kind"] == "addon" and spec:
        return ["## Add-on", "", f"- {spec['addon']} {spec['version']} in namespace {spec['namespace']}", ""]
    if report["kind"] == "drift-reconcile" and spec.get("drift") is not None:
        lines = ["## Drift", ""]
        for finding in spec["drift"]:
            fields = ", ".join(change["path"] for change in finding["changes"])
            lines.append(f"- {finding['object']}: {finding['drift']}" + (f" ({fields})" if fields else ""))
        lines += ["", "## Reconcile actions", "", *[f"- {action}" for action in spec.get("actions", [])], ""]
        return lines
    if report["kind"] == "migration" and spec:
        topology = spec["topology"] or "not drafted yet (a migration request's plan is drafted at pre-check)"
        lines = ["## Topology", "", topology, "", "## Workloads", "", "| workload | phase | detail |"]
        lines.append("|---|---|---|")
        for workload in spec["workloads"]:
            name = f"{workload['kind']} {workload['namespace']}/{workload['name']}"
            lines.append(f"| {name} | {workload['phase']} | {_cell(workload['detail'])} |")
        return [*lines, ""]
    return []


def render_markdown(report: Mapping[str, Any]) -> str:
    lines = [
        f"# {TITLES.get(report['kind'], 'Operation')} report: {report['cluster_name']} "
        f"{report['from_version']} → {report['to_version']}",
        "",
        f"- Operation: `{report['operation_id']}` ({report['kind']})",
        f"- Outcome: **{report['outcome']}**",
        f"- Emergency: {'yes' if report['emergency'] else 'no'}",
    ]
    if report["stage"]:
        stage = report["stage"]
        lines.append(f"- Stage: `{stage.get('stage_ref')}` on {stage.get('cluster_name')}: {stage.get('result')}")
    if report["signoff"]:
        lines.append(f"- Signed off by {report['signoff']['signed_by']} at {report['signoff']['at']}")
    if report["failure"]:
        lines.append(f"- Failure: {report['failure']}")
    lines += ["", "## Steps", "", "| state | started | seconds | by | detail |", "|---|---|---|---|---|"]
    for step in report["steps"]:
        seconds = "" if step["seconds"] is None else f"{step['seconds']:.1f}"
        lines.append(
            f"| {step['state']} | {step['started_at']} | {seconds} | {step['actor']} | {_cell(step['detail'])} |"
        )
    lines += ["", "## Findings", ""]
    if not report["findings"]:
        lines.append("None.")
    for finding in report["findings"]:
        source = f" (signal: {finding['signal']})" if finding.get("signal") else ""
        lines.append(
            f"- **{finding['severity']}** `{finding['code']}` {finding['message']}{source}. "
            f"Evidence: {finding['evidence']}"
        )
    lines += ["", *_kind_sections(report)]
    if report["node_pools"]:
        lines += ["## Nodes", ""]
    for pool, nodes in report["node_pools"].items():
        lines += [
            f"### {pool}",
            "",
            "| node | phase | from | to | started | finished | touched |",
            "|---|---|---|---|---|---|---|",
        ]
        for node in nodes:
            lines.append(
                f"| {node['node']} | {node['phase']} | {node['from_version']} | {node['to_version']} | "
                f"{node['started_at'] or ''} | {node['finished_at'] or ''} | {', '.join(node['touched'])} |"
            )
        lines.append("")
    if report["rollback"]:
        lines += ["## Rollback", ""]
        lines += [f"- {entry}" for entry in report["rollback"].get("actions", [])]
        lines.append("")
    if report["postcheck_problems"]:
        lines += ["## Post-check problems", ""]
        lines += [f"- {problem}" for problem in report["postcheck_problems"]]
    return "\n".join(lines).rstrip() + "\n"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
