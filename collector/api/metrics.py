"""``GET /metrics``: the collector's own metrics in the Prometheus text format (collector/telemetry.py).

Behind the API keys like the costs API (the read role): the series name budgets and their spend.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from spendgate.collector.telemetry import PROMETHEUS_CONTENT_TYPE, Telemetry

_EXAMPLE = """# HELP spendgate_spans_received_total Spans in the export requests the receivers decoded
# TYPE spendgate_spans_received_total counter
spendgate_spans_received_total{transport="grpc"} 1200.0
# HELP spendgate_budget_spend_usd What each budget scope counted (cost) in its current period
# TYPE spendgate_budget_spend_usd gauge
spendgate_budget_spend_usd{budget_id="global-monthly",metric="cost",period="month",scope_id="",\
scope_type="global"} 12.5
"""


def build_router(telemetry: Telemetry) -> APIRouter:
    router = APIRouter(tags=["metrics"])

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        description=(
            "The collector's health (spans received, rejected and stored, queue size, insert and "
            "evaluation times, flag watchers, webhook deliveries) and every budget scope's spend, "
            "limit and utilisation at the last evaluation, in the Prometheus text exposition format."
        ),
        response_class=Response,
        responses={200: {"content": {PROMETHEUS_CONTENT_TYPE: {"example": _EXAMPLE}}}},
    )
    def metrics() -> Response:
        return Response(telemetry.scrape(), media_type=PROMETHEUS_CONTENT_TYPE)

    return router
