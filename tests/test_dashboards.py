"""Every Grafana panel's SQL, expanded as Grafana and the ClickHouse plugin expand it, run on chDB.

One collector receives a known set of priced calls over the real OTLP exporter; budgets are made
through the API, so flags and alerts come from the real evaluator. Each panel's numbers are then
checked against the prices of those calls.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import clickhouse_connect
import httpx
import pytest
import yaml
from genai_prices import Usage, calc_price
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

from . import grafana
from .conftest import REPO, RunningCollector, clear_of_midnight, collector_running, wait_until
from .test_budgets import _span_at

GRAFANA = REPO / "queries" / "grafana"
GPT4O = Decimal("0.0045")  # 1,000 input + 200 output tokens
MINI = Decimal("0.00027")
FALLBACK = Decimal("0.03")  # the default fallback rate: $15 / $75 per million tokens
ALL: dict[str, grafana.Selection] = {
    "project": "$__all",
    "agent": "$__all",
    "provider": "$__all",
    "model": "$__all",
}


@dataclass
class Seeded:
    running: RunningCollector
    client: Any
    now: datetime
    today: datetime  # 00:00 UTC
    claude: Decimal  # the cached anthropic call's price
    claude_savings: Decimal

    def day(self, days_ago: int) -> datetime:
        return self.today - timedelta(days=days_ago)

    def query(
        self,
        panel: str,
        start: datetime | None = None,
        end: datetime | None = None,
        interval: timedelta = timedelta(hours=1),
        **variables: grafana.Selection,
    ) -> list[dict[str, Any]]:
        sql = (GRAFANA / panel).read_text(encoding="utf-8")
        # The filter variables' values are the names in hex (variables/*.sql), as Grafana sends them.
        for name in ALL:
            if name in variables and variables[name] != grafana.ALL:
                variables[name] = [value.encode().hex().upper() for value in grafana.values(variables[name])]
        # The range ends now by default: flags and alerts are written after the seeded calls.
        end = end or datetime.now(UTC) + timedelta(seconds=1)
        time_range = grafana.TimeRange(start or self.day(6), end, interval)
        rendered = grafana.render(sql, time_range, {**ALL, "pending_tasks": "100", **variables})
        result = self.client.query(rendered)
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    def one(self, panel: str, **kwargs: Any) -> dict[str, Any]:
        rows = self.query(panel, **kwargs)
        assert len(rows) == 1, rows
        return rows[0]


def _utc(moment: datetime) -> datetime:
    """A DateTime('UTC') value in UTC, whether the driver returned it naive or in the machine's zone."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _day(moment: datetime) -> Any:
    return _utc(moment).date()


@pytest.fixture(scope="module")
def seeded(chdb_dsn: str) -> Iterator[Seeded]:
    with collector_running(chdb_dsn) as running:
        yield _seed(running, chdb_dsn)


