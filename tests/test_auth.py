"""API keys: ingest over OTLP gRPC and HTTP, reads, budget changes and the agents' flag stream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from spendgate.collector.api.auth import digest

from spendgate.proto import flags_pb2 as pb
from spendgate.proto import flags_pb2_grpc

from .conftest import RunningCollector, chat_attributes, collector_running, make_spans

KEYS = {"ingest": "sg_agent_key", "read": "sg_dashboard_key", "admin": "sg_admin_key"}
AUTH = "extensions:\n  budgets: {defaults: []}\n  auth:\n    api_keys:\n" + "".join(
    f"      - {{name: {role}, sha256: {digest(key)}, roles: [{role}]}}\n" for role, key in KEYS.items()
)


@pytest.fixture
def guarded(chdb_dsn: str) -> Iterator[RunningCollector]:
    with collector_running(chdb_dsn, AUTH) as running:
        yield running


@pytest.fixture(scope="module")
def shared_guarded(chdb_dsn: str) -> Iterator[RunningCollector]:
    """One collector for the tests that only read, or change what no other test reads."""
    with collector_running(chdb_dsn, AUTH) as running:
        yield running


def _bearer(role: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"} if role else {}


def _spans() -> list[Any]:
    return make_spans([{"attributes": chat_attributes(**{"spendgate.project": "auth"})}])


def test_otlp_ingest_needs_an_ingest_key(guarded: RunningCollector) -> None:
    def grpc_export(headers: dict[str, str]) -> str:
        exporter = GrpcExporter(endpoint=guarded.grpc_endpoint, insecure=True, headers=headers, timeout=5)
        return exporter.export(_spans()).name

    assert grpc_export({}) == "FAILURE"
    assert grpc_export({"authorization": f"Bearer {KEYS['read']}"}) == "FAILURE"
    assert grpc_export({"authorization": f"Bearer {KEYS['ingest']}"}) == "SUCCESS"

    def http_export(headers: dict[str, str]) -> str:
        exporter = HttpExporter(endpoint=guarded.http_url + "/v1/traces", headers=headers, timeout=5)
        return exporter.export(_spans()).name

    assert http_export({}) == "FAILURE"
    assert http_export(_bearer("ingest")) == "SUCCESS"
    assert guarded.scalar("SELECT count() FROM {db}.llm_spans") == 2
    raw = httpx.post(
        guarded.http_url + "/v1/traces", content=b"", headers={"Content-Type": "application/x-protobuf"}
    )
    assert raw.status_code == 401 and raw.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "method, path, body, needed",
    [
        ("GET", "/api/v1/costs/records", None, "read"),
        ("GET", "/api/v1/costs/summary", None, "read"),
        ("GET", "/api/v1/usage/daily", None, "read"),
        ("GET", "/api/v1/usage/by-agent", None, "read"),
        ("GET", "/api/v1/usage/by-project", None, "read"),
        ("GET", "/api/v1/usage/by-model", None, "read"),
        ("GET", "/api/v1/usage/by-provider", None, "read"),
        ("GET", "/api/v1/costs/trends", None, "read"),
        ("POST", "/api/v1/costs/forecast", {"pending_task_count": 1, "avg_tokens_per_task": 10}, "read"),
        ("GET", "/api/v1/costs/insights", None, "read"),
        ("GET", "/api/v1/costs/budgets", None, "read"),
        ("GET", "/api/v1/costs/budgets/check", None, "read"),
        ("GET", "/api/v1/costs/budgets/status", None, "read"),
        ("GET", "/api/v1/alerts", None, "read"),
        ("PUT", "/api/v1/limits", {"limits": {"global": {"max_cost_per_day": 50}}}, "admin"),
        ("PUT", "/api/v1/alerts/config", {"thresholds": [{"percent": 80}]}, "admin"),
        ("GET", "/v1/flags", None, "read"),
        ("POST", "/api/v1/costs/budgets", {"id": "b", "scope_type": "global", "limit": 5}, "admin"),
    ],
)
def test_each_endpoint_wants_its_role(shared_guarded: RunningCollector, method: str, path: str, body: Any,
                                      needed: str) -> None:  # fmt: skip
    url = shared_guarded.http_url + path

    def call(role: str | None) -> httpx.Response:
        return httpx.request(method, url, json=body, headers=_bearer(role), timeout=10)

    missing = call(None)
    assert missing.status_code == 401 and "API key is required" in missing.json()["detail"]
    wrong = httpx.request(method, url, json=body, timeout=10, headers={"Authorization": "Bearer not-a-key"})
    assert wrong.status_code == 401
    lacking = "ingest" if path != "/v1/flags" else None
    if lacking:
        refused = call(lacking)
        assert refused.status_code == 403 and f"lacks the {needed} role" in refused.json()["detail"]
    if needed == "admin":
        assert call("read").status_code == 403
    granted = call(needed)
    assert granted.status_code in (200, 201), granted.text
    if needed == "read":
        assert call("admin").status_code in (200, 201)  # admin includes read


def test_budget_changes_need_admin_and_health_stays_open(guarded: RunningCollector) -> None:
    create = {"id": "cap", "scope_type": "global", "limit": 5}
    assert (
        httpx.post(
            guarded.http_url + "/api/v1/costs/budgets", json=create, headers=_bearer("admin")
        ).status_code
        == 200
    )
    for method, path in (("PUT", "/api/v1/costs/budgets/cap"), ("POST", "/api/v1/costs/budgets/cap/pause"),
                         ("DELETE", "/api/v1/costs/budgets/cap")):  # fmt: skip
        body = {"limit": 6} if method == "PUT" else None
        assert (
            httpx.request(method, guarded.http_url + path, json=body, headers=_bearer("read")).status_code
            == 403
        )
        assert httpx.request(
            method, guarded.http_url + path, json=body, headers=_bearer("admin")
        ).status_code in (200, 204)
    assert httpx.get(guarded.http_url + "/healthz").status_code == 200


def test_flag_stream_needs_an_ingest_key_and_agents_send_it(guarded: RunningCollector) -> None:
    from spendgate.instrumentation.flags_client import FlagSubscriber, FlagTable

    stub = flags_pb2_grpc.BudgetFlagsStub(grpc.insecure_channel(guarded.grpc_endpoint))
    with pytest.raises(grpc.RpcError) as refused:
        next(iter(stub.Watch(pb.WatchRequest(), timeout=5)))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as denied:
        stub.Check(pb.CheckRequest(), metadata=(("authorization", f"Bearer {KEYS['read']}"),), timeout=5)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    table = FlagTable()
    subscriber = FlagSubscriber(
        guarded.grpc_endpoint, table, headers={"Authorization": f"Bearer {KEYS['ingest']}"}
    )
    try:
        assert subscriber.start().wait_synced(10)
    finally:
        subscriber.stop()


def test_cli_sends_its_api_key(guarded: RunningCollector) -> None:
    import subprocess
    import sys

    def cli(*args: str) -> Any:
        return subprocess.run([sys.executable, "-m", "spendgate", *args, "--url", guarded.http_url],
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    assert "401" in cli("flags").stderr
    assert cli("flags", "--api-key", KEYS["read"]).returncode == 0
    made = subprocess.run([sys.executable, "-m", "spendgate", "api-key", "--name", "x", "--role", "read"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    key = made.stdout.split(": ", 1)[1].splitlines()[0]
    assert f"sha256: {digest(key)}" in made.stdout and "roles: [read]" in made.stdout


def test_agents_take_their_key_from_the_standard_otlp_headers_variable(
    guarded: RunningCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spendgate.instrumentation.configure import enforce_budgets, stop_enforcing

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer%20{KEYS['ingest']}")
    guard = enforce_budgets(guarded.grpc_endpoint, wait_seconds=10)
    try:
        assert guard.table.connected and guard.metadata == (("authorization", f"Bearer {KEYS['ingest']}"),)
    finally:
        stop_enforcing()
