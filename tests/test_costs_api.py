"""The costs API against a running collector, on spans with known prices."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

from .conftest import RunningCollector, clear_of_midnight
from .test_budgets import _span_at

GPT4O = Decimal("0.0045")  # 1,000 input + 200 output tokens
MINI = Decimal("0.00027")  # the same usage on gpt-4o-mini


def _seed(running: RunningCollector) -> datetime:
    now = clear_of_midnight()  # the seeded calls of today go back 20 seconds
    spans = []
    for i in range(5):
        spans.append(
            _span_at(
                now - timedelta(seconds=i),
                **{"spendgate.project": "shop", "spendgate.agent": "coder", "spendgate.task": f"T{i % 2}"},
            )
        )
    for i in range(3):
        spans.append(
            _span_at(
                now - timedelta(seconds=10 + i),
                model="gpt-4o-mini",
                **{"spendgate.project": "shop", "spendgate.agent": "tester"},
            )
        )
    spans.append(
        _span_at(
            now - timedelta(seconds=20),
            model="claude-sonnet-4-5",
            provider="anthropic",
            **{"spendgate.project": "blog", "spendgate.agent": "writer"},
        )
    )
    assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans).name == "SUCCESS"
    return now


def _get(running: RunningCollector, path: str, **params: Any) -> Any:
    response = httpx.get(running.http_url + path, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_records_filter_and_paginate_with_a_cursor(running: RunningCollector) -> None:
    _seed(running)
    first = httpx.get(running.http_url + "/api/v1/costs/records", params={"project": "shop", "limit": 3})
    assert first.status_code == 200 and len(first.json()) == 3  # a bare array, as the seeds show
    cursor = first.headers["X-Next-Cursor"]
    assert first.links["next"]["url"] == f"/api/v1/costs/records?project=shop&limit=3&cursor={cursor}"
    seen = [r["span_id"] for r in first.json()]
    pages, next_url = 1, first.links["next"]["url"]
    while next_url:  # the Link header's next page, as a client following it would
        page = httpx.get(running.http_url + next_url)
        assert page.status_code == 200 and len(page.json()) <= 3
        seen += [r["span_id"] for r in page.json()]
        pages, next_url = pages + 1, page.links.get("next", {}).get("url")
        assert ("X-Next-Cursor" in page.headers) == bool(next_url)
    assert len(seen) == len(set(seen)) == 8 and pages == 3  # every shop call once, none twice
    times = [r["start_time"] for r in _get(running, "/api/v1/costs/records", limit=1000)]
    assert times == sorted(times, reverse=True) and len(times) == 9
    tester = _get(running, "/api/v1/costs/records", agent="tester")
    assert [(r["priced_model"], Decimal(r["total_cost"])) for r in tester] == [("gpt-4o-mini", MINI)] * 3
    assert len(_get(running, "/api/v1/costs/records", task="T1")) == 2
    assert len(_get(running, "/api/v1/costs/records", model="gpt-4o")) == 5
    bad = httpx.get(running.http_url + "/api/v1/costs/records", params={"cursor": "nonsense"})
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]
    for micros in ("-1", str(2**63), "99999999999999999999", "1e5"):
        forged = base64.urlsafe_b64encode(f"{micros}:{'ab' * 16}:{'cd' * 8}".encode()).decode()
        bad = httpx.get(running.http_url + "/api/v1/costs/records", params={"cursor": forged})
        assert bad.status_code == 400, micros
    assert httpx.get(running.http_url + "/api/v1/costs/records", params={"limit": 1001}).status_code == 422


def test_summary_totals_and_breakdowns(running: RunningCollector) -> None:
    _seed(running)
    shop = _get(running, "/api/v1/costs/summary", scope_type="project", scope_id="shop", period="day")
    assert shop["totals"]["calls"] == 8 and Decimal(shop["totals"]["total_cost"]) == 5 * GPT4O + 3 * MINI
    assert shop["totals"]["input_tokens"] == 8000
    assert shop["totals"]["runs"] == 0  # no spendgate.run on these spans
    assert [(m["model"], m["calls"], Decimal(m["total_cost"])) for m in shop["by_model"]] == [
        ("gpt-4o", 5, 5 * GPT4O),
        ("gpt-4o-mini", 3, 3 * MINI),
    ]
    assert [p["provider"] for p in shop["by_provider"]] == ["openai"]
    everything = _get(running, "/api/v1/costs/summary")
    assert everything["totals"]["calls"] == 9
    assert sorted(p["provider"] for p in everything["by_provider"]) == ["anthropic", "openai"]
    task = _get(running, "/api/v1/costs/summary", scope_type="task", scope_id="T0", period="all")
    assert task["totals"]["calls"] == 3
    missing = httpx.get(running.http_url + "/api/v1/costs/summary", params={"scope_type": "agent"})
    assert missing.status_code == 422


def test_usage_by_agent_project_model_daily_and_trends(running: RunningCollector) -> None:
    now = _seed(running)
    agents = _get(running, "/api/v1/usage/by-agent", period="month")
    by_agent = {a["agent"]: a for a in agents["agents"]}
    assert Decimal(by_agent["coder"]["total_cost"]) == 5 * GPT4O and by_agent["tester"]["calls"] == 3
    assert list(by_agent)[0] == "coder" or Decimal(by_agent["writer"]["total_cost"]) > 5 * GPT4O
    assert sum(Decimal(a["share_percent"]) for a in agents["agents"]) > Decimal("99.9")
    projects = {p["project"]: p for p in _get(running, "/api/v1/usage/by-project")["projects"]}
    assert Decimal(projects["shop"]["total_cost"]) == 5 * GPT4O + 3 * MINI
    models = {m["model"] for m in _get(running, "/api/v1/usage/by-model")["models"]}
    assert {"gpt-4o", "gpt-4o-mini"} <= models
    days = _get(
        running,
        "/api/v1/usage/daily",
        start=(now - timedelta(days=1)).date().isoformat(),
        end=now.date().isoformat(),
    )["days"]
    assert sum(d["calls"] for d in days) == 9
    trends = _get(running, "/api/v1/costs/trends", days=7)
    assert len(trends["daily"]) == 7 and trends["daily"][-1]["day"] == now.date().isoformat()
    month_to_date = Decimal(trends["month_to_date"])
    assert month_to_date == sum(
        Decimal(d["total_cost"]) for d in days if d["day"][:7] == now.date().isoformat()[:7]
    )
    assert Decimal(trends["projected_month"]) == (
        month_to_date / trends["days_elapsed"] * trends["days_in_month"]
    ).quantize(Decimal("0.000001"))


def _spans(items: list[tuple[dict[str, Any], bool]]) -> list[Any]:
    """SDK spans with chat_attributes(**attrs) and, where asked, an error status."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Status, StatusCode

    from .conftest import chat_attributes

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "advice"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    for attrs, failed in items:
        span = provider.get_tracer("t").start_span("chat")
        span.set_attributes(chat_attributes(**attrs))
        if failed:
            span.set_status(Status(StatusCode.ERROR))
        span.end()
    return list(memory.get_finished_spans())


