"""CSV exports, the chargeback report and the CLI's export, chargeback and report commands.

One collector for the module, seeded once through the real OTLP path: a few attributed calls,
shared calls (no project, no team) with and without a ticket seen elsewhere with a project, and
1,000 bulk calls that make the records export run over many pages.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from spendgate.collector.api import costs
from spendgate.collector.api.allocation import split
from spendgate.collector.api.csv_export import cell
from spendgate.collector.cli import main
from spendgate.collector.config import ConfigError, parse_config

from .conftest import RunningCollector, clear_of_midnight, collector_running
from .test_budgets import _span_at

GPT4O = Decimal("0.0045")  # 1,000 input + 200 output tokens
MINI = Decimal("0.00027")  # the same on gpt-4o-mini
BULK = 1000
RULES = ("ticket-then-proportional", "proportional", "none")


def _calls(now: datetime) -> list[Any]:
    def at(second: float, model: str = "gpt-4o", **attributes: object) -> Any:
        return _span_at(now - timedelta(seconds=second), model=model, **attributes)

    shop = {"spendgate.project": "shop", "spendgate.team": "web", "spendgate.ticket": "T-1"}
    blog = {"spendgate.project": "blog", "spendgate.team": "content", "spendgate.phase": "draft"}
    builder = {"spendgate.agent": "builder", "spendgate.ticket": "T-1"}  # no project: shared
    spans = [at(1 + i, **shop) for i in range(3)] + [at(5, **blog)]
    spans += [at(6 + i, **builder) for i in range(2)]
    spans.append(at(8, **{"spendgate.agent": "builder"}))  # shared, without a ticket
    for i in range(BULK):  # no team: shared by team; ten agents: more than a ranking shows
        bulk = {"spendgate.project": "bulk", "spendgate.agent": f"loader-{i % 10}"}
        spans.append(at(10 + i / 100, model="gpt-4o-mini", **bulk))
    return spans


@pytest.fixture(scope="module")
def seeded(chdb_dsn: str) -> Iterator[RunningCollector]:
    with collector_running(chdb_dsn) as running:  # the session's engine path: one per process
        exporter = GrpcExporter(endpoint=running.grpc_endpoint, insecure=True)
        assert exporter.export(_calls(clear_of_midnight())).name == "SUCCESS"
        yield running


def _get(running: RunningCollector, path: str, **params: Any) -> httpx.Response:
    response = httpx.get(running.http_url + path, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response


def _csv(response: httpx.Response) -> tuple[list[str], list[dict[str, str]]]:
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    return list(reader.fieldnames or []), list(reader)


def _as_csv(row: dict[str, Any]) -> dict[str, str]:
    return {key: str(cell(value)) for key, value in row.items()}


def test_usage_csv_rows_equal_the_json_rows(seeded: RunningCollector) -> None:
    daily = _get(seeded, "/api/v1/usage/daily").json()["days"]
    header, rows = _csv(_get(seeded, "/api/v1/usage/daily", format="csv"))
    assert rows == [_as_csv(day) for day in daily] and header == list(daily[0])
    assert sum(int(row["calls"]) for row in rows) == 7 + BULK
    for dimension in ("project", "agent", "model"):
        items = _get(seeded, f"/api/v1/usage/by-{dimension}").json()[dimension + "s"]
        header, rows = _csv(_get(seeded, f"/api/v1/usage/by-{dimension}", format="csv"))
        assert rows == [_as_csv(item) for item in items] and header[0] == dimension
    assert {row["project"]: row["total_cost"] for row in _csv(_get(seeded, "/api/v1/usage/by-project",
            format="csv"))[1]}["shop"] == str(3 * GPT4O)  # fmt: skip
    header, rows = _csv(
        _get(seeded, "/api/v1/usage/daily", format="csv", start="2001-01-01", end="2001-01-02")
    )
    assert rows == [] and "total_cost" in header  # an empty range still names its columns
    bad = httpx.get(seeded.http_url + "/api/v1/usage/daily", params={"format": "xml"})
    assert bad.status_code == 422 and "format" in bad.text


def test_records_csv_streams_every_page_and_equals_the_json(
    seeded: RunningCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = []
    page = costs.CostsApi.record_page

    def counted(self: costs.CostsApi, *args: Any) -> Any:
        pages.append(args[-1])
        return page(self, *args)

    monkeypatch.setattr(costs, "EXPORT_PAGE_ROWS", 150)
    monkeypatch.setattr(costs.CostsApi, "record_page", counted)
    with httpx.stream("GET", seeded.http_url + "/api/v1/costs/records", params={"format": "csv"}) as response:
        assert response.status_code == 200 and "content-length" not in response.headers  # chunked
        text = "".join(response.iter_text())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(pages) == -(-(BULK + 7) // 150) and len(rows) == BULK + 7  # 7 pages, none lost
    assert len({(row["trace_id"], row["span_id"]) for row in rows}) == len(rows)
    monkeypatch.undo()
    json_rows, cursor = [], ""
    while cursor is not None:
        answer = _get(seeded, "/api/v1/costs/records", limit=1000, cursor=cursor)
        json_rows += answer.json()
        cursor = answer.headers.get("X-Next-Cursor")
    assert rows == [_as_csv(record) for record in json_rows]
    shop = _csv(_get(seeded, "/api/v1/costs/records", format="csv", project="shop"))[1]
    assert [Decimal(row["total_cost"]) for row in shop] == [GPT4O] * 3
    header, none = _csv(_get(seeded, "/api/v1/costs/records", format="csv", project="nobody"))
    assert none == [] and {"trace_id", "span_id", "total_cost", "project"} <= set(header)


def _chargeback(seeded: RunningCollector, **params: Any) -> dict[str, Any]:
    return dict(_get(seeded, "/api/v1/costs/chargeback", **params).json())


def test_chargeback_allocations_sum_to_the_total_exactly_under_each_rule(seeded: RunningCollector) -> None:
    month = _get(seeded, "/api/v1/costs/summary", period="month").json()["totals"]["total_cost"]
    shared = 3 * GPT4O
    for by in ("project", "team"):
        for rule in RULES:
            report = _chargeback(seeded, by=by, shared=rule)
            assert report["rule"] == rule and report["by"] == by
            assert Decimal(report["total_cost"]) == Decimal(month) == 4 * GPT4O + shared + BULK * MINI
            assert sum(Decimal(line["total_cost"]) for line in report["lines"]) == Decimal(month), (by, rule)
            allocated = sum(
                Decimal(line["allocated_cost"]) + Decimal(line["ticket_cost"]) for line in report["lines"]
            )
            unallocated = sum(Decimal(line["total_cost"]) for line in report["lines"] if not line[by])
            assert allocated + unallocated == Decimal(report["shared_cost"])
    by_project = {
        r: {line["project"]: line for line in _chargeback(seeded, shared=r)["lines"]} for r in RULES
    }
    ticket = by_project["ticket-then-proportional"]
    assert Decimal(ticket["shop"]["ticket_cost"]) == 2 * GPT4O  # the builder's T-1 calls: T-1 is shop's
    assert Decimal(ticket["shop"]["direct_cost"]) == 3 * GPT4O and "" not in ticket
    assert Decimal(by_project["proportional"]["shop"]["ticket_cost"]) == 0
    assert Decimal(by_project["none"][""]["total_cost"]) == shared and by_project["none"][""]["calls"] == 3
    assert all(Decimal(line["allocated_cost"]) == 0 for line in by_project["none"].values())
    teams = {line["team"]: line for line in _chargeback(seeded, by="team")["lines"]}
    assert Decimal(teams["web"]["ticket_cost"]) == 2 * GPT4O and set(teams) == {"web", "content"}
    header, rows = _csv(_get(seeded, "/api/v1/costs/chargeback", format="csv", by="team"))
    assert header[0] == "team" and rows == [_as_csv(line) for line in _chargeback(seeded, by="team")["lines"]]
    assert _chargeback(seeded, month="2001-02")["lines"] == []
    for bad in ({"month": "2026-13"}, {"by": "agent"}, {"shared": "equal"}):
        answer = httpx.get(seeded.http_url + "/api/v1/costs/chargeback", params=bad)
        assert answer.status_code == 422 and next(iter(bad)) in answer.text


def test_split_is_exact_and_gives_leftover_units_to_the_largest_remainders() -> None:
    assert split(Decimal("0.01"), {"a": Decimal(1), "b": Decimal(1), "c": Decimal(1)}) == {
        "a": Decimal("0.003334"), "b": Decimal("0.003333"), "c": Decimal("0.003333")}  # fmt: skip
    fine = split(Decimal("0.000000000000000007"), {"a": Decimal(2), "b": Decimal(1)})
    assert fine == {"a": Decimal("5E-18"), "b": Decimal("2E-18")}
    assert split(Decimal(5), {"a": Decimal(0)}) == {} and split(Decimal(0), {"a": Decimal(1)}) == {}
    shares = split(Decimal("123.456789"), {str(i): Decimal(i) for i in range(1, 8)})
    assert sum(shares.values()) == Decimal("123.456789")


def test_csv_cells_spell_json_values_and_defuse_formulas() -> None:
    assert [cell(v) for v in (None, True, [1, "a"], "=HYPERLINK(1)", "@x", "-1.5", "-x", 7)] == [
        "", "true", '[1,"a"]', "'=HYPERLINK(1)", "'@x", "-1.5", "'-x", 7]  # fmt: skip


def test_the_rule_is_configured_under_reports_and_validated() -> None:
    config = parse_config("reports:\n  chargeback:\n    shared: proportional\n")
    assert config.reports.chargeback.shared == "proportional"
    with pytest.raises(ConfigError, match=r"reports\.chargeback\.shared"):
        parse_config("reports:\n  chargeback:\n    shared: evenly\n")


def test_cli_export_and_chargeback(
    seeded: RunningCollector, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--url", seeded.http_url]
    out = tmp_path / "records.csv"
    assert main(["export", "records", *url, "-o", str(out), "--project", "shop"]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 3 and "exported 3 records" in capsys.readouterr().err
    assert main(["export", "records", *url, "--format", "json", "--project", "bulk"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == BULK and f"exported {BULK:,} records to stdout" in captured.err
    assert main(["export", "usage", *url, "--by", "project", "--format", "csv"]) == 0
    projects = {row["project"] for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert projects == {"shop", "blog", "bulk", ""}
    assert main(["chargeback", *url, "--by", "team", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sum(Decimal(line["total_cost"]) for line in report["lines"]) == Decimal(report["total_cost"])
    assert main(["chargeback", *url, "--shared", "none"]) == 0
    table = capsys.readouterr().out
    assert "(unallocated)" in table and "shop" in table and "rule none" in table
    assert main(["chargeback", *url, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("project,calls,direct_cost")
    assert main(["chargeback", *url, "--month", "nope"]) == 1
    assert "422" in capsys.readouterr().err


def test_cli_report_json_bar_scopes_more_and_width(
    seeded: RunningCollector, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--url", seeded.http_url]
    assert main(["report", *url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["totals"]["calls"] == 7 + BULK and {"by_ticket", "by_phase"} <= set(data)
    for columns in ("60", "160"):
        monkeypatch.setenv("COLUMNS", columns)
        assert main(["report", *url]) == 0
        text = capsys.readouterr().out
        widest = max(text.splitlines(), key=len)
        assert len(widest) <= int(columns), widest
        assert "Cost by ticket" in text and "Cost by phase" in text and "more ($" in text
        ticket, phase = text.split("Cost by ticket")[1], text.split("Cost by phase")[1]
        assert "T-1" in ticket.split("Cost by phase")[0] and "draft" in phase.split("Cost by model")[0]
        assert "(no ticket)" in ticket  # spend without one is named so
        budget = next(line for line in text.splitlines() if line.startswith("Budget used:"))
        assert "of $500.00" in budget and "░" in budget  # the default global monthly budget's bar
    monkeypatch.delenv("COLUMNS")
    assert main(["report", *url]) == 0  # captured: not a terminal, so the piped width
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) <= 80
