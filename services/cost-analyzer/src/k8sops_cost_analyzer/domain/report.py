"""The report of an analysis, assessment or review: one JSON document, and Markdown and HTML
rendered from it, so the three carry the same numbers by construction."""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from .findings import Finding
from .inventory import Inventory
from .posture import PostureFinding, cost_severity
from .pricing import GIB, ResourceRates
from .review import CategoryScore, support_status
from .usage import WorkloadUsage

TITLES = {
    "cost-analysis": "Cost analysis",
    "onboarding-assessment": "Onboarding assessment",
    "health-review": "Quarterly health review",
}


def money(value: float) -> str:
    return f"{value:,.2f} BDT"


def build_report(
    *,
    header: dict[str, Any],
    inventory: Inventory,
    workloads: list[WorkloadUsage],
    findings: list[Finding],
    posture: list[PostureFinding],
    scores: list[CategoryScore],
    rates: ResourceRates,
    trend: list[dict[str, Any]],
    resurfaced: list[dict[str, Any]],
    today: Any,
    drift: dict[str, Any] | None = None,
) -> dict[str, Any]:
    minor = ".".join(inventory.version.lstrip("v").split(".")[:2])
    cpu = sum(w.requested()[0] for w in workloads)
    memory = sum(w.requested()[1] for w in workloads)
    request_cost = round(rates.monthly_cost(cpu, memory), 2)
    savings = round(sum(f.monthly_savings_bdt for f in findings), 2)
    recommended = round(sum(f.monthly_savings_bdt for f in findings if f.recommended), 2)
    current = {
        "quarter": header.get("quarter") or "now",
        "monthly_request_cost_bdt": request_cost,
        "recommended_savings_bdt": recommended,
    }
    return {
        **header,
        "topology": {
            "version": inventory.version,
            "minor": minor,
            "support": support_status(minor, today),
            "control_plane_ready": inventory.control_plane_ready,
            "nodes": len(inventory.nodes),
            "ready_nodes": sum(1 for n in inventory.nodes if n.ready),
            "spot_nodes": sum(1 for n in inventory.nodes if n.capacity_type == "spot"),
            "node_types": dict(sorted(Counter(n.instance_type for n in inventory.nodes).items())),
            "kubelet_versions": sorted({n.kubelet_version for n in inventory.nodes}),
        },
        "inventory": {
            "namespaces": len(inventory.namespaces),
            "workloads": dict(sorted(Counter(kind for kind, _, _ in inventory.workloads).items())),
            "pods": len(inventory.pod_owner),
            "network_policy_coverage": f"{len(inventory.namespaces_with_policy & set(inventory.namespaces))}/"
            f"{len(inventory.namespaces)}",
        },
        "cost": {
            "requested_cpu_cores": round(cpu, 3),
            "requested_memory_gib": round(memory / GIB, 3),
            "core_month_bdt": round(rates.core_month, 2),
            "gib_month_bdt": round(rates.gib_month, 2),
            "monthly_request_cost_bdt": request_cost,
            "monthly_savings_bdt": savings,
            "recommended_savings_bdt": recommended,
        },
        "findings": [
            {
                "kind": str(f.kind),
                "target": f.target,
                "title": f.title,
                "detail": f.detail,
                "monthly_savings_bdt": f.monthly_savings_bdt,
                "effort": str(f.effort),
                "severity": cost_severity(f.monthly_savings_bdt, f.recommended).name.lower(),
                "recommended": f.recommended,
                "change": f.change,
            }
            for f in findings
        ],
        "posture": [
            {
                "check": p.check,
                "category": str(p.category),
                "severity": p.severity.name.lower(),
                "target": p.target,
                "detail": p.detail,
            }
            for p in sorted(posture, key=lambda p: (-p.severity, p.check, p.target))
        ],
        "scorecard": [
            {
                "category": str(s.category),
                "score": s.score,
                "previous_score": s.previous_score,
                "movement": s.movement,
                "counts": s.counts,
            }
            for s in scores
        ],
        "trend": [*trend, current],
        "resurfaced": resurfaced,
        "drift": drift,
    }


def drift_summary(measured: Mapping[Any, Any] | None) -> dict[str, Any]:
    """The review's drift section from the latest `drift.measured` the runner published."""
    if measured is None:
        return {"measured": False}
    objects = list(measured["objects"])
    return {
        "measured": True,
        "measured_at": measured["measured_at"].isoformat(),
        "source": measured["source"],
        "desired_state": measured["desired_state"],
        "trigger": measured["trigger"],
        "operation_id": measured["operation_id"],
        "total": measured["total"],
        "counts": {kind: sum(1 for o in objects if o["drift"] == kind) for kind in ("missing", "extra", "changed")},
        "objects": objects,
    }


