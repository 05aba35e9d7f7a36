"""``extensions.budgets`` of otel-config.yaml: evaluation, alerts, their notifications, seed budgets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from pydantic import Field, field_validator, model_validator
from spendgate.collector.budgets.model import Budget
from spendgate.collector.config_fields import Money, Seconds, Strict


class Webhook(Strict):
    url: str = Field(pattern=r"^https?://")
    # json: spendgate's alert object; slack: {"text": ...} for Slack-compatible incoming webhooks.
    format: str = Field(default="json", pattern=r"^(json|slack)$")
    headers: dict[str, str] = {}
    timeout: Seconds = 5.0


class Email(Strict):
    smtp_host: str
    smtp_port: int = Field(default=587, gt=0, le=65535)
    sender: str
    recipients: list[str] = Field(min_length=1)
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: Seconds = 10.0


class Notifications(Strict):
    webhooks: list[Webhook] = []
    email: Email | None = None
    # Lowest alert level sent out (the in-app list keeps every level).
    min_level: str = Field(default="info", pattern=r"^(info|warning|critical|exceeded)$")


class Threshold(Strict):
    """Seed 000's ``alerts.thresholds`` item: a percent of a budget, its level and message."""

    percent: int = Field(gt=0, le=1000)
    level: str | None = Field(default=None, pattern=r"^(info|warning|critical|exceeded)$")  # None: by percent
    message: str = Field(default="", max_length=500)


class Alerts(Strict):
    # Empty: each budget's own thresholds (default 50, 80, 95, 100). Else these percents replace
    # the default ones (a budget with thresholds of its own keeps them) and name level and message.
    thresholds: list[Threshold] = []
    cooldown: Seconds = 3600.0  # per budget scope and threshold
    anomaly_percent: int = Field(default=200, gt=100)  # today's spend vs the trailing daily average
    anomaly_trailing_days: int = Field(default=7, gt=0, le=90)
    # Below this spend today (USD) no anomaly is raised: "$0.00 today, 485 %" is no news.
    anomaly_min_spend: Money = Decimal(1)
    notifications: Notifications = Notifications()


AGENT_MONTHLY = "agent-default-monthly"
AGENT_MONTHLY_ENV = "AGENT_MAX_MONTHLY_COST_USD"  # seed 004's name
# And spendgate's own name for it, which wins when both are set.
AGENT_MONTHLY_ENVS = ("SPENDGATE_" + AGENT_MONTHLY_ENV, AGENT_MONTHLY_ENV)


def agent_monthly_override(defaults: list[Budget], environ: Mapping[str, str]) -> list[Budget]:
    """The defaults with the per-agent monthly default's amount from the environment: an amount in
    USD replaces its limit, ``0`` or ``off`` drops it; unset leaves it as configured."""
    name = next((n for n in AGENT_MONTHLY_ENVS if environ.get(n, "").strip()), None)
    if name is None:
        return defaults
    text = environ[name].strip()
    if text.lower() == "off":
        return [b for b in defaults if b.id != AGENT_MONTHLY]
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{name}={text[:40]!r}: give a monthly limit in USD, or 0 or off for none")
    if amount == 0:
        return [b for b in defaults if b.id != AGENT_MONTHLY]
    return [b.model_copy(update={"limit": amount}) if b.id == AGENT_MONTHLY else b for b in defaults]


def _seed_budgets() -> list[Budget]:
    """The limits from the seeds; replace them with your own in otel-config.yaml."""
    per_type = {
        "planning": "1.00",
        "coding": "0.50",
        "review": "0.50",
        "testing": "0.10",
        "documentation": "0.05",
    }
    return [
        Budget(id="global-monthly", scope_type="global", limit=Decimal(500), period="month"),
        Budget(
            id="project-default-monthly",
            scope_type="project",
            scope_id="*",
            limit=Decimal(50),
            period="month",
        ),
        # Seed 004: $50 a month per agent, auto-paused at 110 % (hard, 10 % grace).
        Budget(id=AGENT_MONTHLY, scope_type="agent", scope_id="*", limit=Decimal(50), period="month"),
        Budget(id="per-request", scope_type="global", limit=Decimal(1), period="request"),
        *[
            Budget(
                id=f"per-request-{kind}",
                scope_type="agent_type",
                scope_id=kind,
                limit=Decimal(limit),
                period="request",
            )
            for kind, limit in per_type.items()
        ],
        Budget(id="per-run-cost", scope_type="agent", scope_id="*", limit=Decimal(5), period="run"),
        Budget(
            id="per-run-tokens",
            scope_type="agent",
            scope_id="*",
            metric="tokens",
            limit=Decimal(100_000),
            period="run",
        ),
    ]


class BudgetsExtension(Strict):
    """Budgets, their evaluation and the flags pushed to agents."""

    enabled: bool = True
    evaluate_every: Seconds = 5.0
    # embedded: this collector evaluates. external: a separate ``spendgate evaluator`` does,
    # and this collector serves the flags it stores (deployments with several collectors).
    evaluator: str = Field(default="embedded", pattern=r"^(embedded|external)$")
    reservation_ttl: Seconds = 120.0  # strict mode: unsettled reservations are released after this
    # How often an unchanged budget status snapshot is stored again (dashboards, status API).
    status_every: Seconds = 60.0
    alerts: Alerts = Alerts()
    # Written to ClickHouse on first start only; change budgets later through the API or CLI.
    defaults: list[Budget] = Field(default_factory=_seed_budgets, validate_default=True)
    # Concurrency slots (spendgate.run()): a lease whose agent stopped heartbeating is freed after this.
    slot_lease_ttl: Seconds = Field(default=15.0, gt=0)
    # The seeds' limits.global.max_concurrent_agents: adds a global concurrent budget to the defaults.
    max_concurrent_agents: int | None = Field(default=None, gt=0)

    @field_validator("defaults")
    @classmethod
    def _agent_monthly_from_env(cls, defaults: list[Budget]) -> list[Budget]:
        return agent_monthly_override(defaults, os.environ)  # read when the config is made

    @model_validator(mode="after")
    def _concurrency_default(self) -> BudgetsExtension:
        if self.max_concurrent_agents is not None and all(b.id != MAX_CONCURRENT_ID for b in self.defaults):
            self.defaults.append(
                Budget(
                    id=MAX_CONCURRENT_ID,
                    scope_type="global",
                    metric="runs",
                    period="concurrent",
                    limit=Decimal(self.max_concurrent_agents),
                )
            )
        return self


MAX_CONCURRENT_ID = "max-concurrent-agents"
