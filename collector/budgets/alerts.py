"""Alert events: threshold crossings with a cooldown, and spend anomalies.

Each budget scope alerts when its utilisation crosses one of the budget's
thresholds (default 50 info, 80 warning, 95 critical, 100 exceeded; the
configured ``alerts.thresholds``, changed at run time through alert_config.py,
replace the default percents and name level and message), at most
once per threshold and scope within ``cooldown`` (seed: one hour); cooldowns
survive restarts because they are read back from the alert table. A scope
whose spend today is above ``anomaly_percent`` of its trailing daily average
(and at least ``anomaly_min_spend``) raises an anomaly alert, with the same cooldown.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from spendgate.collector.budgets.alert_config import AlertSettingsSource, FixedAlertSettings
from spendgate.collector.budgets.model import DEFAULT_THRESHOLDS, WARN_PERCENT, Budget, Evaluation, describe
from spendgate.collector.config import Alerts as AlertSettings
from spendgate.collector.config import Threshold
from spendgate.collector.tables import Columns, RecordReader, Records, Table

from spendgate.money import money_text

log = logging.getLogger(__name__)

LEVELS = ("info", "warning", "critical", "exceeded")
_ANOMALY_EVERY = timedelta(minutes=1)


def level_of(threshold: int, warn_at: int = WARN_PERCENT) -> str:
    if threshold >= 100:
        return "exceeded"
    if threshold >= 95:
        return "critical"
    if threshold >= warn_at:  # the budget's warn point (80 unless it says)
        return "warning"
    return "info"


@dataclass(frozen=True)
class Alert:
    id: str
    at: datetime
    budget_id: str
    scope_type: str
    scope_id: str
    kind: str  # threshold or anomaly
    level: str
    threshold: int
    spend: Decimal
    limit: Decimal
    utilization: Decimal
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "budget_id": self.budget_id,
            "scope_type": self.scope_type,
            "scope_id": self.scope_id,
            "kind": self.kind,
            "level": self.level,
            "threshold": self.threshold,
            "spend": money_text(self.spend),
            "limit": money_text(self.limit),
            "utilization": str(self.utilization.quantize(Decimal("0.01"))),
            "message": self.message,
        }


ALERTS = Table("budget_alerts", Alert, renamed={"limit": "limit_amount"}, scales={"utilization": 6})


@dataclass(frozen=True)
class _DaySpend:
    """A scope's spend today against its trailing daily average (budgets/anomalies.sql)."""

    scope_type: str
    scope_id: str
    today: Decimal
    trailing_avg: Decimal


_DAY_SPEND = Columns(_DaySpend)


def read_alerts(storage: RecordReader, since: datetime, limit: int = 100) -> list[Alert]:
    """Alerts since ``since``, newest first."""
    return storage.records(ALERTS, "budgets/recent_alerts.sql", {"since": since, "limit": limit})


def thresholds_of(budget: Budget, settings: AlertSettings) -> dict[int, Threshold | None]:
    """The percents at which ``budget`` alerts, each with the configured threshold naming its level
    and message (None: by percent): the configured ones replace the default percents only."""
    configured = {t.percent: t for t in settings.thresholds}
    percents = budget.thresholds
    if configured and tuple(budget.thresholds) == DEFAULT_THRESHOLDS:
        percents = tuple(configured)
    return {p: configured.get(p) for p in percents}


