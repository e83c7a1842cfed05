"""The proxy's bookkeeping: its Prometheus metrics and its access log lines."""

from __future__ import annotations

import io
import json

from prometheus_client import CollectorRegistry, generate_latest

from gateway.accesslog import AccessLog
from gateway.proxy import GatewayMetrics


def test_metrics_count_per_route_client_and_status_with_cumulative_buckets() -> None:
    registry = CollectorRegistry()
    metrics = GatewayMetrics(registry)
    for seconds in (0.0005, 0.003, 0.003, 0.2, 30.0):
        metrics.observe("erp", "mes-line-3", 200, seconds)
    metrics.observe("erp", "mes-line-3", 429, 0.001)
    text = generate_latest(registry).decode()
    assert 'plantbridge_gateway_requests_total{client="mes-line-3",route="erp",status="200"} 5.0' in text
    assert 'plantbridge_gateway_requests_total{client="mes-line-3",route="erp",status="429"} 1.0' in text
    buckets = {
        line.split('le="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("plantbridge_gateway_request_seconds_bucket")
    }
    assert buckets["0.001"] == 2  # 0.0005 and 0.001 (le: less than or equal)
    assert buckets["0.005"] == 4
    assert buckets["0.25"] == 5
    assert buckets["10.0"] == 5
    assert buckets["+Inf"] == 6
    assert "plantbridge_gateway_request_seconds_count" in text
    assert 'plantbridge_gateway_request_seconds_sum{route="erp"} 30.2075' in text


def test_access_log_lines_have_the_kernels_shape() -> None:
    out = io.BytesIO()
    log = AccessLog(out)
    log.write("corr-1", "GET", "/erp/v1/items", "erp", "mes-line-3", 200, 0.012345, 3.21)
    log.flush()
    line = json.loads(out.getvalue())
    assert line["ts"].endswith("Z")
    assert {k: line[k] for k in ("level", "service", "logger", "msg", "correlation_id")} == {
        "level": "INFO",
        "service": "gateway",
        "logger": "gateway.access",
        "msg": "GET /erp/v1/items 200",
        "correlation_id": "corr-1",
    }
    assert (line["client"], line["status"], line["ms"], line["upstream_ms"]) == (
        "mes-line-3",
        200,
        12.35,
        3.21,
    )