def _cell(value: Any) -> str:
    """A value on one table line: JSON (newlines escaped), bounded, no column separator."""
    text = json.dumps(value, sort_keys=True)
    return (text if len(text) <= 80 else text[:77] + "...").replace("|", "¦")


def _drift_lines(drift: dict[str, Any]) -> list[str]:
    lines = ["", "## Configuration drift", ""]
    if not drift["measured"]:
        return [*lines, "- Not measured yet: no drift check or reconcile has reported on this cluster."]
    counts = drift["counts"]
    lines += [
        f"- Measured {drift['measured_at']} ({drift['trigger']}) against the {drift['source']} desired state "
        f"({drift['desired_state']}): {drift['total']} drifted object(s); {counts['changed']} changed, "
        f"{counts['missing']} missing, {counts['extra']} extra",
    ]
    if drift["total"] > len(drift["objects"]):
        lines.append(f"- The first {len(drift['objects'])} are listed.")
    if drift["objects"]:
        lines += ["", "| object | drift | fields (desired → live) |", "|---|---|---|"]
    for obj in drift["objects"]:
        fields = "; ".join(f"`{c['path']}`: {_cell(c['desired'])} → {_cell(c['live'])}" for c in obj["changes"])
        lines.append(f"| `{obj['object']}` | {obj['drift']} | {fields or '—'} |")
    return lines


def _when(report: dict[str, Any]) -> str:
    """The quarter and the timezone whose calendar it is in (reports stored before the timezone
    was kept name none), or the day a cost analysis was made."""
    quarter, timezone = report.get("quarter"), report.get("timezone")
    if quarter is None:
        return str(report["generated_at"][:10])
    return f"{quarter}, {timezone}" if timezone else str(quarter)


def render_markdown(report: dict[str, Any]) -> str:
    topology, inventory, cost = report["topology"], report["inventory"], report["cost"]
    lines = [
        f"# {TITLES[report['kind']]}: {report['cluster_name']} ({_when(report)})",
        "",
        f"Engagement `{report['engagement_id']}`, cluster `{report['cluster_id']}`, "
        f"generated {report['generated_at']}, usage from {report['usage_source']}.",
        "",
        "## Topology and version",
        "",
        f"- Kubernetes {topology['version']}: {topology['support']}",
        f"- Control plane ready: {'yes' if topology['control_plane_ready'] else 'NO'}",
        f"- Nodes: {topology['nodes']} ({topology['ready_nodes']} ready, {topology['spot_nodes']} spot); "
        + ", ".join(f"{count} x {kind}" for kind, count in topology["node_types"].items()),
        "",
        "## Workload inventory",
        "",
        f"- Namespaces: {inventory['namespaces']} (NetworkPolicy coverage {inventory['network_policy_coverage']})",
        f"- Pods: {inventory['pods']}; "
        + ", ".join(f"{count} {kind}s" for kind, count in inventory["workloads"].items()),
        "",
        "## Scorecard (lower is better)",
        "",
        "| category | score | last quarter | movement |",
        "|---|---|---|---|",
    ]
    for card in report["scorecard"]:
        previous = "—" if card["previous_score"] is None else str(card["previous_score"])
        lines.append(f"| {card['category']} | {card['score']} | {previous} | {card['movement']} |")
    lines += [
        "",
        "## Cost",
        "",
        f"- Requests cost {money(cost['monthly_request_cost_bdt'])} per month "
        f"({cost['requested_cpu_cores']} cores at {money(cost['core_month_bdt'])}, "
        f"{cost['requested_memory_gib']} GiB at {money(cost['gib_month_bdt'])})",
        f"- Savings found: {money(cost['monthly_savings_bdt'])} per month, "
        f"recommended: {money(cost['recommended_savings_bdt'])}",
        "",
        "| finding | target | savings per month | effort | severity | recommended |",
        "|---|---|---|---|---|---|",
    ]
    for finding in report["findings"]:
        lines.append(
            f"| {finding['title']} | `{finding['target']}` | {money(finding['monthly_savings_bdt'])} | "
            f"{finding['effort']} | {finding['severity']} | {'yes' if finding['recommended'] else 'no'} |"
        )
    lines += ["", "### How each figure was worked out", ""]
    lines += [f"- **{f['kind']}** `{f['target']}`: {f['detail']}" for f in report["findings"]]
    lines += ["", "## Cost trend", "", "| quarter | requests per month | recommended savings |", "|---|---|---|"]
    for point in report["trend"]:
        lines.append(
            f"| {point['quarter']} | {money(point['monthly_request_cost_bdt'])} | "
            f"{money(point['recommended_savings_bdt'])} |"
        )
    if report["resurfaced"]:
        lines += ["", "## Re-surfaced (not adopted last time)", ""]
        lines += [f"- {r['title']} `{r['target']}`: {money(r['monthly_savings_bdt'])}" for r in report["resurfaced"]]
    if report.get("drift") is not None:
        lines += _drift_lines(report["drift"])
    lines += ["", "## Security and reliability posture", "", "| severity | category | check | target | detail |"]
    lines.append("|---|---|---|---|---|")
    for p in report["posture"]:
        lines.append(f"| {p['severity']} | {p['category']} | {p['check']} | `{p['target']}` | {p['detail']} |")
    return "\n".join(lines) + "\n"