def _seed(running: RunningCollector, chdb_dsn: str) -> Seeded:
    now = clear_of_midnight()  # the seeded calls of today are seconds before now
    today = now.replace(hour=0, minute=0, second=0)
    shop = {"spendgate.project": "shop", "spendgate.ticket": "T-1"}
    spans = [
        *[
            _span_at(
                now - timedelta(seconds=5 + i),
                **shop,
                **{
                    "spendgate.agent": "coder",
                    "spendgate.phase": "build",
                    "spendgate.task": "task-1",
                    "spendgate.run": "run-1",
                },
            )  # fmt: skip
            for i in range(3)
        ],
        *[
            _span_at(
                now - timedelta(seconds=10 + i),
                model="gpt-4o-mini",
                **shop,
                **{
                    "spendgate.agent": "tester",
                    "spendgate.phase": "test",
                    "spendgate.task": "task-2",
                    "spendgate.run": "run-2",
                },
            )  # fmt: skip
            for i in range(2)
        ],
        _span_at(
            today - timedelta(hours=6),
            model="claude-sonnet-4-5",
            provider="anthropic",
            **{
                "gen_ai.usage.cache_read.input_tokens": 400,
                "spendgate.project": "blog",
                "spendgate.agent": "writer",
                "spendgate.phase": "plan",
                "spendgate.task": "task-3",
                "spendgate.run": "run-3",
            },
        ),  # fmt: skip
        _span_at(
            today - timedelta(days=5) + timedelta(hours=1),
            model="house-model-x",
            **{
                "spendgate.project": "blog",
                "spendgate.agent": "writer",
                "spendgate.phase": "plan",
                "spendgate.task": "task-3",
                "spendgate.run": "run-3",
                "spendgate.usage.estimated": True,
            },
        ),  # fmt: skip
    ]
    assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans).name == "SUCCESS"  # type: ignore[arg-type]
    claude_when = today - timedelta(hours=6)
    claude = calc_price(Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=400), "claude-sonnet-4-5",
                        provider_id="anthropic", genai_request_timestamp=claude_when).total_price  # fmt: skip
    uncached = calc_price(Usage(input_tokens=1000, output_tokens=200), "claude-sonnet-4-5",
                          provider_id="anthropic", genai_request_timestamp=claude_when).total_price  # fmt: skip

    api = httpx.Client(base_url=running.http_url, timeout=30)
    # shop spends 3 x $0.0045 + 2 x $0.00027 = $0.01404 today: 93.6 % of $0.015 is a warning.
    budgets = [
        {"id": "shop-daily", "scope_type": "project", "scope_id": "shop", "limit": "0.015", "period": "day"},
        {"id": "blog-daily", "scope_type": "project", "scope_id": "blog", "limit": "1", "period": "day"},
        {"id": "gone", "scope_type": "project", "scope_id": "shop", "limit": "0.001", "period": "day"},
    ]
    for budget in budgets:
        assert api.post("/api/v1/costs/budgets", json=budget).status_code == 200
    assert api.delete("/api/v1/costs/budgets/gone").status_code == 204
    client = clickhouse_connect.get_client(dsn=chdb_dsn, database=running.database)

    def recorded() -> bool:
        flags = client.query("SELECT DISTINCT budget_id FROM budget_flags").result_rows
        alerts = client.query("SELECT count() FROM budget_alerts WHERE budget_id = 'shop-daily'").result_rows
        status = client.query(
            "SELECT DISTINCT budget_id FROM budget_status "
            "WHERE evaluated_at = (SELECT max(evaluated_at) FROM budget_status)"
        ).result_rows
        newest = {r[0] for r in status}
        return (
            {"shop-daily", "gone"} <= {r[0] for r in flags}
            and alerts[0][0] >= 2
            and {"shop-daily", "blog-daily"} <= newest
            and "gone" not in newest
        )

    wait_until(recorded, timeout=30, what="flags and alerts of the test budgets", interval=0.1)
    api.close()
    return Seeded(running, client, now, today, claude, uncached - claude)


# -- the dashboards as files ---------------------------------------------------------------------------


def _dashboards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text("utf-8")) for p in sorted((GRAFANA / "dashboards").glob("*.json"))]


def _panel_files() -> list[str]:
    return sorted(str(p.relative_to(GRAFANA)) for p in (GRAFANA / "panels").rglob("*.sql"))


