"""Issue 14's cross-cutting rules on one seeded collector: no silent ignoring (unknown query
parameters and body fields are 422s naming them), one money format in every JSON response,
OpenAPI summaries and examples, and ``/docs`` without a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Context, Decimal
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from spendgate.collector.api.auth import http_role
from spendgate.collector.cli.money import quantity, usd

from spendgate.money import SCALE, money_text

from .conftest import RunningCollector, clear_of_midnight, collector_running, wait_until
from .test_budgets import _span_at

MONEY = re.compile(r"^-?(0|[1-9]\d*)(\.\d{0,17}[1-9])?$")  # at most 18 places, no trailing zero
# JSON keys that hold amounts (USD, or a token budget's tokens), whatever the route.
MONEY_KEY = re.compile(
    r"(^|_)(cost|spend|spent|limit|remaining|amount|granted|saving|overage|held|usd|month_to_date"
    r"|savings|per_day|projected_month)($|_)"
)
NUMERIC = re.compile(r"^-?\.?\d")  # digits, whatever their format
CLI_USD = re.compile(r"^-?\$(\d{1,3}(,\d{3})*\.\d\d|0\.0*[1-9]\d?)$")
_AMOUNTS = st.decimals(
    min_value=Decimal(-(10**20)), max_value=Decimal(10**20), allow_nan=False, allow_infinity=False
)


@given(_AMOUNTS)
def test_money_text_is_plain_digits_without_trailing_zeros(amount: Decimal) -> None:
    text = money_text(amount)
    assert MONEY.match(text), text
    assert Decimal(text) == Context(prec=80).quantize(amount, Decimal(1).scaleb(-SCALE))  # to the scale
    assert money_text(Decimal(text)) == text  # a formatted amount reads back to itself


@given(st.integers(min_value=-(10**30), max_value=10**30), st.integers(min_value=-40, max_value=10))
def test_money_text_never_writes_an_exponent(digits: int, exponent: int) -> None:
    text = money_text(Decimal(digits).scaleb(exponent))
    assert "E" not in text and "e" not in text and MONEY.match(text), text


def test_money_text_examples() -> None:
    assert money_text(Decimal("0.676526850000000000")) == "0.67652685"
    assert money_text(Decimal("1E+2")) == "100"
    assert [money_text(Decimal(z)) for z in ("0", "-0", "0E-18", "1E-19")] == ["0"] * 4
    assert money_text(Decimal("-3.10")) == "-3.1"


@given(_AMOUNTS)
def test_cli_usd_shows_cents_or_two_significant_digits(amount: Decimal) -> None:
    text = usd(amount)
    assert CLI_USD.match(text), text
    assert abs(Decimal(text.replace("$", "").replace(",", "")) - amount) <= max(
        Decimal("0.005"), abs(amount) / 10
    )


def test_cli_money_examples() -> None:
    assert [usd(v) for v in ("1234.567", "0.0045", "0.00999", "0", "100")] == [
        "$1,234.57",
        "$0.0045",
        "$0.01",
        "$0.00",
        "$100.00",
    ]
    assert quantity("12000", "tokens") == "12,000 tokens" and quantity("2.5", "cost") == "$2.50"
    # Exact, for prices and limits: every digit, at least cents.
    assert [usd(v, exact=True) for v in ("0.00304", "2.5", "1234.5678", "1E+2")] == [
        "$0.00304",
        "$2.50",
        "$1,234.5678",
        "$100.00",
    ]
    assert quantity("12000.000", "tokens", exact=True) == "12,000 tokens"


@given(_AMOUNTS)
def test_cli_exact_usd_keeps_every_digit(amount: Decimal) -> None:
    text = usd(amount, exact=True)
    assert re.match(r"^-?\$\d{1,3}(,\d{3})*\.\d{2,}$", text), text
    assert Decimal(text.replace("$", "").replace(",", "")) == amount


@pytest.fixture(scope="module")
def seeded(chdb_dsn: str) -> Iterator[tuple[RunningCollector, dict[str, str]]]:
    """One collector with spend, a blocked budget, its alerts, flags and an override request."""
    with collector_running(chdb_dsn) as running:
        now = clear_of_midnight()
        spans = [
            _span_at(now - timedelta(seconds=i), **{"spendgate.project": "shop", "spendgate.agent": "coder"})
            for i in range(4)
        ]
        spans.append(_span_at(now, model="gpt-4o-mini", **{"spendgate.project": "blog"}))
        assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans).name == "SUCCESS"  # type: ignore[arg-type]
        client = httpx.Client(base_url=running.http_url, timeout=10)
        budget = {"id": "shop-day", "scope_type": "project", "scope_id": "shop", "limit": "0.0100"}
        assert client.post("/api/v1/costs/budgets", json={**budget, "period": "day"}).status_code == 200
        runtime = running.collector.budgets
        assert runtime is not None and runtime.evaluator is not None
        evaluator = runtime.evaluator

        def alerted() -> bool:
            evaluator.run_once()
            return bool(client.get("/api/v1/alerts").json()["alerts"])

        wait_until(alerted, what="the blocked budget's alerts")
        asked = client.post(
            "/api/v1/costs/budgets/shop-day/override-requests", json={"amount": "1.50", "reason": "release"}
        )
        assert asked.status_code == 201, asked.text
        yield running, {"budget_id": "shop-day", "request_id": asked.json()["id"]}


def _routes(running: RunningCollector) -> list[RouteContext]:
    """Every API route of the app, as served (with its routers' prefixes)."""
    app = running.collector.http_app()
    return [r for r in iter_route_contexts(app.routes) if isinstance(r.original_route, APIRoute)]


def _path(route: RouteContext, ids: dict[str, str]) -> str:
    assert route.path is not None
    return route.path.format(**{name: ids.get(name, "x") for name in route.param_convertors})


def test_an_unknown_query_parameter_is_a_422_naming_it(
    seeded: tuple[RunningCollector, dict[str, str]],
) -> None:
    running, _ = seeded
    client = httpx.Client(base_url=running.http_url, timeout=10)
    wrong = client.get("/api/v1/costs/records", params={"agent_idx": "nobody", "limit": 5})
    assert wrong.status_code == 422
    detail = wrong.json()["detail"]
    assert detail.startswith("unknown query parameter 'agent_idx' (this route takes: ")
    for declared in ("project", "agent", "start", "end", "limit", "cursor"):  # the Filters model's too
        assert declared in detail
    assert client.get("/api/v1/costs/records", params={"agent": "coder", "limit": 5}).status_code == 200
    none = client.get("/api/v1/runs/slots", params={"x": "1"})
    assert (
        none.status_code == 422
        and none.json()["detail"] == "unknown query parameter 'x' (this route takes none)"
    )
    two = client.get("/healthz", params={"a": "1", "b": "2"}).json()["detail"]
    assert two.startswith("unknown query parameters 'a', 'b'")


def test_every_route_rejects_unknown_query_parameters(
    seeded: tuple[RunningCollector, dict[str, str]],
) -> None:
    running, _ = seeded
    client = httpx.Client(base_url=running.http_url, timeout=10)
    checked = 0
    for route in _routes(running):
        for method in sorted(route.methods or ()):
            # The check runs before the endpoint: no change is made, no stream is opened.
            answer = client.request(method, _path(route, {}), params={"zz_unknown": "1"})
            assert answer.status_code == 422, (method, route.path, answer.text)
            assert "unknown query parameter 'zz_unknown'" in answer.json()["detail"], (method, route.path)
            checked += 1
    assert checked > 40  # every route of the app, OTLP/HTTP and the SSE feed included


def test_unknown_body_fields_are_422_and_put_stays_a_partial_update(
    seeded: tuple[RunningCollector, dict[str, str]],
) -> None:
    running, _ = seeded
    client = httpx.Client(base_url=running.http_url, timeout=10)
    typo = client.post("/api/v1/costs/budgets", json={"scope_type": "global", "limit": "5", "hardd": True})
    assert typo.status_code == 422 and "hardd" in typo.text and "Extra inputs" in typo.text
    assert client.put("/api/v1/costs/budgets/shop-day", json={"limt": "2"}).status_code == 422
    created = client.post(
        "/api/v1/costs/budgets",
        json={"id": "partial", "scope_type": "team", "scope_id": "qa", "limit": "7", "thresholds": [90]},
    )
    assert created.status_code == 200, created.text
    changed = client.put("/api/v1/costs/budgets/partial", json={"limit": "8.50"}).json()
    assert (changed["limit"], changed["thresholds"], changed["scope_id"]) == ("8.5", [90], "qa")
    cleared = client.put("/api/v1/costs/budgets/partial", json={"unblocked_until": None})
    assert cleared.status_code == 200 and cleared.json()["limit"] == "8.5"
    assert client.put("/api/v1/costs/budgets/partial", json={"id": "other"}).status_code == 400
    rule = client.post("/api/v1/costs/budgets", json={"scope_type": "project", "limit": 5})
    assert rule.status_code == 422 and "needs a scope_id" in rule.json()["detail"]  # the model's own rule
    for path, body in (
        ("/api/v1/costs/forecast", {"pending_task_count": 1, "modell": "x"}),
        ("/api/v1/costs/budgets/partial/override", {"unblock_for": 5}),
        ("/api/admin/agents/a/pause", {"why": "typo"}),
    ):
        answer = client.post(path, json=body)
        assert answer.status_code == 422 and next(iter(set(body) - {"pending_task_count"})) in answer.text
    assert client.delete("/api/v1/costs/budgets/partial").status_code == 204


def _amounts(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, text) of every money-looking string in a JSON document."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _amounts(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _amounts(item, key)
    elif isinstance(value, str) and MONEY_KEY.search(key) and NUMERIC.match(value):
        yield key, value  # not a name such as /limits/status's "limit": "max_cost_per_day"


def test_every_get_route_writes_money_one_way(seeded: tuple[RunningCollector, dict[str, str]]) -> None:
    running, ids = seeded
    client = httpx.Client(base_url=running.http_url, timeout=10)
    with_money = set()
    for route in _routes(running):
        if (
            "GET" not in (route.methods or ())
            or not route.include_in_schema
            or route.path == "/api/v1/events"
        ):
            continue  # the SSE feed never ends; its events use the same formatter (events/record.py)
        answer = client.get(_path(route, ids))
        assert answer.status_code == 200, (route.path, answer.text)
        if not answer.headers["content-type"].startswith("application/json"):
            continue  # /metrics: Prometheus text, numbers as the exposition format writes them
        for key, text in _amounts(answer.json()):
            assert MONEY.match(text), (route.path, key, text)
            with_money.add(route.path)
    for path in (
        "/api/v1/costs/records",
        "/api/v1/costs/summary",
        "/api/v1/usage/daily",
        "/api/v1/usage/by-project",
        "/api/v1/costs/trends",
        "/api/v1/costs/budgets",
        "/api/v1/costs/budgets/{budget_id}",
        "/api/v1/costs/budgets/status",
        "/api/v1/costs/budgets/check",
        "/v1/flags",
        "/api/v1/alerts",
        "/api/v1/costs/override-requests",
    ):
        assert path in with_money, path
    budget = client.get("/api/v1/costs/budgets/shop-day").json()
    assert budget["limit"] == "0.01"  # given as 0.0100
    request = client.get(f"/api/v1/costs/override-requests/{ids['request_id']}").json()
    assert request["amount"] == "1.5"


def test_openapi_documents_every_route_with_examples(seeded: tuple[RunningCollector, dict[str, str]]) -> None:
    running, _ = seeded
    document = httpx.get(running.http_url + "/openapi.json", timeout=10).json()
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") and operation.get("description"), (method, path)
            if "requestBody" not in operation:
                continue
            media = operation["requestBody"]["content"]["application/json"]
            schema = media["schema"]
            refs = [s["$ref"] for s in schema.get("anyOf", [schema]) if "$ref" in s]
            examples = media.get("examples") or media.get("example") or schema.get("examples")
            examples = examples or next((schemas[r.rsplit("/", 1)[1]].get("examples") for r in refs), None)
            assert examples, (method, path)


def test_docs_load_from_local_assets_only(seeded: tuple[RunningCollector, dict[str, str]]) -> None:
    running, _ = seeded
    page = httpx.get(running.http_url + "/docs", timeout=10)
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, no favicon from afar
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", page.text)
    local = [a or b for a, b in urls]
    assert any(u.endswith("swagger-ui-bundle.js") for u in local) and "/openapi.json" in local
    for url in local:
        assert url.startswith("/"), url
        assert httpx.get(running.http_url + url, timeout=10).status_code == 200, url
    # Open without a key, as /docs itself.
    assert http_role("GET", "/docs/assets/swagger-ui.css") is None and http_role("GET", "/docs") is None
    assert http_role("GET", "/docs-assets/x") == "read"
