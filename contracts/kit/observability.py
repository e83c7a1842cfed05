"""Health probes and Prometheus metrics, the same on every service."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from contracts.kit.asgi import ASGIApp, Message, Receive, Scope, Send
from contracts.kit.problems import problem_response

ReadinessCheck = Callable[[], Awaitable[None]]
# Set by the supervisor of `plantbridge up` (plantbridge/supervisor.py) to how often it restarted
# this service; health answers then carry it. Unset elsewhere: there the orchestrator counts.
RESTARTS_VARIABLE = "PLANTBRIDGE_RESTARTS"


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "plantbridge_http_requests",
            "HTTP requests",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "plantbridge_http_request_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.service = service

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def measured(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            status = 500
            started = time.perf_counter()

            async def capture(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, capture)
            finally:
                route = scope.get("path_template") or "unmatched"
                self.requests.labels(self.service, scope["method"], route, str(status)).inc()
                self.latency.labels(self.service, scope["method"], route).observe(
                    time.perf_counter() - started
                )

        return measured


def metrics_response(metrics: Metrics) -> Response[bytes]:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def health_handlers(
    checks: dict[str, ReadinessCheck], metrics: Metrics, *, serve_metrics: bool = True
) -> list[HTTPRouteHandler]:
    """Liveness, readiness and (unless the app guards its own) `/metrics` without a token: on a
    service's own port, which only the platform's network reaches."""
    restarts = os.environ.get(RESTARTS_VARIABLE, "")
    supervised: dict[str, Any] = {"restarts": int(restarts)} if restarts.isdigit() else {}

    @get("/health/live", include_in_schema=False, sync_to_thread=False)
    def live() -> dict[str, Any]:
        return {"status": "ok", **supervised}

    @get("/health/ready", include_in_schema=False)
    async def ready() -> Response[Any]:
        failed: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
            except Exception as exc:
                failed[name] = f"{type(exc).__name__}: {exc}"[:300]
        if failed:
            return problem_response(
                503,
                "not-ready",
                "Service not ready",
                "; ".join(f"{k} unavailable" for k in failed),
                extensions={"checks": {k: failed.get(k, "ok") for k in checks}, **supervised},
            )
        return Response({"status": "ok", "checks": dict.fromkeys(checks, "ok"), **supervised})

    @get("/metrics", include_in_schema=False, sync_to_thread=False)
    def metrics_endpoint() -> Response[bytes]:
        return metrics_response(metrics)

    return [live, ready, *([metrics_endpoint] if serve_metrics else [])]
