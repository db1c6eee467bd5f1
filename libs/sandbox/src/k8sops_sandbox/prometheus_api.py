"""Prometheus-compatible HTTP API over the synthetic usage: /api/v1/query and /api/v1/query_range.

Every series carries a `cluster` label; /clusters/<name>/api/v1/... serves one cluster only, like
a Prometheus per cluster. Pods are assumed to have existed over the whole queried history.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .promql import Evaluator, PromQLError, RangeSample, Sample, Series, parse, parse_duration
from .quantity import parse_quantity

if TYPE_CHECKING:
    from .server import Sandbox

MAX_POINTS = 11_000  # Prometheus refuses more points per series than this


def build_series(sandbox: Sandbox, only_cluster: str | None) -> list[Series]:
    series: list[Series] = []
    for name, model in sandbox.usage.items():
        if only_cluster not in (None, name):
            continue
        for pod, container, profile in model.running_containers():
            meta = pod["metadata"]
            base = {
                "cluster": name,
                "namespace": meta["namespace"],
                "pod": meta["name"],
                "container": container["name"],
                "node": pod["spec"].get("nodeName", ""),
                "image": container["image"],
                "job": "kubelet",
                "metrics_path": "/metrics/cadvisor",
                "service": "kubelet",
                "endpoint": "https-metrics",
                "instance": f"{pod['status'].get('hostIP', '')}:10250",
            }
            cpu = Series({"__name__": "container_cpu_usage_seconds_total", **base}, profile.cpu_seconds, profile.since)
            memory = Series(
                {"__name__": "container_memory_working_set_bytes", **base}, profile.memory_bytes, profile.since
            )
            series += [cpu, memory]
            kube_state = {
                "cluster": name,
                "namespace": meta["namespace"],
                "pod": meta["name"],
                "container": container["name"],
                "node": pod["spec"].get("nodeName", ""),
                "job": "kube-state-metrics",
            }
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                for resource, unit in (("cpu", "core"), ("memory", "byte")):
                    raw = resources.get(kind, {}).get(resource)
                    if raw is None:
                        continue
                    value = parse_quantity(raw)
                    series.append(
                        Series(
                            {
                                "__name__": f"kube_pod_container_resource_{kind}",
                                **kube_state,
                                "resource": resource,
                                "unit": unit,
                            },
                            _constant(value),
                        )
                    )
    return series


def _constant(value: float) -> Callable[[float], float]:
    return lambda _moment: value


def _time(raw: str | None, default: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()


def _step(raw: str | None) -> float:
    if not raw:
        raise PromQLError("missing step")
    try:
        return float(raw)
    except ValueError:
        return parse_duration(raw)


def _format(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return (
        repr(float(value)) if not float(value).is_integer() else str(int(value)) if abs(value) < 1e15 else repr(value)
    )


def _error(message: str, kind: str = "bad_data", status: int = 400) -> JSONResponse:
    return JSONResponse({"status": "error", "errorType": kind, "error": message}, status)


def build_prometheus_app(sandbox: Sandbox) -> Starlette:
    async def params(request: Request) -> dict[str, str]:
        values = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            values.update({k: str(v) for k, v in form.items()})
        return values

    async def query(request: Request) -> JSONResponse:
        args = await params(request)
        cluster = request.path_params.get("cluster")
        try:
            node = parse(args.get("query", ""))
            at = _time(args.get("time"), time.time())
            value = Evaluator(build_series(sandbox, cluster)).eval(node, at)
        except (PromQLError, ValueError) as error:
            return _error(str(error))
        if isinstance(value, float):
            return JSONResponse({"status": "success", "data": {"resultType": "scalar", "result": [at, _format(value)]}})
        if value and isinstance(value[0], RangeSample):
            result = [
                {"metric": s.labels, "values": [[t, _format(v)] for t, v in zip(s.times, s.all_values(), strict=True)]}
                for s in value
                if isinstance(s, RangeSample)
            ]
            return JSONResponse({"status": "success", "data": {"resultType": "matrix", "result": result}})
        vector = [{"metric": s.labels, "value": [at, _format(s.value)]} for s in value if isinstance(s, Sample)]
        return JSONResponse({"status": "success", "data": {"resultType": "vector", "result": vector}})

    async def query_range(request: Request) -> JSONResponse:
        args = await params(request)
        cluster = request.path_params.get("cluster")
        try:
            node = parse(args.get("query", ""))
            start, end = _time(args.get("start"), math.nan), _time(args.get("end"), math.nan)
            step = _step(args.get("step"))
            if math.isnan(start) or math.isnan(end) or end < start or step <= 0:
                raise PromQLError("start, end and a positive step are required, with end >= start")
            if (end - start) / step > MAX_POINTS:
                raise PromQLError(
                    "exceeded maximum resolution of 11,000 points per timeseries. "
                    "Try decreasing the query resolution (?step=XX)"
                )
            evaluator = Evaluator(build_series(sandbox, cluster))
            collected: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
            moment = start
            while moment <= end:
                value = evaluator.eval(node, moment)
                if isinstance(value, float):
                    value = [Sample({}, value)]
                for sample in value:
                    if not isinstance(sample, Sample):
                        raise PromQLError("range queries need an instant vector or scalar expression")
                    key = tuple(sorted(sample.labels.items()))
                    entry = collected.setdefault(key, {"metric": sample.labels, "values": []})
                    entry["values"].append([moment, _format(sample.value)])
                moment += step
        except (PromQLError, ValueError) as error:
            return _error(str(error))
        return JSONResponse({"status": "success", "data": {"resultType": "matrix", "result": list(collected.values())}})

    async def labels(request: Request) -> JSONResponse:
        names = sorted({k for s in build_series(sandbox, request.path_params.get("cluster")) for k in s.labels})
        return JSONResponse({"status": "success", "data": names})

    async def label_values(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        values = sorted(
            {s.labels[name] for s in build_series(sandbox, request.path_params.get("cluster")) if name in s.labels}
        )
        return JSONResponse({"status": "success", "data": values})

    async def buildinfo(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "success",
                "data": {
                    "version": "2.53.0",
                    "revision": "sandbox",
                    "branch": "HEAD",
                    "goVersion": "go1.22.5",
                },
            }
        )

    async def healthy(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    routes = []
    for prefix in ("", "/clusters/{cluster}"):
        routes += [
            Route(prefix + "/api/v1/query", query, methods=["GET", "POST"]),
            Route(prefix + "/api/v1/query_range", query_range, methods=["GET", "POST"]),
            Route(prefix + "/api/v1/labels", labels, methods=["GET", "POST"]),
            Route(prefix + "/api/v1/label/{name}/values", label_values),
            Route(prefix + "/api/v1/status/buildinfo", buildinfo),
        ]
    routes += [Route("/-/healthy", healthy), Route("/-/ready", healthy)]
    return Starlette(routes=routes)