def _post(running: RunningCollector, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(running.http_url + path, json=body, timeout=10)


def test_forecast_from_given_figures_and_from_history(running: RunningCollector) -> None:
    from genai_prices import Usage, calc_price

    given = _post(
        running,
        "/api/v1/costs/forecast",
        {
            "pending_task_count": 10,
            "avg_tokens_per_task": 5000,
            "input_share": "0.8",
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "expected_retry_rate": "0.15",
            "safety_buffer_multiplier": "1.5",
        },
    ).json()
    per_task = Decimal(
        calc_price(
            Usage(input_tokens=4000, output_tokens=1000), "claude-sonnet-4-5", provider_id="anthropic"
        ).total_price
    )
    assert Decimal(given["estimated_cost_low"]) == 10 * per_task
    assert Decimal(given["estimated_cost_mid"]) == (10 * per_task * Decimal("1.15")).quantize(
        Decimal("0.000001")
    )
    assert Decimal(given["estimated_cost_high"]) == (
        10 * per_task * Decimal("1.15") * Decimal("1.5")
    ).quantize(Decimal("0.000001"))
    assert given["assumptions"]["source"]["avg_tokens_per_task"] == "given"
    # History: two tasks of two gpt-4o calls each (2,400 tokens per task), one call in four failed.
    items = [
        ({"spendgate.task": task}, failed)
        for task, failed in (("A", False), ("A", True), ("B", False), ("B", False))
    ]
    assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(_spans(items)).name == "SUCCESS"
    learned = _post(running, "/api/v1/costs/forecast", {"pending_task_count": 4, "model": "gpt-4o"}).json()
    assumptions = learned["assumptions"]
    assert assumptions["avg_tokens_per_task"] == 2400 and Decimal(assumptions["input_share"]) == Decimal(
        "0.8333"
    )
    assert (
        Decimal(assumptions["expected_retry_rate"]) == Decimal("0.25")
        and assumptions["safety_buffer"] == "1.2"
    )
    assert assumptions["source"] == {
        "avg_tokens_per_task": "history",
        "pending_task_count": "given",
        "expected_retry_rate": "history",
        "history_tasks": 2,
        "history_days": 30,
    }
    assert Decimal(learned["estimated_cost_low"]) == 4 * 2 * GPT4O  # 2,000 in + 400 out per task
    # Priced as the collector prices its spans: an unknown model at the fallback rate ($15 / $75 per Mtok).
    unknown = _post(
        running, "/api/v1/costs/forecast", {"pending_task_count": 1, "model": "no-such-model"}
    ).json()
    assert unknown["assumptions"]["pricing_status"] == "fallback"
    assert Decimal(unknown["cost_per_task"]) == (4000 * 15 + 1000 * 75) / Decimal(10**6)
    embeddings = {"pending_task_count": 1, "model": "no-such-embedder", "operation": "embeddings",
                  "avg_tokens_per_task": 5000, "input_share": 1}  # fmt: skip
    embedder = _post(running, "/api/v1/costs/forecast", embeddings).json()
    assert embedder["assumptions"]["operation"] == "embeddings"
    assert Decimal(embedder["cost_per_task"]) == 5000 * Decimal("0.20") / 10**6  # the embeddings fallback
    assert given["assumptions"]["pricing_status"] == "priced"
    assert _post(running, "/api/v1/costs/forecast", {"pending_task_count": -1}).status_code == 422


def test_insights_name_cheaper_models_cache_misses_and_retries(running: RunningCollector) -> None:
    items = [({"spendgate.agent": "clarifier", "spendgate.run": f"r{i}"}, i < 4) for i in range(10)]
    big = {
        "spendgate.agent": "reader",
        "gen_ai.usage.input_tokens": 60_000,
        "gen_ai.usage.cache_read.input_tokens": 1000,
    }
    items += [(big, False), (big, False)]
    assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(_spans(items)).name == "SUCCESS"
    found = _get(running, "/api/v1/costs/insights")["insights"]
    clarifier = _get(running, "/api/v1/costs/summary", scope_type="agent", scope_id="clarifier")
    assert clarifier["totals"]["runs"] == 10 and clarifier["totals"]["calls"] == 10
    kinds = {(i["kind"], i["agent"]) for i in found}
    assert kinds == {
        ("cheaper_model", "clarifier"),
        ("high_retry_rate", "clarifier"),
        ("low_cache_hit_rate", "reader"),
    }
    cheaper = next(i for i in found if i["kind"] == "cheaper_model")
    assert (
        cheaper["details"]["suggested_model"] == "gpt-4o-mini"
        and cheaper["details"]["tokens_per_run"] == 1200
    )
    # 10 calls on gpt-4o cost $0.045; on gpt-4o-mini $0.0027: saving $0.0423 over 30 days.
    assert Decimal(cheaper["estimated_monthly_saving"]) == Decimal("0.04")
    retry = next(i for i in found if i["kind"] == "high_retry_rate")
    assert retry["details"] == {"failed_calls": 4, "calls": 10} and "40%" in retry["message"]


def _cli(*args: str) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "spendgate", *args], capture_output=True, text=True, timeout=60
    )


