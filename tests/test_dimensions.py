"""spendgate.dimensions is the one list of dimensions and scope types: what the agent sends, the
collector reads, the schema stores and rolls up, and the queries and the API use agree with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import get_args

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from pydantic import ValidationError
from spendgate.collector.budgets.evaluator import evaluate
from spendgate.collector.budgets.model import Budget
from spendgate.collector.ingest import conventions
from spendgate.instrumentation import attribution, scope

from spendgate import dimensions as dims

from .conftest import RunningCollector
from .test_budgets import _span_at


def test_the_agent_sends_the_key_the_collector_reads_first() -> None:
    assert set(attribution.DIMENSIONS) == {d.name for d in dims.DIMENSIONS if d.agent_scope}
    for name in attribution.DIMENSIONS:
        assert conventions.ATTRIBUTION[name][0] == attribution.PREFIX + name
        assert scope(**{name: "x"}).entries == {attribution.PREFIX + name: "x"}
    assert conventions.ATTRIBUTION.keys() == {d.name for d in dims.ATTRIBUTED} | {"reservation_id"}
    assert "service" not in conventions.SPAN_ATTRIBUTION  # only the resource names the service


def test_scope_types_are_validated_as_the_table_lists_them() -> None:
    assert get_args(dims.ScopeType) == dims.SCOPE_TYPES == ("global", *dims.SCOPE_COLUMNS)
    assert dims.SCOPE_COLUMNS["model"] == "priced_model"
    for scope_type in dims.SCOPE_TYPES[1:]:
        assert Budget(scope_type=scope_type, scope_id="x", limit=Decimal(1)).scope_type == scope_type
    with pytest.raises(ValidationError, match="'global', 'project', 'ticket'"):
        Budget(scope_type="run", scope_id="x", limit=Decimal(1))
    with pytest.raises(ValueError, match="group_by needs daily"):
        dims.Dimension("odd", group_by=True)
    with pytest.raises(ValueError, match="read as spendgate.odd first"):
        dims.Dimension("odd", keys=("odd.id",), agent_scope=True)


def _expected_ids() -> dict[str, str]:
    ids = {d.name: f"{d.name}-1" for d in dims.ATTRIBUTED}
    return ids | {"service": "budget-test", "provider": "openai", "model": "gpt-4o"}  # set by _span_at


def test_every_dimension_is_stored_rolled_up_queried_and_budgeted(running: RunningCollector) -> None:
    ids = _expected_ids()
    moment = datetime.now(UTC) - timedelta(seconds=5)
    day = {"start": moment.date().isoformat(), "end": moment.date().isoformat()}
    attributes = {d.keys[0]: ids[d.name] for d in dims.ATTRIBUTED if not d.resource_only}
    span = _span_at(moment, **attributes)
    assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export([span]).name == "SUCCESS"  # type: ignore[list-item]
    stored = running.rows("SELECT " + ", ".join(d.column for d in dims.DIMENSIONS) + " FROM {db}.llm_spans")
    assert stored == [tuple(ids[d.name] for d in dims.DIMENSIONS)]
    daily = [d.name for d in dims.DIMENSIONS if d.daily]
    assert running.rows("SELECT " + ", ".join(daily) + " FROM {db}.spend_daily") == [
        tuple(ids[n] for n in daily)
    ]
    scopes = set(running.rows("SELECT scope_type, scope_id FROM {db}.spend_by_scope_hourly"))
    assert scopes == {("global", ""), *((name, ids[name]) for name in dims.SCOPE_TYPES[1:])}

    api = running.http_url + "/api/v1"
    for d in dims.RECORDS_FILTERS:
        (record,) = httpx.get(api + "/costs/records", params={d.name: ids[d.name]}).json()
        assert all(record[a.column] == ids[a.name] for a in dims.ATTRIBUTED)
        assert httpx.get(api + "/costs/records", params={d.name: "none"}).json() == []
    for scope_type in dims.SCOPE_TYPES:
        summary = httpx.get(
            api + "/costs/summary", params={"scope_type": scope_type, "scope_id": ids.get(scope_type, "")}
        )
        assert summary.json()["totals"]["calls"] == 1, scope_type
    for name in dims.USAGE_ROUTES:
        (item,) = httpx.get(api + "/usage/by-" + name.replace("_", "-"), params=day).json()[name + "s"]
        assert item[name] == ids[name]
        assert len(httpx.get(api + "/usage/daily", params={**day, name: ids[name]}).json()["days"]) == 1
        assert httpx.get(api + "/usage/daily", params={**day, name: "none"}).json()["days"] == []
    storage = running.collector.storage
    assert storage is not None
    for name in dims.GROUP_BY:
        parameters = {"dimension": name, "start": moment.date(), "end": moment.date()}
        rows = storage.rows("api/usage_by.sql", parameters | dict.fromkeys(dims.USAGE_ROUTES, ""))
        assert [r["key"] for r in rows] == [ids[name]]

    # Each scope type's spend, from the hourly rollup (a window of whole hours) and from the raw
    # spans (the last minutes of a rolling window).
    hour = moment.replace(minute=0, second=0, microsecond=0)
    budgets = []
    for scope_type in dims.SCOPE_TYPES:
        scope_id = ids.get(scope_type, "")
        budgets.append(
            Budget(
                id=f"hours-{scope_type}",
                scope_type=scope_type,
                scope_id=scope_id,
                limit=Decimal(1),
                period="fixed",
                starts_at=hour - timedelta(hours=1),
                ends_at=hour + timedelta(hours=1),
            )
        )
        budgets.append(
            Budget(
                id=f"edge-{scope_type}",
                scope_type=scope_type,
                scope_id=scope_id,
                limit=Decimal(1),
                period="rolling",
                rolling_hours=1,
            )
        )
    spent = {
        (e.budget.id, e.scope_id): e.calls for e in evaluate(storage, budgets, moment + timedelta(seconds=5))
    }
    assert spent == {(b.id, b.scope_id): 1 for b in budgets}
