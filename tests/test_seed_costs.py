"""Seeds 001 and 003: their example requests to /api/v1/costs/*, sent to one running collector.

Each test sends a seed's example (bodies and curl lines copied from the seed files) and checks the
fields the seed shows and their types; money is a decimal string, as everywhere in the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from spendgate.collector.budgets.alerts import level_of
from spendgate.collector.budgets.model import Budget, state_of

from .conftest import RunningCollector, clear_of_midnight, collector_running, wait_until
from .test_budgets import _span_at

RECORD_FIELDS = {
    "id": str,
    "task_id": str,
    "agent_id": str,
    "provider": str,
    "model": str,
    "input_tokens": int,
    "output_tokens": int,
    "total_tokens": int,
    "cost_usd": Decimal,
    "created_at": datetime,
}
BUDGET_FIELDS = {
    "id": str,
    "scope_type": str,
    "scope_id": str,
    "limit_usd": Decimal,
    "current_spend_usd": Decimal,
    "utilization_percent": Decimal,
    "alert_threshold_percent": int,
    "is_hard_limit": bool,
    "is_active": bool,
    "created_at": datetime,
}
CHECK_FIELDS = {
    "scope_type": str,
    "scope_id": str,
    "has_budget": bool,
    "limit_usd": Decimal,
    "current_spend_usd": Decimal,
    "utilization_percent": Decimal,
    "is_exceeded": bool,
    "is_warning": bool,
    "remaining_usd": Decimal,
}


def _typed(item: dict[str, Any], fields: dict[str, type]) -> None:
    """Every field is there with its type; Decimal: a decimal string; datetime: ISO 8601 with a zone."""
    for name, kind in fields.items():
        assert name in item, f"{name} missing from {item}"
        value = item[name]
        if kind is Decimal:
            assert isinstance(value, str) and Decimal(value).is_finite(), (name, value)
        elif kind is datetime:
            assert datetime.fromisoformat(value).tzinfo is not None, (name, value)
        else:
            assert type(value) is kind, (name, value)


@pytest.fixture(scope="module")
def seeded(chdb_dsn: str) -> Iterator[RunningCollector]:
    """One collector with five calls: three of task-123 (agent-456, ticket-789, gpt-4-turbo), one
    Anthropic call of ticket-789 (task-124, agent-457) and one of task-200 (agent-456, no ticket)."""
    with collector_running(chdb_dsn, "extensions:\n  budgets: {defaults: []}\n") as running:
        now = clear_of_midnight()
        ours = {"spendgate.agent": "agent-456", "spendgate.ticket": "ticket-789"}
        spans = [
            _span_at(
                now - timedelta(seconds=i), model="gpt-4-turbo", **ours, **{"spendgate.task": "task-123"}
            )
            for i in range(3)
        ]
        spans.append(
            _span_at(
                now - timedelta(seconds=5),
                model="claude-sonnet-4-5",
                provider="anthropic",
                **{
                    "spendgate.agent": "agent-457",
                    "spendgate.ticket": "ticket-789",
                    "spendgate.task": "task-124",
                },
            )
        )
        spans.append(
            _span_at(
                now - timedelta(seconds=6), **{"spendgate.agent": "agent-456", "spendgate.task": "task-200"}
            )
        )
        assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans).name == "SUCCESS"  # type: ignore[arg-type]
        yield running


def _call(running: RunningCollector, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, running.http_url + path, timeout=10, **kwargs)


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_records_take_the_seed_filters_and_carry_the_seed_fields(seeded: RunningCollector) -> None:
    # seed 003: curl http://localhost:8000/api/v1/costs/records?task_id=task-123
    records = _ok(_call(seeded, "GET", "/api/v1/costs/records?task_id=task-123"))  # a bare array
    assert len(records) == 3
    for record in records:
        _typed(record, RECORD_FIELDS)
        assert (record["task_id"], record["agent_id"], record["model"]) == (
            "task-123",
            "agent-456",
            "gpt-4-turbo",
        )
        assert record["total_tokens"] == record["input_tokens"] + record["output_tokens"] == 1200
        assert record["cost_usd"] == record["total_cost"] and Decimal(record["cost_usd"]) > 0
    assert len({r["id"] for r in records}) == 3
    # seed 001's query params: task_id, agent_id, limit
    first = _call(seeded, "GET", "/api/v1/costs/records", params={"agent_id": "agent-456", "limit": 2})
    by_agent = _ok(first)
    assert len(by_agent) == 2 and first.links["next"]["url"].endswith(
        "cursor=" + first.headers["X-Next-Cursor"]
    )
    assert {r["agent_id"] for r in by_agent} == {"agent-456"}
    everything = _ok(_call(seeded, "GET", "/api/v1/costs/records", params={"agent_id": "agent-456"}))
    assert len(everything) == 4
    # A seed filter is a filter: nobody's records are none (it used to be everyone's).
    assert _ok(_call(seeded, "GET", "/api/v1/costs/records?agent_id=nobody")) == []
    assert _ok(_call(seeded, "GET", "/api/v1/costs/records?task_id=nothing")) == []
    # The native name and the seed name are one filter: the same value is fine, two are a 422.
    same = _call(seeded, "GET", "/api/v1/costs/records", params={"task": "task-123", "task_id": "task-123"})
    assert len(_ok(same)) == 3
    both = _call(seeded, "GET", "/api/v1/costs/records", params={"task": "task-123", "task_id": "task-124"})
    assert both.status_code == 422 and "task_id" in both.text
    assert _call(seeded, "GET", "/api/v1/costs/records?limit=1001").status_code == 422  # seed: max 1000


def test_summary_has_the_seed_totals_and_breakdowns(seeded: RunningCollector) -> None:
    # seed 003: curl "http://localhost:8000/api/v1/costs/summary?scope_type=ticket&scope_id=ticket-789"
    summary = _ok(_call(seeded, "GET", "/api/v1/costs/summary?scope_type=ticket&scope_id=ticket-789"))
    _typed(
        summary,
        {
            "scope_type": str,
            "scope_id": str,
            "total_cost_usd": Decimal,
            "total_tokens": int,
            "input_tokens": int,
            "output_tokens": int,
            "period_start": datetime,
            "period_end": datetime,
            "record_count": int,
        },
    )
    assert (summary["scope_type"], summary["scope_id"]) == ("ticket", "ticket-789")
    assert summary["record_count"] == 4 and summary["total_tokens"] == 4 * 1200
    assert (summary["input_tokens"], summary["output_tokens"]) == (4000, 800)
    assert summary["total_cost_usd"] == summary["totals"]["total_cost"]  # native fields kept
    providers, models = summary["breakdown_by_provider"], summary["breakdown_by_model"]
    assert set(providers) == {"openai", "anthropic"} and set(models) == {"gpt-4-turbo", "claude-sonnet-4-5"}
    for entry in [*providers.values(), *models.values()]:
        _typed(entry, {"cost_usd": Decimal, "tokens": int})
    assert providers["openai"]["tokens"] == 3600 and models["gpt-4-turbo"] == providers["openai"]
    parts = sum(Decimal(p["cost_usd"]) for p in providers.values())
    assert parts == Decimal(summary["total_cost_usd"])
    assert datetime.fromisoformat(summary["period_start"]) < datetime.fromisoformat(summary["period_end"])
    # seed 003's service reads total_cost and breakdown rows of provider, model and cost
    assert summary["total_cost"] == summary["total_cost_usd"]
    pairs = {(b["provider"], b["model"]): b["cost"] for b in summary["breakdown"]}
    assert pairs == {("openai", "gpt-4-turbo"): models["gpt-4-turbo"]["cost_usd"],
                     ("anthropic", "claude-sonnet-4-5"): models["claude-sonnet-4-5"]["cost_usd"]}  # fmt: skip
    # seed 001's other scope types; global needs no scope_id
    task = _ok(
        _call(seeded, "GET", "/api/v1/costs/summary", params={"scope_type": "task", "scope_id": "task-200"})
    )
    assert task["record_count"] == 1 and list(task["breakdown_by_model"]) == ["gpt-4o"]
    everything = _ok(_call(seeded, "GET", "/api/v1/costs/summary", params={"scope_type": "global"}))
    assert everything["record_count"] == 5 and everything["scope_id"] == ""
    missing = _call(seeded, "GET", "/api/v1/costs/summary", params={"scope_type": "ticket"})
    assert missing.status_code == 422 and "scope_id" in missing.text


def _budgets(running: RunningCollector, **params: str) -> dict[str, dict[str, Any]]:
    listed = _ok(_call(running, "GET", "/api/v1/costs/budgets", params=params))  # a bare array
    return {b["id"]: b for b in listed}


def test_budgets_take_the_seed_bodies_and_list_the_seed_fields(seeded: RunningCollector) -> None:
    # Before any budget: the seed's check fields are there, null.
    empty = _ok(_call(seeded, "GET", "/api/v1/costs/budgets/check?scope_type=global"))
    assert empty["has_budget"] is False and empty["allowed"] is True
    assert empty["limit_usd"] is None and empty["remaining_usd"] is None and empty["is_exceeded"] is False
    # seed 001's body
    body = {
        "scope_type": "ticket",
        "scope_id": "ticket-uuid",
        "limit_usd": 50.00,
        "alert_threshold_percent": 80,
        "is_hard_limit": False,
    }
    created = _ok(_call(seeded, "POST", "/api/v1/costs/budgets", json=body), 200)
    _typed(created, BUDGET_FIELDS)
    assert (created["limit_usd"], created["current_spend_usd"], created["utilization_percent"]) == (
        "50",
        "0",
        "0.00",
    )
    assert created["alert_threshold_percent"] == 80 and created["is_hard_limit"] is False
    assert created["is_active"] is True and created["hard"] is False and created["limit"] == "50"
    # seed 003's body: limit_amount, alert_threshold as a fraction, period_end
    body = {
        "scope_type": "ticket",
        "scope_id": "ticket-789",
        "limit_amount": 50.0,
        "alert_threshold": 0.8,
        "period_end": "2025-12-31T23:59:59Z",
    }
    fixed = _ok(_call(seeded, "POST", "/api/v1/costs/budgets", json=body), 200)
    assert fixed["alert_threshold_percent"] == 80 and fixed["warn_percent"] == 80
    assert fixed["period"] == "fixed" and fixed["ends_at"].startswith("2025-12-31T23:59:59")
    # seed 003: curl -X POST .../costs/budgets -d '{"scope_type":"global","limit_amount":1000.0}'
    raw = b'{"scope_type":"global","limit_amount":1000.0}'
    headers = {"Content-Type": "application/json"}
    glob = _ok(_call(seeded, "POST", "/api/v1/costs/budgets", content=raw, headers=headers), 200)
    total = Decimal(_ok(_call(seeded, "GET", "/api/v1/costs/summary?scope_type=global"))["total_cost_usd"])
    per_call = {"id": "per-call", "scope_type": "global", "limit": "1", "period": "request"}
    _ok(_call(seeded, "POST", "/api/v1/costs/budgets", json=per_call), 200)

    # seed 001's list: every budget, ok ones included, with what it has spent (from the evaluation).
    def evaluated() -> bool:
        return _budgets(seeded)[glob["id"]]["current_spend_usd"] == format(total.normalize(), "f")

    wait_until(evaluated, timeout=20, what="the global budget's spend in the list", interval=0.1)
    listed = _budgets(seeded)
    # The agent enforces a per-request budget: the evaluator counts no spend for it.
    per_call = listed.pop("per-call")
    assert per_call["current_spend_usd"] is None and per_call["utilization_percent"] is None
    assert set(listed) == {created["id"], fixed["id"], glob["id"]}
    for item in listed.values():
        _typed(item, BUDGET_FIELDS)
    assert Decimal(listed[glob["id"]]["utilization_percent"]) == (total / 1000 * 100).quantize(
        Decimal("0.01")
    )
    assert listed[glob["id"]]["scope_id"] == "" and listed[glob["id"]]["is_hard_limit"] is True
    assert listed[fixed["id"]]["current_spend_usd"] == "0"  # its window ended before the calls
    assert set(_budgets(seeded, scope_type="ticket")) == {
        created["id"],
        fixed["id"],
    }  # seed: scope_type filter

    # seed 001 / 003 checks
    check = _ok(_call(seeded, "GET", "/api/v1/costs/budgets/check?scope_type=global"))
    _typed(check, CHECK_FIELDS)
    assert check["has_budget"] is True and check["limit_usd"] == "1000" and check["is_exceeded"] is False
    ticket = _ok(
        _call(
            seeded,
            "GET",
            "/api/v1/costs/budgets/check",
            params={"scope_type": "ticket", "scope_id": "ticket-uuid"},
        )
    )
    _typed(ticket, CHECK_FIELDS)
    assert ticket["scope_id"] == "ticket-uuid"

    # A seed name changes the field it names; two names of one field must agree.
    changed = _ok(_call(seeded, "PUT", f"/api/v1/costs/budgets/{created['id']}", json={"limit_usd": 60}))
    assert changed["limit"] == "60" and changed["limit_usd"] == "60"
    for bad in (
        {"limit": 5, "limit_usd": 6},
        {"limit_usd": 5, "alert_threshold": 0.825},
        {"limit_usd": 5, "spent": 1},
    ):
        refused = _call(seeded, "POST", "/api/v1/costs/budgets", json={"scope_type": "global", **bad})
        assert refused.status_code == 422, (bad, refused.text)
        assert next(iter(bad.keys() - {"limit_usd"}), "limit") in refused.text


def test_forecast_takes_the_seed_bodies(seeded: RunningCollector) -> None:
    # seed 001's body: no pending_task_count, so a day's worth at the recent rate (2 tasks in 30 days: 1)
    body = {
        "avg_tokens_per_task": 5000,
        "provider": "openai",
        "model": "gpt-4-turbo",
        "safety_buffer_multiplier": 1.5,
    }
    forecast = _ok(_call(seeded, "POST", "/api/v1/costs/forecast", json=body))
    _typed(
        forecast,
        {
            "pending_task_count": int,
            "estimated_cost_low": Decimal,
            "estimated_cost_mid": Decimal,
            "estimated_cost_high": Decimal,
        },
    )
    assert forecast["pending_task_count"] == 1
    assert forecast["assumptions"]["source"]["pending_task_count"] == "history"
    low, mid, high = (Decimal(forecast[f"estimated_cost_{k}"]) for k in ("low", "mid", "high"))
    assert 0 < low <= mid < high
    assumptions = forecast["assumptions"]
    _typed(
        assumptions,
        {
            "avg_tokens_per_task": int,
            "provider": str,
            "model": str,
            "expected_retry_rate": Decimal,
            "safety_buffer": Decimal,
        },
    )
    assert (assumptions["avg_tokens_per_task"], assumptions["model"], assumptions["safety_buffer"]) == (
        5000,
        "gpt-4-turbo",
        "1.5",
    )
    # seed 003's body, and its names for the result
    body = {
        "pending_task_count": 10,
        "avg_tokens_per_task": 5000,
        "provider": "anthropic",
        "model": "claude-sonnet-4.5",
    }
    forecast = _ok(_call(seeded, "POST", "/api/v1/costs/forecast", json=body))
    assert (
        forecast["pending_task_count"] == 10 and forecast["estimated_cost"] == forecast["estimated_cost_high"]
    )
    assert (
        Decimal(forecast["estimated_cost"]) > 0 and forecast["buffer_multiplier"] == "1.2"
    )  # seed 003's default
    unknown = _call(seeded, "POST", "/api/v1/costs/forecast", json={**body, "retries": 3})
    assert unknown.status_code == 422 and "retries" in unknown.text


def test_the_seeds_alert_threshold_is_where_warnings_start() -> None:
    # alert_threshold_percent 70: at 72 % the flag warns and the alert is a warning (the default is 80).
    budget = Budget.model_validate({"scope_type": "global", "limit_usd": 100, "alert_threshold_percent": 70})
    assert budget.thresholds == (50, 70, 80, 95, 100) and budget.alert_threshold_percent == 70
    assert state_of(budget, Decimal(72))[0] == "warn" and level_of(70, budget.warn_at) == "warning"
    default = Budget(scope_type="global", limit=Decimal(100))
    assert state_of(default, Decimal(72))[0] == "ok" and default.alert_threshold_percent == 80
    # A stored spec reads back the same (no threshold added twice), and 0.7 is the same as 70.
    assert Budget.model_validate_json(budget.model_dump_json()) == budget
    fraction = Budget.model_validate({"scope_type": "global", "limit": 100, "alert_threshold": 0.7})
    assert fraction.warn_percent == 70 and fraction.thresholds == budget.thresholds


def test_openapi_names_the_seed_routes_with_examples(seeded: RunningCollector) -> None:
    spec = _ok(_call(seeded, "GET", "/openapi.json"))
    paths = spec["paths"]
    assert paths["/api/v1/costs/records"]["get"]["summary"] == "List cost records"
    assert {"task_id", "agent_id", "limit"} <= {
        p["name"] for p in paths["/api/v1/costs/records"]["get"]["parameters"]
    }
    assert paths["/api/v1/costs/budgets"]["post"]["summary"] == "Create a budget"
    examples = spec["components"]["schemas"]["ForecastRequest"]["examples"]
    assert examples[0]["model"] == "gpt-4-turbo" and "pending_task_count" not in examples[0]


def test_a_stored_budget_this_version_cannot_read_is_named_not_listed(seeded: RunningCollector) -> None:
    """The list stays a bare array; a spec a newer version wrote is skipped and named in a header."""
    spec = '{"id": "from/the future", "scope_type": "galaxy", "limit": "1"}'
    seeded.client.command(
        f"INSERT INTO {seeded.database}.budgets (id, version, deleted, spec, changed_by, changed_at)"
        " VALUES ('from/the future', 1, 0, %(spec)s, 'test', now64(6))",
        parameters={"spec": spec},
    )
    answer = _call(seeded, "GET", "/api/v1/costs/budgets")
    listed = _ok(answer)
    assert isinstance(listed, list) and "from/the future" not in {b["id"] for b in listed}
    assert answer.headers["X-Unreadable-Budgets"] == "from/the%20future"
    assert (
        _ok(_call(seeded, "GET", "/api/v1/costs/budgets/check?scope_type=global"))["scope_type"] == "global"
    )
    seeded.client.command(
        f"INSERT INTO {seeded.database}.budgets (id, version, deleted, spec, changed_by, changed_at)"
        " VALUES ('from/the future', 2, 1, %(spec)s, 'test', now64(6))",
        parameters={"spec": spec},
    )
    assert "X-Unreadable-Budgets" not in _call(seeded, "GET", "/api/v1/costs/budgets").headers