def test_report_draws_cards_daily_bars_and_rankings(running: RunningCollector) -> None:
    now = _seed(running)
    httpx.post(
        running.http_url + "/api/v1/costs/budgets",
        json={"id": "g", "scope_type": "global", "limit": "1.00", "period": "month"},
    )
    shown = _cli("report", "--url", running.http_url)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    total = (
        5 * GPT4O
        + 3 * MINI
        + Decimal(
            _get(running, "/api/v1/costs/summary", scope_type="agent", scope_id="writer")["totals"][
                "total_cost"
            ]
        )
    )
    assert f"Total cost: ${total:,.2f}" in out and "Tokens: 10.8k" in out and "Agent runs: 0" in out
    assert f"Budget used: {total * 100:.0f}% of $1.00" in out
    assert "9 calls; 0 priced by fallback or unpriced" in out
    assert f"  {now.date().isoformat()}  " in out  # today's bar in the daily chart
    agent_lines = [line for line in out.splitlines() if line.startswith("  coder ")]
    assert len(agent_lines) == 1 and "█" in agent_lines[0] and "$0.02" in agent_lines[0]
    for heading in ("Cost by agent", "Cost by model", "Cost by provider"):
        assert heading in out
    assert "report (month) from" in shown.stderr  # progress goes to stderr, the report to stdout