def test_dashboards_are_built_from_the_spec_and_the_sql_files() -> None:
    check = subprocess.run([sys.executable, str(REPO / "tools" / "build_dashboards.py"), "--check"],
                           capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stderr
    used = []
    for dashboard in _dashboards():
        assert dashboard["uid"].startswith("spendgate-") and dashboard["timezone"] == "utc"
        for panel in dashboard["panels"]:
            (target,) = panel["targets"]
            assert target["datasource"] == {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"}
            path = REPO / target["spendgateSql"]
            assert target["rawSql"] == path.read_text("utf-8"), panel["title"]
            assert target["format"] == (0 if panel["type"] == "timeseries" else 1)
            used.append(str(path.relative_to(GRAFANA)))
    assert sorted(used) == _panel_files()  # every panel file is on a dashboard, once
    titles = {d["title"] for d in _dashboards()}
    assert {"spendgate · Usage & Costs", "spendgate · Records", "spendgate · Budgets", "spendgate · Cache savings",
            "spendgate · Trends and forecast", "spendgate · Pricing coverage"} == titles  # fmt: skip


def test_provisioning_points_the_dashboards_at_the_clickhouse_plugin() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/spendgate.yaml").read_text("utf-8"))
    (source,) = datasources["datasources"]
    assert source["type"] == "grafana-clickhouse-datasource" and source["uid"] == "spendgate-clickhouse"
    assert source["jsonData"]["protocol"] == "native" and "defaultDatabase" in source["jsonData"]
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/spendgate.yaml").read_text("utf-8"))
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/spendgate"
    for dashboard in _dashboards():
        (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "datasource"]
        assert variable["current"]["value"] == source["uid"]


def test_macros_expand_like_the_plugin() -> None:
    # The plugin's own examples: 2014-11-12 11:45:26 to 2015-11-12 11:45:26 UTC, a 20 s interval.
    window = grafana.TimeRange(datetime(2014, 11, 12, 11, 45, 26, tzinfo=UTC),
                               datetime(2015, 11, 12, 11, 45, 26, tzinfo=UTC), timedelta(seconds=20))  # fmt: skip
    assert window.expand("$__timeFilter(t)") == "t >= toDateTime(1415792726) AND t <= toDateTime(1447328726)"
    assert window.expand("$__fromTime_ms") == "fromUnixTimestamp64Milli(1415792726000)"
    assert window.expand("$__dateFilter(d)") == "d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')"
    assert window.expand("$__timeInterval(t)") == "toStartOfInterval(toDateTime(t), INTERVAL 20 second)"
    assert window.expand("x / $__interval_s") == "x / 20"
    with pytest.raises(ValueError, match="unknown macro"):
        window.expand("$__nope")
    condition = "WHERE $__conditionalAll(p IN (${p:singlequote}), $p)"
    assert grafana.apply_conditional_all(condition, {"p": "$__all"}) == "WHERE 1=1"
    assert grafana.render(condition, window, {"p": ["a", "o'b"]}) == "WHERE p IN ('a','o\\'b')"
    assert grafana.render("${n:sqlstring}", window, {"n": "1'; DROP"}) == "'1''; DROP'"


@pytest.mark.parametrize("panel", _panel_files())
def test_every_panel_runs_with_all_and_with_a_selection(seeded: Seeded, panel: str) -> None:
    everything = seeded.query(panel)
    assert everything, "no rows on seeded data"
    narrowed = seeded.query(panel, project=["shop", "nobody's"], agent="$__all")
    text = (GRAFANA / panel).read_text("utf-8")
    # blog's calls are before today; the month to date may have none of them on the 1st.
    unfiltered = "$project)" not in text or panel.endswith(("today_cost.sql", "month_projection.sql"))
    if not unfiltered:
        assert narrowed != everything, "the project filter changed nothing"


@pytest.mark.parametrize("name", ["project", "agent", "provider", "model"])
def test_filter_variables_list_what_spent_in_the_range(seeded: Seeded, name: str) -> None:
    rows = seeded.query(f"variables/{name}.sql")
    assert all(row["__value"] == row["__text"].encode().hex().upper() for row in rows)
    values = [row["__text"] for row in rows]
    expected = {
        "project": ["blog", "shop"],
        "agent": ["coder", "tester", "writer"],
        "provider": ["anthropic", "openai"],
        "model": ["claude-sonnet-4-5", "gpt-4o", "gpt-4o-mini", "house-model-x"],
    }
    assert values == expected[name]
    recent = [row["__text"] for row in seeded.query(f"variables/{name}.sql", start=seeded.today)]
    assert "writer" not in recent and "blog" not in recent  # blog spent only before today


# -- overview ---------------------------------------------------------------------------------------------


def test_overview_cards(seeded: Seeded) -> None:
    total = 3 * GPT4O + 2 * MINI + seeded.claude + FALLBACK
    assert seeded.one("panels/overview/total_cost.sql") == {"total_cost": total}
    assert seeded.one("panels/overview/total_cost.sql", project="shop") == {
        "total_cost": 3 * GPT4O + 2 * MINI
    }
    assert seeded.one("panels/overview/total_cost.sql", model=["gpt-4o-mini", "house-model-x"]) == {
        "total_cost": 2 * MINI + FALLBACK
    }
    # A range of the last two days leaves out the call of five days ago.
    assert seeded.one("panels/overview/total_cost.sql", start=seeded.day(1))["total_cost"] == total - FALLBACK
    assert seeded.one("panels/overview/total_tokens.sql") == {"tokens": 7 * 1200}
    assert seeded.one("panels/overview/agent_runs.sql") == {"agent_runs": 3}
    assert seeded.one("panels/overview/agent_runs.sql", agent="tester") == {"agent_runs": 1}
    assert seeded.one("panels/overview/today_cost.sql") == {"today": 3 * GPT4O + 2 * MINI}
    assert seeded.one("panels/overview/today_cost.sql", project="blog") == {"today": 0}


def test_overview_budget_used_shows_the_global_budgets(seeded: Seeded) -> None:
    used = {row["budget"]: row for row in seeded.query("panels/overview/budget_used.sql")}
    monthly = used["global-monthly"]  # a seeded default: $500 a month
    month_start = seeded.today.replace(day=1)
    spend = 3 * GPT4O + 2 * MINI
    spend += seeded.claude if seeded.day(0) - timedelta(hours=6) >= month_start else 0
    spend += FALLBACK if seeded.day(5) + timedelta(hours=1) >= month_start else 0
    assert (monthly["spend"], monthly["limit_amount"]) == (spend, Decimal(500))
    assert monthly["used_percent"] == (spend / 5).quantize(Decimal("0.000001"))
    assert "shop-daily" not in used  # a project budget


def test_overview_daily_cost_and_breakdowns(seeded: Seeded) -> None:
    daily = [
        (_day(r["time"]), r["provider"], r["cost"]) for r in seeded.query("panels/overview/daily_cost.sql")
    ]
    assert daily == [
        (seeded.day(5).date(), "openai", FALLBACK),
        (seeded.day(1).date(), "anthropic", seeded.claude),
        (seeded.day(0).date(), "openai", 3 * GPT4O + 2 * MINI),
    ]
    total = 3 * GPT4O + 2 * MINI + seeded.claude + FALLBACK

    def shares(panel: str, **variables: grafana.Selection) -> list[tuple[Any, ...]]:
        rows = seeded.query(f"panels/overview/{panel}", **variables)
        return [tuple(row.values()) for row in rows]

    def share(cost: Decimal, of: Decimal = total) -> float:
        return round(float(cost * 100 / of), 2)

    assert shares("cost_by_agent.sql") == sorted(
        [
            ("writer", 2, 2400, seeded.claude + FALLBACK, share(seeded.claude + FALLBACK)),
            ("coder", 3, 3600, 3 * GPT4O, share(3 * GPT4O)),
            ("tester", 2, 2400, 2 * MINI, share(2 * MINI)),
        ],
        key=lambda row: -row[3],
    )
    assert shares("cost_by_ticket.sql") == sorted(
        [("T-1", 5, 6000, 3 * GPT4O + 2 * MINI, share(3 * GPT4O + 2 * MINI)),
         ("(none)", 2, 2400, seeded.claude + FALLBACK, share(seeded.claude + FALLBACK))],
        key=lambda row: -row[3],
    )  # fmt: skip
    shop = 3 * GPT4O + 2 * MINI
    assert shares("cost_by_phase.sql", project="shop") == [
        ("build", 3, 3600, 3 * GPT4O, share(3 * GPT4O, shop)),
        ("test", 2, 2400, 2 * MINI, share(2 * MINI, shop)),
    ]
    assert shares("cost_by_provider.sql", project="shop") == [("openai", 5, 6000, shop, 100.0)]
    models = {row[0]: row[3] for row in shares("cost_by_model.sql")}
    assert models == {"gpt-4o": 3 * GPT4O, "gpt-4o-mini": 2 * MINI, "claude-sonnet-4-5": seeded.claude,
                      "house-model-x": FALLBACK}  # fmt: skip
    assert sum(row[4] for row in shares("cost_by_model.sql")) == pytest.approx(100, abs=0.02)


# -- records ----------------------------------------------------------------------------------------------


def test_records_list_calls_newest_first(seeded: Seeded) -> None:
    calls = seeded.query("panels/records/calls.sql")
    assert len(calls) == 7
    assert [c["time"] for c in calls] == sorted((c["time"] for c in calls), reverse=True)
    assert calls[0]["agent"] == "coder" and calls[0]["cost"] == GPT4O and calls[0]["model"] == "gpt-4o"
    testers = seeded.query("panels/records/calls.sql", agent="tester")
    assert [(c["model"], c["cost"], c["input_tokens"]) for c in testers] == [("gpt-4o-mini", MINI, 1000)] * 2
    claude = seeded.query("panels/records/calls.sql", provider="anthropic")
    assert [(c["cache_read_tokens"], c["cost"], c["pricing_status"]) for c in claude] == [
        (400, seeded.claude, "priced")
    ]


def test_spend_rate_scales_each_interval_to_an_hour(seeded: Seeded) -> None:
    for interval in (timedelta(hours=1), timedelta(minutes=10)):
        buckets = seeded.query("panels/records/spend_rate.sql", interval=interval)
        assert sum(b["calls"] for b in buckets) == 7
        spent = sum(b["cost_per_hour"] * Decimal(interval.total_seconds()) / 3600 for b in buckets)
        assert spent == 3 * GPT4O + 2 * MINI + seeded.claude + FALLBACK
        assert all(b["time"].timestamp() % interval.total_seconds() == 0 for b in buckets)


# -- budgets ----------------------------------------------------------------------------------------------


def test_budget_panels_show_every_live_scope_flag_changes_and_alerts(seeded: Seeded) -> None:
    scopes = {(f["budget"], f["scope_id"]): f for f in seeded.query("panels/budgets/scopes.sql")}
    shop = scopes[("shop-daily", "shop")]
    spent = 3 * GPT4O + 2 * MINI
    assert (shop["state"], shop["spend"], shop["limit_amount"], shop["calls"]) == (
        "warn",
        spent,
        Decimal("0.015"),
        5,
    )
    assert shop["used_percent"] == Decimal("93.6") and shop["remaining"] == Decimal("0.015") - spent
    assert _utc(shop["period_start"]) == seeded.today and shop["period"] == "day"
    # A scope with no spend in its period is shown at 0 %; a deleted budget is not shown.
    blog = scopes[("blog-daily", "blog")]
    assert (blog["state"], blog["spend"], blog["used_percent"]) == ("ok", 0, 0)
    assert not [key for key in scopes if key[0] == "gone"]
    assert scopes[("global-monthly", "")]["limit_amount"] == 500  # a seeded default
    assert next(iter(scopes.values()))["state"] in ("block", "critical", "warn")  # the worst first

    gauges = {g["budget"]: g["used_percent"] for g in seeded.query("panels/budgets/utilization.sql")}
    assert gauges["shop-daily · shop"] == Decimal("93.6") and gauges["blog-daily · blog"] == 0
    assert len(gauges) == len(scopes)
    states = seeded.one("panels/budgets/states.sql")
    assert sum(states.values()) == len(scopes)
    assert states["warned"] == sum(1 for f in scopes.values() if f["state"] == "warn") >= 1

    # Flag changes keep the deleted budget's history: blocked, then released when it was deleted.
    changes = seeded.query("panels/budgets/flag_changes.sql")
    gone = [c["state"] for c in changes if c["budget"] == "gone"]
    assert gone == ["ok", "block"]  # newest first
    assert [(c["state"], c["spend"]) for c in changes if c["budget"] == "shop-daily"] == [("warn", spent)]

    alerts = [a for a in seeded.query("panels/budgets/alerts.sql") if a["budget"] == "shop-daily"]
    assert sorted((a["threshold"], a["level"]) for a in alerts) == [(50, "info"), (80, "warning")]
    assert all(a["kind"] == "threshold" and a["used_percent"] == Decimal("93.6") for a in alerts)
    earlier = seeded.query("panels/budgets/alerts.sql", start=seeded.day(6), end=seeded.day(1))
    assert not [a for a in earlier if a["budget"] == "shop-daily"]


def test_budget_status_api_lists_every_scope_of_the_newest_evaluation(seeded: Seeded) -> None:
    url = seeded.running.http_url + "/api/v1/costs/budgets/status"
    body = httpx.get(url, params={"scope_type": "project"}, timeout=10).json()
    by_id = {(s["budget_id"], s["scope_id"]): s for s in body["scopes"]}
    assert by_id[("shop-daily", "shop")]["state"] == "warn"
    assert by_id[("shop-daily", "shop")]["utilization"] == "93.6"
    assert by_id[("blog-daily", "blog")]["spend"] == "0"
    assert {s["scope_type"] for s in body["scopes"]} == {"project"} and body["evaluated_at"]
    panel = {(f["budget"], f["scope_id"]) for f in seeded.query("panels/budgets/scopes.sql")}
    everything = httpx.get(url, timeout=10).json()["scopes"]
    assert {(s["budget_id"], s["scope_id"]) for s in everything} == panel
    nothing = httpx.get(url, params={"scope_type": "agent", "scope_id": "nobody"}, timeout=10).json()
    assert nothing == {"evaluated_at": None, "scopes": [], "paused": []}
    assert httpx.get(url, params={"scope_type": "planet"}, timeout=10).status_code == 422


# -- trends and forecast -----------------------------------------------------------------------------------


def test_daily_cost_fills_empty_days_and_averages_seven(seeded: Seeded) -> None:
    days = seeded.query("panels/trends/daily_cost.sql")
    by_day = {_day(d["time"]): (d["cost"], d["seven_day_average"]) for d in days}
    assert list(by_day) == [seeded.day(i).date() for i in range(6, -1, -1)]  # empty days included
    assert by_day[seeded.day(5).date()][0] == FALLBACK and by_day[seeded.day(3).date()][0] == 0
    week = 3 * GPT4O + 2 * MINI + seeded.claude + FALLBACK
    # ClickHouse keeps 18 decimals of the quotient and drops the rest.
    assert by_day[seeded.day(0).date()][1] == (week / 7).quantize(Decimal("1e-18"), rounding=ROUND_DOWN)
    assert by_day[seeded.day(6).date()][1] == 0


def test_month_projection_matches_the_trends_api(seeded: Seeded) -> None:
    panel = seeded.one("panels/trends/month_projection.sql")
    api = httpx.get(seeded.running.http_url + "/api/v1/costs/trends", timeout=10).json()
    assert panel["month_to_date"] == Decimal(api["month_to_date"])
    quantum = Decimal("0.000001")
    assert panel["average_per_day"].quantize(quantum) == Decimal(api["average_per_day"])
    assert panel["projected_month"].quantize(quantum) == Decimal(api["projected_month"])
    assert panel["month_to_date"] >= 3 * GPT4O + 2 * MINI


def test_cost_per_task_and_the_forecast(seeded: Seeded) -> None:
    tasks = sorted([3 * GPT4O, 2 * MINI, seeded.claude + FALLBACK])
    per_task = seeded.one("panels/trends/cost_per_task.sql")
    assert per_task == {
        "tasks": 3,
        "mean_cost": sum(tasks) / 3,
        "median_cost": tasks[1],
        "p90_cost": tasks[2],
    }
    forecast = seeded.one("panels/trends/task_forecast.sql", pending_tasks="40")
    assert forecast == {
        "pending_tasks": 40,
        "low": 40 * tasks[1],
        "mid": 40 * sum(tasks) / 3,
        "high": 40 * tasks[2],
    }
    # A hostile text box is a string to the SQL, and not a number: no tasks, no forecast.
    hostile = seeded.one("panels/trends/task_forecast.sql", pending_tasks="1'); DROP TABLE llm_spans; --")
    assert hostile["pending_tasks"] == 0 and hostile["mid"] == 0
    assert seeded.client.query("SELECT count() FROM llm_spans").result_rows == [(7,)]


# -- cache savings and pricing coverage -----------------------------------------------------------------


def test_cache_panels(seeded: Seeded) -> None:
    summary = seeded.one("panels/cache/summary.sql")
    assert summary["saved"] == seeded.claude_savings > 0
    assert summary["hit_rate_percent"] == round(100 * 400 / 7000, 2)  # 400 of 7,000 input tokens
    assert (summary["tokens_cached"], summary["tokens_cache_written"]) == (400, 0)
    daily = {_day(d["time"]): d["saved"] for d in seeded.query("panels/cache/daily_savings.sql")}
    assert daily[seeded.day(1).date()] == seeded.claude_savings and daily[seeded.day(0).date()] == 0
    models = {(m["provider"], m["model"]): m for m in seeded.query("panels/cache/by_model.sql")}
    claude = models[("anthropic", "claude-sonnet-4-5")]
    assert (claude["hit_rate_percent"], claude["saved"]) == (40.0, seeded.claude_savings)
    assert models[("openai", "gpt-4o")]["hit_rate_percent"] == 0
    agents = {a["agent"]: a for a in seeded.query("panels/cache/by_agent.sql")}
    assert agents["writer"]["saved"] == seeded.claude_savings and agents["writer"]["hit_rate_percent"] == 20.0


def test_pricing_coverage_panels(seeded: Seeded) -> None:
    coverage = seeded.one("panels/pricing/coverage.sql")
    assert coverage == {"priced_calls": 6, "override_calls": 0, "fallback_calls": 1, "unpriced_calls": 0,
                        "fallback_cost": FALLBACK}  # fmt: skip
    unknown = seeded.query("panels/pricing/unpriced_models.sql")
    assert [(u["request_model"], u["pricing_status"], u["calls"], u["cost"]) for u in unknown] == [
        ("house-model-x", "fallback", 1, FALLBACK)
    ]
    assert seeded.query("panels/pricing/unpriced_models.sql", start=seeded.day(1)) == []
    estimated = seeded.query("panels/pricing/estimated_usage.sql")
    assert [(e["model"], e["calls"], e["tokens"]) for e in estimated] == [("house-model-x", 1, 1200)]
    statuses = {
        (_day(s["time"]), s["pricing_status"]): s["calls"]
        for s in seeded.query("panels/pricing/daily_by_status.sql")
    }
    assert statuses == {
        (seeded.day(5).date(), "fallback"): 1,
        (seeded.day(1).date(), "priced"): 1,
        (seeded.day(0).date(), "priced"): 5,
    }


def test_panels_name_no_database() -> None:
    # The data source's default database is the one the panels read: no panel may pin another.
    tables = re.compile(r"\b(\w+)\.(llm_spans|spend_\w+|budget_\w+)\b")
    for panel in _panel_files() + [f"variables/{name}.sql" for name in ALL]:
        text = (GRAFANA / panel).read_text("utf-8")
        assert "{db}" not in text and not tables.search(text), panel
