"""Forecasts and optimisation insights, computed from recent spend.

Forecast (the seeds' Flow 46): pending tasks x tokens per task (given, or the
average of recent tasks) x the model's price. ``low`` assumes no retries, ``mid``
adds the expected retry rate, ``high`` applies the safety buffer on top. Without
``pending_task_count``, the pending tasks are a day's worth at the recent rate:
the tasks of the last ``history_days`` days per day, rounded up.

Insights: agents that use an expensive model for small runs (with the monthly
saving of a cheaper model of the same provider), low prompt-cache hit rates,
and high failure (retry) rates.

Prices come from the collector's own pricer, with the configured overrides
(custom models, discounts, local providers, fallback), as spans are priced: a
forecast of embeddings tasks (``operation``) prices an unknown model at the
embeddings fallback.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from spendgate.collector.storage import Storage

from spendgate.money import money_text
from spendgate.pricing import UNPRICED, Pricer, plan

# A cheaper model of the same provider (by stored provider name), for "expensive model for small runs".
CHEAPER_MODEL = {
    "openai": "gpt-4o-mini",
    "azure.ai.openai": "gpt-4o-mini",
    "anthropic": "claude-3-5-haiku-latest",
    "gcp.gemini": "gemini-2.0-flash",
    "gcp.vertex_ai": "gemini-2.0-flash",
    "mistral_ai": "mistral-small-latest",
    "groq": "llama-3.1-8b-instant",
    "aws.bedrock": "amazon.nova-micro-v1:0",
}
DEFAULT_TOKENS_PER_TASK = 5000
DEFAULT_RETRY_RATE = Decimal("0.15")
DEFAULT_BUFFER = Decimal("1.2")  # the seeds' config; the UI seed shows 1.5
SMALL_RUN_TOKENS = 5000
MONTH_DAYS = 30


class ForecastRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={  # seed 001's body, and seed 003's
            "examples": [
                {
                    "avg_tokens_per_task": 5000,
                    "provider": "openai",
                    "model": "gpt-4-turbo",
                    "safety_buffer_multiplier": 1.5,
                },
                {
                    "pending_task_count": 10,
                    "avg_tokens_per_task": 5000,
                    "provider": "anthropic",
                    "model": "claude-sonnet-4.5",
                },
            ]
        },
    )

    pending_task_count: int | None = Field(default=None, ge=0, le=10_000_000)  # None: from history
    avg_tokens_per_task: int | None = Field(default=None, gt=0, le=100_000_000)
    input_share: Decimal | None = Field(default=None, ge=0, le=1)  # of the tokens per task
    provider: str = "openai"
    model: str = "gpt-4o"
    operation: Literal["chat", "text_completion", "generate_content", "embeddings"] = "chat"
    expected_retry_rate: Decimal | None = Field(default=None, ge=0, le=10)
    safety_buffer_multiplier: Decimal = Field(default=DEFAULT_BUFFER, ge=1, le=100)
    history_days: int = Field(default=30, gt=0, le=365)


def price(
    pricer: Pricer, provider: str, model: str, input_tokens: int, output_tokens: int, operation: str = "chat"
) -> Decimal | None:
    """What the collector would charge for a call now; None if it would not price it."""
    priced = pricer.price(provider, model, plan.usage(input_tokens, output_tokens), time.time_ns(), operation)
    return None if priced.status == UNPRICED else priced.cost.total


def _history(storage: Storage, model: str, days: int) -> dict[str, Any]:
    return storage.rows("api/task_history.sql", {"days": days, "model": model})[0]


def forecast(storage: Storage, request: ForecastRequest, pricer: Pricer) -> dict[str, Any]:
    history = _history(storage, request.model, request.history_days)
    from_history = int(history["tasks"]) > 0
    learned = "history" if from_history else "default"  # where a parameter not given came from
    tokens = request.avg_tokens_per_task
    share = request.input_share
    if tokens is None and share is None and from_history:
        input_tokens = round(history["avg_input_tokens"])
        tokens = input_tokens + round(history["avg_output_tokens"])
        share = (Decimal(input_tokens) / tokens).quantize(Decimal("0.0001")) if tokens else Decimal(0)
    else:
        if tokens is None:
            tokens = (
                round(history["avg_input_tokens"] + history["avg_output_tokens"])
                if from_history
                else (DEFAULT_TOKENS_PER_TASK)
            )
        if share is None:
            total = history["avg_input_tokens"] + history["avg_output_tokens"] if from_history else 0
            share = Decimal(str(round(history["avg_input_tokens"] / total, 4))) if total else Decimal("0.8")
        input_tokens = int(tokens * share)
    retry = request.expected_retry_rate
    if retry is None:
        retry = Decimal(str(round(history["failure_rate"], 4))) if from_history else DEFAULT_RETRY_RATE
    output_tokens = tokens - input_tokens
    per_task = price(pricer, request.provider, request.model, input_tokens, output_tokens, request.operation)
    if per_task is None:
        raise LookupError(f"no price for {request.provider}/{request.model} in the catalogue or the config")
    pending = request.pending_task_count
    if pending is None:  # a day's worth of tasks at the recent rate
        pending = -(-int(history["tasks"]) // request.history_days)
    low = per_task * pending
    mid = low * (1 + retry)
    high = mid * request.safety_buffer_multiplier
    places = Decimal("0.000001")
    return {
        "pending_task_count": pending,
        "estimated_cost_low": money_text(low.quantize(places)),
        "estimated_cost_mid": money_text(mid.quantize(places)),
        "estimated_cost_high": money_text(high.quantize(places)),
        "estimated_cost": money_text(high.quantize(places)),  # seed 003: the estimate with the buffer applied
        "buffer_multiplier": str(request.safety_buffer_multiplier),  # seed 003's name for it
        "cost_per_task": money_text(per_task.quantize(places)),
        "assumptions": {
            "avg_tokens_per_task": tokens,
            "input_share": str(share),
            "provider": request.provider,
            "model": request.model,
            "operation": request.operation,
            "expected_retry_rate": str(retry),
            "safety_buffer": str(request.safety_buffer_multiplier),
            "pricing_status": pricer.resolve(request.provider, request.model).status,
            "source": {
                "avg_tokens_per_task": "given" if request.avg_tokens_per_task else learned,
                "pending_task_count": "given" if request.pending_task_count is not None else "history",
                "expected_retry_rate": "given" if request.expected_retry_rate is not None else learned,
                "history_tasks": int(history["tasks"]),
                "history_days": request.history_days,
            },
        },
    }


@dataclass(frozen=True)
class Insight:
    kind: str
    agent: str
    provider: str
    model: str
    message: str
    estimated_monthly_saving: Decimal
    details: dict[str, Any]

    @property
    def id(self) -> str:
        """Stable across recomputations: what a dismissal (api/dismissals.py) names."""
        return f"{self.kind}:{self.agent}:{self.provider}:{self.model}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "agent": self.agent,
            "provider": self.provider,
            "model": self.model,
            "message": self.message,
            "estimated_monthly_saving": money_text(self.estimated_monthly_saving),
            "details": self.details,
        }


def _cheaper_model(r: dict[str, Any], scale: Decimal, pricer: Pricer) -> Insight | None:
    calls, cost = int(r["calls"]), Decimal(r["total_cost"])
    cheaper = CHEAPER_MODEL.get(r["provider"])
    if r["runs"] < 3 or r["tokens_per_run"] >= SMALL_RUN_TOKENS or not cheaper or cheaper == r["model"]:
        return None
    per_call = price(
        pricer, r["provider"], cheaper, int(r["input_tokens"]) // calls, int(r["output_tokens"]) // calls
    )
    if per_call is None or per_call * calls >= cost:
        return None
    saving = ((cost - per_call * calls) * scale).quantize(Decimal("0.01"))
    message = (
        f"{r['agent']} uses {r['model']} but averages {r['tokens_per_run']:,.0f} tokens per run: "
        f"{cheaper} would cost {(1 - per_call * calls / cost) * 100:.0f}% less, about ${saving} a month"
    )
    details = {"suggested_model": cheaper, "runs": r["runs"], "tokens_per_run": round(r["tokens_per_run"])}
    return Insight("cheaper_model", r["agent"], r["provider"], r["model"], message, saving, details)


def _cache_misses(r: dict[str, Any]) -> Insight | None:
    input_tokens = int(r["input_tokens"])
    hit_rate = Decimal(int(r["cache_read_tokens"])) / input_tokens if input_tokens else Decimal(0)
    if input_tokens < 100_000 or hit_rate >= Decimal("0.1"):
        return None
    message = (
        f"{r['agent']} reads {hit_rate * 100:.1f}% of its {input_tokens:,} input tokens on {r['model']} "
        "from the prompt cache: stable prompt prefixes would make more of them cheap"
    )
    details = {"cache_hit_rate": str(hit_rate.quantize(Decimal("0.0001")))}
    return Insight("low_cache_hit_rate", r["agent"], r["provider"], r["model"], message, Decimal(0), details)


def _retries(r: dict[str, Any], scale: Decimal) -> Insight | None:
    calls, failed = int(r["calls"]), int(r["failed_calls"])
    if calls < 10 or failed / calls < 0.1:
        return None
    saving = (Decimal(r["failed_cost"]) * scale).quantize(Decimal("0.01"))
    message = (
        f"{r['agent']} has a high retry rate ({failed / calls:.0%} of {calls} calls failed on {r['model']})"
    )
    details = {"failed_calls": failed, "calls": calls}
    return Insight("high_retry_rate", r["agent"], r["provider"], r["model"], message, saving, details)


def insights(storage: Storage, pricer: Pricer, days: int = 30) -> list[Insight]:
    rows = storage.rows("api/insights.sql", {"days": days})
    scale = Decimal(MONTH_DAYS) / days  # savings are per month
    found = [
        insight
        for r in rows
        for insight in (_cheaper_model(r, scale, pricer), _cache_misses(r), _retries(r, scale))
        if insight is not None
    ]
    return sorted(found, key=lambda i: i.estimated_monthly_saving, reverse=True)