def trend_chart_svg(trend: list[dict[str, Any]]) -> str:
    """Grouped bars per quarter: monthly cost of requests and recommended savings, self-contained SVG."""
    width, height, top, bottom, left = 640, 260, 30, 40, 70
    peak = max([p["monthly_request_cost_bdt"] for p in trend] + [1.0])
    slot = (width - left - 10) / max(len(trend), 1)
    bar = min(40.0, slot / 3)
    scale = (height - top - bottom) / peak
    parts = [
        f'<svg id="cost-trend" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Cost trend per quarter">',
        "<title>Monthly cost of requests and recommended savings per quarter (BDT)</title>",
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#333"/>',
        f'<text x="4" y="{top}" font-size="11">{peak:,.0f}</text>',
    ]
    for index, point in enumerate(trend):
        x = left + index * slot + slot / 2 - bar
        for offset, key, colour in (
            (0, "monthly_request_cost_bdt", "#4a78b5"),
            (bar, "recommended_savings_bdt", "#59a14f"),
        ):
            value = point[key]
            bar_height = value * scale
            parts.append(
                f'<rect class="{key}" x="{x + offset:.1f}" y="{height - bottom - bar_height:.1f}" width="{bar:.1f}" '
                f'height="{bar_height:.1f}" fill="{colour}"><title>{html.escape(point["quarter"])}: '
                f"{money(value)}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar:.1f}" y="{height - bottom + 16}" font-size="12" text-anchor="middle">'
            f"{html.escape(point['quarter'])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    """A standalone page: inline CSS and SVG, no script, no external asset."""
    body = render_markdown(report)
    sections = _markdown_to_html(body)
    title = html.escape(f"{TITLES[report['kind']]}: {report['cluster_name']}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>body{{font-family:sans-serif;max-width:980px;margin:2em auto}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"
        f"{sections.replace('<h2>Cost trend</h2>', '<h2>Cost trend</h2>' + trend_chart_svg(report['trend']), 1)}"
        "</body></html>\n"
    )


def _markdown_to_html(markdown: str) -> str:
    """The small Markdown subset `render_markdown` writes: headings, bullets, tables, code, bold."""
    out: list[str] = []
    in_list = in_table = False
    for raw in markdown.splitlines():
        line = _inline(raw)
        if in_list and not raw.startswith("- "):
            out.append("</ul>")
            in_list = False
        if in_table and not raw.startswith("|"):
            out.append("</table>")
            in_table = False
        if raw.startswith("### "):
            out.append(f"<h3>{line[4:]}</h3>")
        elif raw.startswith("## "):
            out.append(f"<h2>{line[3:]}</h2>")
        elif raw.startswith("# "):
            out.append(f"<h1>{line[2:]}</h1>")
        elif raw.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{line[2:]}</li>")
        elif raw.startswith("|"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if set(raw) <= {"|", "-"}:
                continue
            tag = "td" if in_table else "th"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join(f"<{tag}>{cell}</{tag}>" for cell in cells) + "</tr>")
        elif raw:
            out.append(f"<p>{line}</p>")
    if in_list:
        out.append("</ul>")
    if in_table:
        out.append("</table>")
    return "\n".join(out)


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    parts = escaped.split("`")
    rendered = "".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts))
    bold = rendered.split("**")
    return "".join(f"<strong>{part}</strong>" if index % 2 else part for index, part in enumerate(bold))