class AlertManager:
    def __init__(
        self,
        storage: Records,
        settings: AlertSettings | AlertSettingsSource,
        deliver: Callable[[list[Alert]], None] | None = None,
    ) -> None:
        self._storage = storage
        # The source is asked at each evaluation: PUT /api/v1/alerts/config applies at once.
        self._source = FixedAlertSettings(settings) if isinstance(settings, AlertSettings) else settings
        self._settings = self._source.current()
        self._deliver = deliver
        self._last: dict[tuple[str, str, str, int], datetime] = {}
        self._crossed: dict[tuple[str, str], set[int]] = {}
        self._next_anomaly_check: datetime | None = None
        self._resume_cooldowns()

    @property
    def _cooldown(self) -> timedelta:
        return timedelta(seconds=self._settings.cooldown)

    def _resume_cooldowns(self) -> None:
        since = datetime.now(UTC) - self._cooldown
        for alert in read_alerts(self._storage, since, limit=100_000):
            key = (alert.budget_id, alert.scope_id, alert.kind, alert.threshold)
            self._last[key] = max(self._last.get(key, alert.at), alert.at)

    def _cooled(self, key: tuple[str, str, str, int], now: datetime) -> bool:
        last = self._last.get(key)
        return last is None or now - last >= self._cooldown

    def observe(self, evaluations: list[Evaluation], now: datetime) -> list[Alert]:
        self._settings = self._source.current()
        alerts = []
        for evaluation in evaluations:
            budget = evaluation.budget
            scope = (budget.id, evaluation.scope_id)
            named = thresholds_of(budget, self._settings)
            crossed = {t for t in named if evaluation.utilization >= t}
            before = self._crossed.get(scope, set())
            self._crossed[scope] = crossed
            for threshold in sorted(crossed - before):
                key = (budget.id, evaluation.scope_id, "threshold", threshold)
                if not self._cooled(key, now):
                    continue
                self._last[key] = now
                configured = named[threshold]
                level = (configured.level if configured else None) or level_of(threshold, budget.warn_at)
                note = f"{configured.message}: " if configured and configured.message else ""
                alerts.append(
                    Alert(
                        id=uuid.uuid4().hex,
                        at=now,
                        budget_id=budget.id,
                        scope_type=budget.scope_type,
                        scope_id=evaluation.scope_id,
                        kind="threshold",
                        level=level,
                        threshold=threshold,
                        spend=evaluation.spend,
                        limit=budget.limit,
                        utilization=evaluation.utilization,
                        message=f"{note}{threshold}% of the {describe(budget, evaluation.scope_id)} used "
                        f"({evaluation.utilization:.1f}%: {evaluation.spend:.4f} of {budget.limit})",
                    )
                )
        alerts.extend(self._anomalies(evaluations, now))
        if alerts:
            self._storage.insert(ALERTS, alerts)
            for alert in alerts:
                log.warning("budget alert [%s] %s", alert.level, alert.message)
            if self._deliver is not None:
                self._deliver(alerts)
        return alerts

    def _anomalies(self, evaluations: list[Evaluation], now: datetime) -> list[Alert]:
        if self._next_anomaly_check is not None and now < self._next_anomaly_check:
            return []
        self._next_anomaly_check = now + _ANOMALY_EVERY
        scopes = {(e.budget.scope_type, e.scope_id): e for e in evaluations if e.budget.metric == "cost"}
        if not scopes:
            return []
        rows = self._storage.records(
            _DAY_SPEND,
            "budgets/anomalies.sql",
            {
                "now": now,
                "days": self._settings.anomaly_trailing_days,
                "percent": self._settings.anomaly_percent,
                "scope_types": [kind for kind, _ in scopes],
                "scope_ids": [scope_id for _, scope_id in scopes],
            },
        )
        alerts = []
        for row in rows:
            if row.today < self._settings.anomaly_min_spend:
                continue
            evaluation = scopes[(row.scope_type, row.scope_id)]
            key = (evaluation.budget.id, row.scope_id, "anomaly", self._settings.anomaly_percent)
            if not self._cooled(key, now):
                continue
            self._last[key] = now
            ratio = row.today / row.trailing_avg * 100
            where = "global" if row.scope_type == "global" else f"{row.scope_type} {row.scope_id}"
            alerts.append(
                Alert(
                    id=uuid.uuid4().hex,
                    at=now,
                    budget_id=evaluation.budget.id,
                    scope_type=row.scope_type,
                    scope_id=row.scope_id,
                    kind="anomaly",
                    level="warning",
                    threshold=self._settings.anomaly_percent,
                    spend=row.today,
                    limit=row.trailing_avg,
                    utilization=ratio,
                    message=f"{where} spent ${row.today:.2f} today, {ratio:.0f}% of its trailing daily "
                    f"average (${row.trailing_avg:.2f})",
                )
            )
        return alerts
