"""Seed 000's usage, limits and alerts API, sent its own example requests on one running collector."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

from .collector_process import start_collector_process
from .conftest import (
    RunningCollector,
    clear_of_midnight,
    collector_running,
    collector_yaml,
    free_port,
    wait_until,
)
from .event_receiver import Receiver
from .test_budgets import _span_at

# The file's alerts section: the SMTP server the seed's email channel (recipients only) is sent through.
ALERTS_FILE = """
extensions:
  budgets:
    alerts:
      notifications:
        email: {{smtp_host: 127.0.0.1, smtp_port: {port}, sender: spendgate@example.com, recipients: [ops@example.com]}}
"""
GPT4O = Decimal("0.0045")  # 1,000 input + 200 output tokens

# Seed 000's alerts section, as the body of PUT /api/v1/alerts/config.
SEED_ALERTS = {
    "thresholds": [
        {"percent": 50, "level": "info", "message": "50% of daily budget used"},
        {"percent": 80, "level": "warning", "message": "80% of daily budget used"},
        {"percent": 95, "level": "critical", "message": "95% of daily budget used - approaching limit"},
    ],
    "notifications": [
        {"type": "in_app"},
        {"type": "email", "enabled": True, "recipients": ["admin@example.com"]},
        {"type": "webhook", "enabled": False, "url": "https://hooks.example.com/alerts"},
    ],
}
# Seed 000's limits section (and a project's override), as the body of PUT /api/v1/limits.
SEED_LIMITS = {
    "limits": {
        "global": {
            "max_tokens_per_day": 1000000,
            "max_cost_per_day": 50.00,
            "max_cost_per_month": 500.00,
            "max_concurrent_agents": 5,
        },
        "per_project": {"default": {"max_cost_per_day": 20.00, "max_cost_per_month": 200.00}},
        "per_agent": {"default": {"max_tokens_per_run": 100000, "max_cost_per_run": 5.00}},
    },
    "projects": {"my-arpg": {"limits": {"max_cost_per_day": 30.00, "max_cost_per_month": 300.00}}},
}


@pytest.fixture(scope="module")
def seeded(chdb_dsn: str) -> Iterator[RunningCollector]:
    with collector_running(chdb_dsn, ALERTS_FILE.format(port=free_port())) as running:
        now = clear_of_midnight()
        scope = {"spendgate.project": "shop", "spendgate.agent_type": "coding", "spendgate.team": "web"}
        spans = [
            _span_at(
                now - timedelta(seconds=i),
                **scope,
                **{"spendgate.agent": "feature-dev", "spendgate.run": f"r{i % 2}", "spendgate.task": "T1"},
                **{"spendgate.ticket": "SHOP-1", "spendgate.phase": "build", "spendgate.user": "ana"},
            )
            for i in range(4)
        ]
        spans.append(
            _span_at(now - timedelta(seconds=9), **{"spendgate.project": "blog", "spendgate.agent": "tester"})
        )
        spans.append(
            _span_at(
                now - timedelta(seconds=10),
                **{"spendgate.agent": "builder", "gen_ai.operation.name": "embeddings"},
            )
        )
        assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans).name == "SUCCESS"  # type: ignore[arg-type]
        yield running


def _call(running: RunningCollector, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, running.http_url + path, timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def _money(value: Any) -> Decimal:
    assert isinstance(value, str), value  # money is a decimal string
    return Decimal(value)


def test_seed_usage_requests(seeded: RunningCollector) -> None:
    records = _call(seeded, "GET", "/api/v1/usage")
    assert len(records) == 6
    first = records[0]
    assert (first["project_id"], first["agent_id"], first["run_id"], first["model"]) == (
        "shop",
        "feature-dev",
        "r0",
        "gpt-4o",
    )
    assert (first["tokens_input"], first["tokens_output"], _money(first["cost_usd"])) == (1000, 200, GPT4O)
    assert datetime.fromisoformat(first["created_at"]).tzinfo is not None

    summary = _call(seeded, "GET", "/api/v1/usage/summary?period=month")
    assert _money(summary["total_cost"]) == GPT4O * 6 and summary["total_tokens"] == 7200
    assert (summary["tokens_input"], summary["tokens_output"], summary["run_count"]) == (6000, 1200, 2)
    assert summary["period"] == "month" and summary["budget_id"] == "global-monthly"
    assert _money(summary["limit_usd"]) == 500 and _money(summary["utilization_percent"]) >= 0

    by_agent = _call(seeded, "GET", "/api/v1/usage/by-agent?period=week")["agents"]
    dev = by_agent[0]
    assert (dev["agent"], dev["name"], dev["type"], dev["run_count"]) == (
        "feature-dev",
        "feature-dev",
        "coding",
        2,
    )
    assert dev["total_tokens"] == 4800 and _money(dev["avg_tokens_per_run"]) == 2400
    assert _money(dev["total_cost"]) == GPT4O * 4
    assert {a["agent"]: a["run_count"] for a in by_agent[1:]} == {"tester": 0, "builder": 0}
    assert all(a["avg_tokens_per_run"] is None for a in by_agent[1:])  # calls outside a run

    projects = _call(seeded, "GET", "/api/v1/usage/by-project?period=month")["projects"]
    assert [(p["project"], _money(p["total_cost"])) for p in projects] == [
        ("shop", GPT4O * 4),
        ("blog", GPT4O),
        ("", GPT4O),
    ]

    february = _call(seeded, "GET", "/api/v1/usage/daily?start=2026-02-01&end=2026-02-28")
    assert (february["start"], february["end"], february["days"]) == ("2026-02-01", "2026-02-28", [])
    (today,) = _call(seeded, "GET", "/api/v1/usage/daily", params={"period": "month"})["days"]
    assert (
        today["date"] == today["day"]
        and today["total_tokens"] == 7200
        and _money(today["total_cost"]) == GPT4O * 6
    )


def test_usage_by_every_dimension(seeded: RunningCollector) -> None:
    expected = {
        "ticket": "SHOP-1", "phase": "build", "task": "T1", "team": "web", "user": "ana",
        "agent-type": "coding", "service": "budget-test",
    }  # fmt: skip
    for path, value in expected.items():
        body = _call(seeded, "GET", f"/api/v1/usage/by-{path}")
        items = body[path.replace("-", "_") + "s"]
        top = items[0]
        assert top[path.replace("-", "_")] == value, path
        assert top["calls"] == (6 if path == "service" else 4) and top["run_count"] == 2, path
        assert isinstance(top["share_percent"], str) and isinstance(body["total_cost"], str)
    operations = _call(seeded, "GET", "/api/v1/usage/by-operation")["operations"]
    assert {o["operation"]: o["calls"] for o in operations} == {"chat": 5, "embeddings": 1}
    unknown = httpx.get(
        seeded.http_url + "/api/v1/usage/daily", params={"start": "2026-02-28", "end": "2026-02-01"}
    )
    assert unknown.status_code == 422 and "end" in unknown.text


def test_limits_put_get_status_and_alerts_with_the_config_put_at_run_time(seeded: RunningCollector) -> None:
    before = _call(seeded, "GET", "/api/v1/limits")
    assert _money(before["limits"]["global"]["max_cost_per_month"]) == 500  # the default budgets
    assert _money(before["limits"]["per_agent"]["default"]["max_cost_per_run"]) == 5

    config = _call(seeded, "PUT", "/api/v1/alerts/config", json=SEED_ALERTS)
    assert [t["percent"] for t in config["thresholds"]] == [50, 80, 95] and config["source"] == "api"
    assert config["notifications"][0] == {"type": "in_app", "enabled": True}
    (email,) = [c for c in config["notifications"] if c["type"] == "email"]
    assert email["recipients"] == ["admin@example.com"] and email["smtp_host"] == "127.0.0.1"  # from the file
    assert all(c["type"] != "webhook" for c in config["notifications"])  # disabled
    assert _call(seeded, "GET", "/api/v1/alerts/config") == config
    # Channels changed at run time: a webhook instead of the email, the thresholds kept.
    receiver = Receiver()
    hooked = {"notifications": [{"type": "in_app"}, {"type": "webhook", "url": receiver.url}]}
    config = _call(seeded, "PUT", "/api/v1/alerts/config", json=hooked)
    assert [c["type"] for c in config["notifications"]] == ["in_app", "webhook"] and config["version"] == 2
    assert [t["percent"] for t in config["thresholds"]] == [50, 80, 95]

    after = _call(seeded, "PUT", "/api/v1/limits", json=SEED_LIMITS)
    assert _call(seeded, "GET", "/api/v1/limits") == after
    assert after["limits"]["global"] == {
        "max_concurrent_agents": "5", "max_cost_per_day": "50", "max_cost_per_month": "500", "max_tokens_per_day": "1000000",
    }  # fmt: skip
    assert after["projects"]["my-arpg"]["limits"] == {"max_cost_per_day": "30", "max_cost_per_month": "300"}
    assert after["limits"]["per_project"]["default"]["max_cost_per_month"] == "200"

    # A limit the seeded spend is past: the status shows it, and the alerts use the config put above.
    tight = {"projects": {"shop": {"limits": {"max_cost_per_day": 0.01}}}}
    assert _call(seeded, "PUT", "/api/v1/limits", json=tight)["projects"]["shop"]["limits"] == {
        "max_cost_per_day": "0.01"
    }

    def shop_status() -> list[dict[str, Any]]:
        scopes = _call(seeded, "GET", "/api/v1/limits/status")["limits"]
        return [s for s in scopes if s["scope_id"] == "shop" and s["limit"] == "max_cost_per_day"]

    wait_until(shop_status, timeout=20, what="the shop limit's status")
    (shop,) = shop_status()
    assert _money(shop["current"]) == GPT4O * 4 and _money(shop["limit_value"]) == Decimal("0.01")
    assert shop["exceeded"] is True and _money(shop["utilization_percent"]) == 180

    def shop_alerts() -> list[dict[str, Any]]:
        alerts = _call(seeded, "GET", "/api/v1/alerts")["alerts"]
        return [a for a in alerts if a["scope_id"] == "shop"]

    wait_until(lambda: len(shop_alerts()) == 3, timeout=20, what="three shop alerts")
    alerts = sorted(shop_alerts(), key=lambda a: a["percent"])
    assert [(a["percent"], a["level"]) for a in alerts] == [(50, "info"), (80, "warning"), (95, "critical")]
    assert alerts[2]["message"].startswith("95% of daily budget used - approaching limit: ")
    assert all(datetime.fromisoformat(a["created_at"]) for a in alerts)
    wait_until(lambda: len(receiver.events()) == 3, timeout=20, what="the alerts at the webhook")
    assert sorted(e["threshold"] for e in receiver.events()) == [50, 80, 95]
    receiver.close()

    removed = _call(
        seeded, "PUT", "/api/v1/limits", json={"projects": {"shop": {"limits": {"max_cost_per_day": None}}}}
    )
    assert "shop" not in removed["projects"]


def test_bad_alert_config_and_limits_are_4xx_naming_the_problem(seeded: RunningCollector) -> None:
    url = seeded.http_url + "/api/v1"
    bad = [
        ("/alerts/config", {"thresholds": [{"percent": 0}]}, "percent"),
        ("/alerts/config", {"thresholds": [{"percent": 50, "colour": "red"}]}, "colour"),
        ("/alerts/config", {"notifications": [{"type": "in_app", "enabled": False}]}, "in_app"),
        ("/alerts/config", {"notifications": [{"type": "webhook"}]}, "url"),
        ("/alerts/config", {"notifications": [{"type": "pager"}]}, "type"),
        ("/alerts/config", {"cooldown": -1}, "cooldown"),
        ("/limits", {"limits": {"global": {"max_cost_per_week": 1}}}, "max_cost_per_week"),
        ("/limits", {"limits": {"global": {"max_cost_per_day": -1}}}, "max_cost_per_day"),
        ("/limits", {"limit": {}}, "limit"),
    ]
    for path, body, named in bad:
        response = httpx.put(url + path, json=body, timeout=10)
        assert response.status_code == 422 and named in response.text, (path, body, response.text)


def test_a_restart_keeps_the_alert_config(tmp_path: Path) -> None:
    config = tmp_path / "otel-config.yaml"
    http_port = free_port()
    config.write_text(collector_yaml(f"chdb://{tmp_path}/data", "spendgate", free_port(), http_port))
    log = tmp_path / "collector.log"
    url = f"http://127.0.0.1:{http_port}/api/v1/alerts/config"
    process = start_collector_process(config, log)
    try:
        default = httpx.get(url, timeout=10).json()
        assert default["source"] == "config" and [t["percent"] for t in default["thresholds"]] == [
            50,
            80,
            95,
            100,
        ]
        body = {"thresholds": [{"percent": 70, "message": "seventy"}], "cooldown": 60}
        put = httpx.put(url, json=body, timeout=10).json()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    process = start_collector_process(config, log)
    try:
        kept = httpx.get(url, timeout=10).json()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    assert kept == put and kept["version"] == 1 and kept["cooldown"] == 60
    assert kept["thresholds"] == [{"percent": 70, "level": "info", "message": "seventy"}]


def test_openapi_documents_the_seed_routes(seeded: RunningCollector) -> None:
    paths = _call(seeded, "GET", "/openapi.json")["paths"]
    for path in (
        "/api/v1/usage",
        "/api/v1/usage/summary",
        "/api/v1/usage/by-operation",
        "/api/v1/limits/status",
    ):
        assert paths[path]["get"]["summary"], path
    for path in ("/api/v1/limits", "/api/v1/alerts/config"):
        assert paths[path]["put"]["summary"] and paths[path]["get"], path
    schemas = _call(seeded, "GET", "/openapi.json")["components"]["schemas"]
    assert schemas["LimitsBody"]["examples"] and schemas["AlertConfigBody"]["examples"]