def test_price_command_shows_the_catalogue_price() -> None:
    shown = _cli("price", "gpt-4o", "--provider", "openai", "--input", "1000", "--output", "200")
    assert shown.returncode == 0 and "OpenAI" in shown.stdout and "$2.5/input MTok" in shown.stdout
    assert shown.stdout.strip().endswith(": $0.0045")
    # As the collector would store it: at the config's fallback rate (tests/test_shared_pricing.py: overrides).
    missing = _cli("price", "no-such-model-anywhere")
    assert missing.returncode == 0 and "not in the genai-prices catalogue" in missing.stdout
    assert "pricing_status: fallback" in missing.stdout


def test_openapi_lists_every_endpoint(running: RunningCollector) -> None:
    paths = _get(running, "/openapi.json")["paths"]
    for path in (
        "/api/v1/costs/records",
        "/api/v1/costs/summary",
        "/api/v1/usage/daily",
        "/api/v1/usage/by-agent",
        "/api/v1/usage/by-project",
        "/api/v1/usage/by-model",
        "/api/v1/costs/trends",
        "/api/v1/costs/forecast",
        "/api/v1/costs/insights",
        "/api/v1/costs/budgets",
        "/api/v1/costs/budgets/check",
        "/api/v1/costs/budgets/status",
        "/v1/flags",
        "/api/v1/alerts",
    ):
        assert path in paths, path
    assert "post" in paths["/api/v1/costs/forecast"]
    assert [p["name"] for p in paths["/api/v1/usage/by-agent"]["get"]["parameters"]] == [
        "period",
        "tz",
        "start",
        "end",
        "format",
    ]
    assert "/api/v1/costs/chargeback" in paths
    assert "text/csv" in paths["/api/v1/costs/records"]["get"]["responses"]["200"]["content"]


def test_money_is_written_as_plain_decimal_strings() -> None:
    from spendgate.collector.api.costs import jsonable

    row = {"a": Decimal("100.000000000000000000"), "b": Decimal("0.004500"), "c": Decimal("0E-18")}
    assert jsonable(row) == {"a": "100", "b": "0.0045", "c": "0"}
    assert jsonable({"d": Decimal("1.5E+3")}) == {"d": "1500"}
