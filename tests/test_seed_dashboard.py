"""Seed 004's API (``/api/cost/*``, ``/api/admin/agents/*``) against one running collector with API
keys, seeded through OTLP: every curl example of the seed, a client that reads exactly what the
seed's React components read, the figures equal to the native API's, and the admin role."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from spendgate.collector.api import confidence
from spendgate.collector.api.auth import digest

from .conftest import RunningCollector, clear_of_midnight, collector_running, wait_until
from .test_budgets import _span_at

# The seed's curl examples send "Bearer admin-key".
KEYS = {"ingest": "ingest-key", "read": "read-key", "admin": "admin-key"}
CONFIG = "extensions:\n  budgets: {evaluate_every: 1h, defaults: []}\n  auth:\n    api_keys:\n" + "".join(
    f"      - {{name: {role}, sha256: {digest(key)}, roles: [{role}]}}\n" for role, key in KEYS.items()
)
READ = {"Authorization": f"Bearer {KEYS['read']}"}
ADMIN = {"Authorization": f"Bearer {KEYS['admin']}"}
ADMIN_ROUTES = ("budget", "budget/reset", "pause", "unpause")


def _spans(now: datetime) -> list[Any]:
    spans = [_span_at(now - timedelta(seconds=i), **{"spendgate.agent": "coder"}) for i in range(5)]
    spans += [
        _span_at(now - timedelta(seconds=10 + i), model="gpt-4o-mini", **{"spendgate.agent": "tester"})
        for i in range(3)
    ]
    spans.append(
        _span_at(
            now - timedelta(seconds=20),
            model="claude-sonnet-4-5",
            provider="anthropic",
            **{"spendgate.agent": "writer"},
        )  # fmt: skip
    )
    embeddings = {"gen_ai.operation.name": "embeddings", "gen_ai.usage.output_tokens": 0}
    spans.append(
        _span_at(
            now - timedelta(seconds=30),
            model="text-embedding-3-small",
            **{"spendgate.agent": "embedder", **embeddings},
        )  # fmt: skip
    )
    return spans


@pytest.fixture(scope="module")
def running(chdb_dsn: str) -> Iterator[RunningCollector]:
    """Ten calls of four agents today; coder has a roomy monthly budget, writer one it is over."""
    with collector_running(chdb_dsn, CONFIG) as collector:
        exporter = GrpcExporter(
            endpoint=collector.grpc_endpoint, insecure=True, headers={"authorization": "Bearer ingest-key"}
        )
        assert exporter.export(_spans(clear_of_midnight())).name == "SUCCESS"
        for agent, limit in (("coder", "1"), ("writer", "0.001")):
            budget = {
                "id": agent,
                "scope_type": "agent",
                "scope_id": agent,
                "limit": limit,
                "period": "month",
            }
            created = httpx.post(collector.http_url + "/api/v1/costs/budgets", json=budget, headers=ADMIN)
            assert created.status_code == 200, created.text

        def evaluated() -> bool:
            scopes = _native(collector, "/api/v1/costs/budgets/status", scope_type="agent")["scopes"]
            return {s["scope_id"] for s in scopes if Decimal(s["spend"]) > 0} == {"coder", "writer"}

        wait_until(evaluated, what="the budgets evaluated on the seeded spend")
        yield collector


def _native(running: RunningCollector, path: str, **params: Any) -> Any:
    response = httpx.get(running.http_url + path, params=params, headers=READ, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _seed(response: httpx.Response) -> Any:
    """The data of a seed envelope, numbers read exactly (as Decimals)."""
    assert response.status_code == 200, response.text
    body = json.loads(response.text, parse_float=Decimal)
    assert body["success"] is True and set(body) == {"success", "data"}
    return body["data"]


def _get(running: RunningCollector, path: str, **params: Any) -> Any:
    return _seed(httpx.get(running.http_url + path, params=params, headers=READ, timeout=10))


def _money(value: Any) -> Decimal:
    assert isinstance(value, (int, Decimal)) and not isinstance(value, bool), value  # a JSON number
    return Decimal(value)


class ReactClient:
    """Seed 004's React components, as Python: ``fetch(url).then(res => res.json())`` parses numbers
    as floats, like JavaScript, and each method reads exactly the fields its component reads."""

    def __init__(self, running: RunningCollector) -> None:
        self.http = httpx.Client(base_url=running.http_url, headers=READ, timeout=10)

    def fetch(self, url: str) -> Any:
        return self.http.get(url).json()

    @staticmethod
    def to_fixed(value: Any, digits: int) -> str:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), value  # Number.toFixed
        return f"{value:.{digits}f}"

    def cost_dashboard(self) -> dict[str, Any]:
        data = self.fetch("/api/cost/dashboard")["data"]
        return {
            "this_month": "$" + self.to_fixed(data["current_month"]["total_cost"], 2),
            "today": "$" + self.to_fixed(data["today"]["total_cost"], 2),
            "top_agents": [
                (agent["agent_name"], "$" + self.to_fixed(agent["cost_usd"], 2), agent["operation_count"])
                for agent in data["top_agents"]
            ],
            "raw": data,
        }

    def agent_budget_monitor(self) -> list[dict[str, Any]]:
        agents = self.fetch("/api/cost/agents")["data"]["agents"]
        rows = []
        for agent in agents:
            utilization = agent["utilization_pct"]
            rows.append(
                {
                    "key": agent["agent_id"],
                    "agent": agent["agent_name"],
                    "budget": "$" + self.to_fixed(agent["budget_limit"], 2),
                    "used": "$" + self.to_fixed(agent["current_cost"], 2),
                    "bar": "critical" if utilization > 90 else "warning" if utilization > 75 else "normal",
                    "width": f"{min(utilization, 100)}%",
                    "utilization": self.to_fixed(utilization, 1) + "%",
                    "status": "Active" if agent["is_active"] else "Paused",
                }
            )
        return rows


def test_dashboard_as_the_curl_example_and_the_react_component_read_it(running: RunningCollector) -> None:
    data = _get(running, "/api/cost/dashboard")  # curl http://localhost:3000/api/cost/dashboard
    month = _native(running, "/api/v1/costs/summary", period="month")
    today = _native(running, "/api/v1/costs/summary", period="day")
    now = datetime.now(UTC)
    assert data["current_month"]["month"] == now.strftime("%Y-%m")
    assert data["today"]["date"] == now.date().isoformat()
    assert _money(data["current_month"]["total_cost"]) == Decimal(month["totals"]["total_cost"]) > 0
    assert _money(data["today"]["total_cost"]) == Decimal(today["totals"]["total_cost"])
    assert data["today"]["operation_count"] == today["totals"]["calls"] == 10
    agents = _native(running, "/api/v1/usage/by-agent", period="month")["agents"]
    assert [(a["agent_name"], a["agent_id"], _money(a["cost_usd"]), a["operation_count"]) for a in data["top_agents"]] == [
        (a["agent"], a["agent"], Decimal(a["total_cost"]), a["calls"]) for a in agents[:5]
    ]  # fmt: skip
    models = {m["model"]: m for m in month["by_model"]}
    assert {m["model"]: _money(m["cost_usd"]) for m in data["top_models"]} == {
        name: Decimal(m["total_cost"]) for name, m in models.items()
    }
    assert all(isinstance(m["operation_count"], int) for m in data["top_models"])
    react = ReactClient(running).cost_dashboard()
    assert react["this_month"] == f"${float(Decimal(month['totals']['total_cost'])):.2f}"
    assert [name for name, _, _ in react["top_agents"]] == [a["agent"] for a in agents[:5]]
    assert {calls for _, _, calls in react["top_agents"]} == {5, 3, 1}
    assert react["raw"]["current_month"]["total_cost"] == float(Decimal(month["totals"]["total_cost"]))
    few = _get(running, "/api/cost/dashboard", limit=2)
    assert len(few["top_agents"]) == len(few["top_models"]) == 2


def test_agents_as_the_curl_example_and_the_budget_monitor_read_them(running: RunningCollector) -> None:
    budgeted = [a["agent_id"] for a in _get(running, "/api/cost/agents")["agents"]]
    assert sorted(budgeted) == ["coder", "writer"]
    agents = {a["agent_id"]: a for a in _get(running, "/api/cost/agents", include_unbudgeted=True)["agents"]}
    assert set(agents) == {"coder", "tester", "writer", "embedder"}
    status = {
        s["scope_id"]: s
        for s in _native(running, "/api/v1/costs/budgets/status", scope_type="agent")["scopes"]
    }
    for name in ("coder", "writer"):  # budgeted: the budget status's figures
        agent, scope = agents[name], status[name]
        assert agent["agent_name"] == name and agent["budget_id"] == name
        assert _money(agent["budget_limit"]) == Decimal(scope["limit_amount"])
        assert _money(agent["current_cost"]) == Decimal(scope["spend"]) > 0
        assert _money(agent["remaining"]) == Decimal(scope["remaining"])
        assert _money(agent["utilization_pct"]) == Decimal(scope["utilization"])
        assert agent["operation_count"] == scope["calls"] and agent["state"] == scope["state"]
    assert agents["coder"]["is_active"] is True and agents["coder"]["operation_count"] == 5
    assert agents["writer"]["state"] == "block" and agents["writer"]["is_active"] is False
    usage = {a["agent"]: a for a in _native(running, "/api/v1/usage/by-agent")["agents"]}
    tester = agents["tester"]  # no budget: the month's spend, null budget fields
    assert tester["budget_limit"] is None and tester["utilization_pct"] is None and tester["is_active"]
    assert _money(tester["current_cost"]) == Decimal(usage["tester"]["total_cost"])
    assert tester["operation_count"] == 3
    costs = [agent["current_cost"] for agent in agents.values()]
    assert costs == sorted(costs, reverse=True)
    # The monitor reads budget_limit and utilization_pct as numbers: every agent it gets renders.
    monitor = {row["agent"]: row for row in ReactClient(running).agent_budget_monitor()}
    assert set(monitor) == {"coder", "writer"}
    assert monitor["writer"]["bar"] == "critical" and monitor["writer"]["width"] == "100%"
    assert monitor["writer"]["status"] == "Paused" and monitor["coder"]["status"] == "Active"
    assert monitor["coder"]["budget"] == "$1.00"
    assert monitor["coder"]["used"] == f"${float(Decimal(status['coder']['spend'])):.2f}"


def test_summary_models_operations_and_trends(running: RunningCollector) -> None:
    summary = _get(running, "/api/cost/summary")
    month = _native(running, "/api/v1/costs/summary")
    assert _money(summary["total_cost"]) == Decimal(month["totals"]["total_cost"])
    assert summary["operation_count"] == 10 and summary["input_tokens"] == 10_000
    assert {p["provider"] for p in summary["by_provider"]} == {"openai", "anthropic"}
    coder = _get(running, "/api/cost/summary", agent_id="coder", period="day")
    native = _native(running, "/api/v1/costs/summary", scope_type="agent", scope_id="coder", period="day")
    assert (
        _money(coder["total_cost"]) == Decimal(native["totals"]["total_cost"])
        and coder["operation_count"] == 5
    )
    assert coder["scope_type"] == "agent" and coder["period_start"] == native["start"]
    assert _get(running, "/api/cost/summary", agent_id="nobody")["total_cost"] == 0
    both = httpx.get(running.http_url + "/api/cost/summary", params={"agent_id": "a", "scope_type": "project",
                     "scope_id": "p"}, headers=READ)  # fmt: skip
    assert both.status_code == 422 and "agent_id" in both.json()["detail"]

    models = _get(running, "/api/cost/models")
    native_models = _native(running, "/api/v1/usage/by-model")
    assert [(m["model"], _money(m["cost_usd"]), _money(m["share_percent"])) for m in models["models"]] == [
        (m["model"], Decimal(m["total_cost"]), Decimal(m["share_percent"])) for m in native_models["models"]
    ]
    operations = _get(running, "/api/cost/operations")
    by_operation = {o["operation"]: o for o in operations["operations"]}
    assert set(by_operation) == {"chat", "embeddings"}
    assert by_operation["chat"]["operation_count"] == 9 and by_operation["embeddings"]["operation_count"] == 1
    assert sum(_money(o["cost_usd"]) for o in by_operation.values()) == _money(operations["total_cost"])
    assert _money(operations["total_cost"]) == Decimal(month["totals"]["total_cost"])
    native_operations = _native(running, "/api/v1/usage/by-operation")  # one implementation behind both
    assert [
        (o["operation"], _money(o["cost_usd"]), o["operation_count"]) for o in operations["operations"]
    ] == [(o["operation"], Decimal(o["total_cost"]), o["calls"]) for o in native_operations["operations"]]

    trends = _get(running, "/api/cost/trends", days=31)  # curl ".../api/cost/trends?days=30", a month's worth
    native_trends = _native(running, "/api/v1/costs/trends", days=31)
    assert len(trends["daily"]) == 31 and trends["daily"][-1]["date"] == datetime.now(UTC).date().isoformat()
    assert trends["daily"][-1]["operation_count"] == 10
    assert _money(trends["month_to_date"]) == Decimal(native_trends["month_to_date"])
    assert _money(trends["projected_monthly_cost"]) == Decimal(native_trends["projected_month"])
    assert _money(trends["average_daily_cost"]) == Decimal(native_trends["average_per_day"])
    # The confidence, recomputed from the month's daily costs as the README documents it.
    month_days = [_money(d["total_cost"]) for d in trends["daily"][-trends["days_elapsed"] :]]
    cv = (statistics.pstdev(month_days) / (sum(month_days) / len(month_days))).quantize(Decimal("0.0001"))
    assert _money(trends["confidence_basis"]["daily_cost_cv"]) == cv
    assert (
        trends["confidence"]
        == confidence.level(trends["days_elapsed"], cv)
        == native_trends["confidence"]["level"]
    )
    assert len(_get(running, "/api/cost/trends", days=30)["daily"]) == 30
    assert (
        httpx.get(running.http_url + "/api/cost/trends", params={"days": 0}, headers=READ).status_code == 422
    )


def test_confidence_levels() -> None:
    steady, jumpy = [Decimal(2)] * 14, [Decimal(0), Decimal(4)] * 7
    assert confidence.projection_confidence(steady) == {
        "level": "high",
        "days_elapsed": 14,
        "daily_cost_cv": 0,
    }
    assert confidence.projection_confidence(steady[:13])["level"] == "medium"
    assert confidence.projection_confidence(jumpy)["level"] == "medium"  # CV 1
    assert confidence.projection_confidence(steady[:6])["level"] == "low"
    assert confidence.projection_confidence([Decimal(0)] * 20) == {
        "level": "low",
        "days_elapsed": 20,
        "daily_cost_cv": None,
    }


def _admin(
    running: RunningCollector, agent: str, action: str, body: Any = None, **headers: str
) -> httpx.Response:
    url = f"{running.http_url}/api/admin/agents/{agent}/{action}"
    return httpx.post(url, json=body, headers=headers or ADMIN, timeout=10)


def test_admin_routes_need_the_admin_role(running: RunningCollector) -> None:
    for action in ADMIN_ROUTES:
        assert _admin(running, "coder", action, {}, Authorization="Bearer read-key").status_code == 403, (
            action
        )
        assert _admin(running, "coder", action, {}, Authorization="Bearer nonsense").status_code == 401, (
            action
        )
    assert _native(running, "/api/v1/costs/budgets/coder")["limit"] == "1"  # nothing changed


def test_admin_budget_reset_pause_and_unpause(running: RunningCollector) -> None:
    # curl -X POST .../api/admin/agents/uuid-123/budget -H "Authorization: Bearer admin-key" -d '{...}'
    seeded = httpx.post(
        running.http_url + "/api/admin/agents/uuid-123/budget",
        content='{"max_monthly_cost_usd": 100.00}',
        headers={"Content-Type": "application/json", "Authorization": "Bearer admin-key"},
    )
    created = _seed(seeded)
    assert created["agent_id"] == "uuid-123" and created["max_monthly_cost_usd"] == 100
    native = _native(running, f"/api/v1/costs/budgets/{created['budget_id']}")
    assert (native["scope_type"], native["scope_id"], native["period"], native["metric"]) == (
        "agent",
        "uuid-123",
        "month",
        "cost",
    )
    changed = _seed(_admin(running, "coder", "budget", {"max_monthly_cost_usd": 2.5}))
    assert changed["budget_id"] == "coder" and changed["max_monthly_cost_usd"] == Decimal("2.5")
    assert Decimal(_native(running, "/api/v1/costs/budgets/coder")["limit"]) == Decimal("2.5")
    assert (
        _seed(_admin(running, "coder", "budget/reset"))["reset_at"]
        == _native(running, "/api/v1/costs/budgets/coder")["reset_at"]
        is not None
    )
    nobody = _admin(running, "nobody", "budget/reset")
    assert nobody.status_code == 404 and "no monthly cost budget" in nobody.json()["detail"]
    for bad in ({"max_monthly_cost_usd": -1}, {"max_monthly_cost_usd": 5, "limit": 5}, {}):
        assert _admin(running, "coder", "budget", bad).status_code == 422, bad
    assert _admin(running, "*", "budget", {"max_monthly_cost_usd": 5}).status_code == 422

    # With a default agent budget, an agent without one gets its own with the default's rules.
    default = {
        "id": "agents",
        "scope_type": "agent",
        "scope_id": "*",
        "limit": "0.5",
        "thresholds": [10, 50],
        "hard": False,
    }
    assert (
        httpx.post(running.http_url + "/api/v1/costs/budgets", json=default, headers=ADMIN).status_code == 200
    )
    newbie = _native(
        running,
        f"/api/v1/costs/budgets/{_seed(_admin(running, 'newbie', 'budget', {'max_monthly_cost_usd': 3}))['budget_id']}",
    )
    assert (newbie["thresholds"], newbie["hard"], Decimal(newbie["limit"])) == ([10, 50], False, 3)
    reset = _seed(_admin(running, "tester", "budget/reset"))
    own = _native(running, f"/api/v1/costs/budgets/{reset['budget_id']}")
    assert own["scope_id"] == "tester" and own["reset_at"] == reset["reset_at"] is not None
    assert (
        reset["max_monthly_cost_usd"] == Decimal("0.5")
        and _native(running, "/api/v1/costs/budgets/agents")["reset_at"] is None
    )

    paused = _seed(_admin(running, "embedder", "pause", {"reason": "runaway loop"}))
    assert (
        paused["state"] == "paused" and paused["changed_by"] == "admin" and paused["reason"] == "runaway loop"
    )
    assert [p["scope_id"] for p in _native(running, "/api/v1/scopes/paused")["paused"]] == ["embedder"]
    agents = {a["agent_id"]: a for a in _get(running, "/api/cost/agents", include_unbudgeted=True)["agents"]}
    assert agents["embedder"]["is_paused"] is True and agents["embedder"]["is_active"] is False
    assert _seed(_admin(running, "embedder", "unpause"))["paused"] is False
    assert _native(running, "/api/v1/scopes/paused")["paused"] == []
    assert _admin(running, "embedder", "pause", {"why": "typo"}).status_code == 422


def test_openapi_documents_the_routes_and_bad_input_is_a_4xx(running: RunningCollector) -> None:
    spec = httpx.get(running.http_url + "/openapi.json", timeout=10).json()
    for route in ("dashboard", "summary", "agents", "models", "operations", "trends"):
        operation = spec["paths"][f"/api/cost/{route}"]["get"]
        assert operation["summary"] and operation["description"], route
        if route != "trends":
            bad = httpx.get(
                f"{running.http_url}/api/cost/{route}", params={"tz": "Mars/Olympus"}, headers=READ
            )
            assert bad.status_code == 422 and "Mars/Olympus" in bad.text, route
    for action in ADMIN_ROUTES:
        assert spec["paths"][f"/api/admin/agents/{{agent_id}}/{action}"]["post"]["summary"], action
    body = spec["components"]["schemas"]["AgentBudgetBody"]
    assert body["examples"] == [{"max_monthly_cost_usd": 100.0}] and body["additionalProperties"] is False
