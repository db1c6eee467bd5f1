"""`metrics.k8s.io` (so `kubectl top` works) and the apiserver's own `/metrics` text."""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import JSONResponse, Response

from .kube_errors import ApiError
from .resources import ResourceType
from .store import Obj
from .usage import UsageModel


def metrics_api(
    usage: UsageModel, resource: ResourceType, name: str | None, nodes: list[Obj], pods: list[Obj]
) -> Response:
    """PodMetrics/NodeMetrics for the selected nodes or (running) pods."""
    now = time.time()
    if resource.plural == "nodes":
        items = [usage.node_metrics(node, now) for node in nodes]
    else:
        items = [usage.pod_metrics(pod, now) for pod in pods if pod["status"].get("phase") == "Running"]
    if name is not None:
        match = next((item for item in items if item["metadata"]["name"] == name), None)
        if match is None:
            raise ApiError(404, "NotFound", f'{resource.plural}.metrics.k8s.io "{name}" not found')
        return JSONResponse(match)
    return JSONResponse(
        {"kind": f"{resource.kind}List", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}
    )


def metrics_text(deprecated_calls: dict[Any, int], request_counts: dict[tuple[str, str, str], int]) -> str:
    lines = [
        "# HELP apiserver_requested_deprecated_apis [STABLE] Gauge of deprecated APIs that have been "
        "requested, broken out by API group, version, resource, subresource, and removed_release.",
        "# TYPE apiserver_requested_deprecated_apis gauge",
    ]
    for group, version, plural, removed in sorted(deprecated_calls):
        lines.append(
            f'apiserver_requested_deprecated_apis{{group="{group}",removed_release="{removed}",'
            f'resource="{plural}",subresource="",version="{version}"}} 1'
        )
    lines += [
        "# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each "
        "verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
        "# TYPE apiserver_request_total counter",
    ]
    for (method, key, subresource), count in sorted(request_counts.items()):
        group, _, plural = key.rpartition("/")
        labels = f'group="{group}",resource="{plural}",subresource="{subresource}",verb="{method}"'
        lines.append(f"apiserver_request_total{{{labels}}} {count}")
    return "\n".join(lines) + "\n"
