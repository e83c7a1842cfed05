"""Tracing is off unless an OTLP endpoint is configured, and off costs nothing: the SDK is never
imported, no middleware is added, and the kernel's hooks hand back one shared no-op."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.kit import correlation, tracing
from contracts.kit.settings import ServiceSettings
from tests.support.fixtures import ROOT, Spawn
from tests.tracing.receiver import serving

# Builds the ERP app and the gateway, serves two requests through ERP's whole middleware stack
# (lifespan included), and reports which OpenTelemetry modules the process holds. Libraries
# import bits of OpenTelemetry by themselves whenever it is installed: redis-py 8 the metrics
# SDK (redis/observability/providers.py), Litestar's constructor its OpenTelemetry plugin (which
# fails without the ASGI instrumentation, leaving the API and semconv loaded). What they load
# is the baseline, taken before anything of ours.
SCRIPT = """
import json, sys

def otel():
    return sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")

import redis.asyncio
from litestar import Litestar
Litestar()
baseline = otel()
from litestar.testing import TestClient
from contracts.kit import tracing
from gateway.app import create_app as create_gateway
from system_apis.erp.app import create_app

app = create_app(database_url=sys.argv[1], outbox_relay=False)
create_gateway(database_url=sys.argv[2])
with TestClient(app) as client:
    statuses = [client.get("/health/live").status_code, client.get("/erp/v1/items").status_code]
    on = tracing.enabled()
print(json.dumps({
    "statuses": statuses,
    "enabled": on,
    "added": sorted(set(otel()) - set(baseline)),
    "tracing_sdk": "contracts.kit.tracing_sdk" in sys.modules,
    "middleware": type(app.asgi_handler.app).__name__,  # what CorrelationMiddleware wraps
}))
"""


def run_service(spawn: Spawn, tmp_path: Path, **env: str) -> dict[str, Any]:
    """Run SCRIPT in a fresh interpreter (what it imports is the point), without OTEL settings."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and not k.endswith("_OTLP_ENDPOINT")
    }
    child = spawn(
        sys.executable,
        "-c",
        SCRIPT,
        f"sqlite+aiosqlite:///{tmp_path}/erp.db",
        f"sqlite+aiosqlite:///{tmp_path}/gateway.db",
        environ=clean,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr[-3000:]
    report: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return report


def test_without_an_endpoint_nothing_of_opentelemetry_is_imported_or_wired(
    spawn: Spawn, tmp_path: Path
) -> None:
    report = run_service(spawn, tmp_path)
    assert report["statuses"] == [200, 401]
    assert report["enabled"] is False
    assert report["added"] == []  # not one module more than the libraries load themselves
    assert report["tracing_sdk"] is False
    assert report["middleware"] != "_ServerSpans"


def test_with_an_endpoint_the_same_service_loads_the_sdk_and_exports(spawn: Spawn, tmp_path: Path) -> None:
    with serving() as (receiver, endpoint):
        report = run_service(spawn, tmp_path, ERP_OTLP_ENDPOINT=endpoint)
        assert report["statuses"] == [200, 401]
        assert report["enabled"] is True
        assert "opentelemetry.sdk.trace" in report["added"]
        assert "opentelemetry.exporter.otlp.proto.http.trace_exporter" in report["added"]
        assert report["middleware"] == "_ServerSpans"
        # Flushed on shutdown: the process has exited, and its spans are here.
        names = {(s.service, s.name, s.attributes.get("http.response.status_code")) for s in receiver.spans}
    assert ("erp", "GET /health/live", 200) in names
    assert ("erp", "GET /erp/v1/items", 401) in names


def test_off_hooks_hand_back_one_shared_no_op_and_change_nothing() -> None:
    assert not tracing.enabled()
    with correlation.bound("corr-1", "") as ctx:
        hooks = [
            tracing.server("x", [(b"traceparent", ctx.traceparent.encode())]),
            tracing.child("step"),
            tracing.flow("receipt_inspection", "FLOW-1", ctx.traceparent),
            tracing.processing("erp.goods_receipt.posted.v1", "EV-1", ctx.traceparent),
            tracing.spans(tracing.PRODUCER, [("publish", ctx.traceparent, {})]),
        ]
        headers = correlation.outgoing_headers()
        sent = dict(headers)
        hooks.append(tracing.client("GET", "erp", "http://erp", "/erp/v1/items", headers))
        assert len({id(h) for h in hooks}) == 1
        with hooks[0] as span:
            assert span is None
        assert headers == sent  # the traceparent the non-tracing path sends, untouched
        assert (
            tracing.staged("erp.goods_receipt.posted.v1", "events.erp", "EV-1", ctx.traceparent)
            == ctx.traceparent
        )


def settings(endpoint: str = "") -> ServiceSettings:
    return ServiceSettings(database_url="sqlite+aiosqlite://", otlp_endpoint=endpoint)


@pytest.mark.parametrize(
    ("own", "environ", "url"),
    [
        ("", {}, ""),
        ("http://collector:4318", {}, "http://collector:4318/v1/traces"),
        ("http://collector:4318/", {}, "http://collector:4318/v1/traces"),
        ("http://collector:4318/v1/traces", {}, "http://collector:4318/v1/traces"),
        ("", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}, "http://otel:4318/v1/traces"),
        ("", {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://otel:4318/custom"}, "http://otel:4318/custom"),
        (
            "http://mine:4318",
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"},
            "http://mine:4318/v1/traces",
        ),
        ("http://mine:4318", {"OTEL_SDK_DISABLED": "true"}, ""),
    ],
)
def test_where_spans_go(own: str, environ: dict[str, str], url: str) -> None:
    assert tracing.traces_url(settings(own), environ) == url


def test_compose_turns_tracing_on_for_every_service_from_one_file() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    # Our services (`plantbridge serve ...`); other containers of the image (trytond) read no OTLP setting.
    services = {name: c for name, c in compose.items() if c.get("command", [None])[0] == "serve"}
    assert services
    for container in services.values():
        assert container["env_file"] == [{"path": "./deploy/common.env", "required": False}]
        assert not any("OTLP" in key for key in container.get("environment", {}))  # off by default
    assert compose["jaeger"]["profiles"] == ["tracing"]
