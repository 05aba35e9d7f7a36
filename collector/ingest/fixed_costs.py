"""Local models' fixed monthly cost (``processors.pricing.local_monthly_cost``) as daily spend.

Local providers charge nothing per token; their hardware costs a fixed amount a
month. Each UTC day gets ``monthly / days_in_month`` of it (exact Decimal; the
month's last day takes the rounding remainder, so a month sums to the amount),
stored as one llm_spans row per provider (or provider/model) and day: operation
``infrastructure``, zero tokens, pricing status ``fixed_monthly``. The row goes
through the span writer like any call, so reports, the costs API, the rollups,
dashboards and budgets count it with no special case (call counts leave it out).

When a day is accrued: unsplit, at its start (the whole day up front, so budgets
see it at once); split over projects (``local_monthly_cost_split: project``),
after it ends, by each project's share of that provider's tokens that day (a day
without such tokens stays unattributed). Each row's call key is derived from
provider, model, day and project, and the days already stored are read back at
start-up, so restarts and retries never count a day twice; days missed while the
collector was down are caught up from the last accrued day (a first start accrues
from the current day only).
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from spendgate.collector.config import PricingProcessor
from spendgate.collector.ingest import processing
from spendgate.collector.ingest.normalize import UsageRecord
from spendgate.collector.ingest.writer import SpanWriter
from spendgate.collector.tables import Columns, Records

from spendgate.pricing.plan import Cost
from spendgate.pricing.pricer import PricedUsage

log = logging.getLogger(__name__)

INFRASTRUCTURE = "infrastructure"  # the operation of a fixed-cost row
FIXED_MONTHLY = "fixed_monthly"  # its pricing status
_QUANTUM = Decimal(1).scaleb(-processing.COST_SCALE)
_ZERO = Decimal(0)
_RETRY_S = 60.0
_CATCH_UP_DAYS = 62  # at most this many missed days are accrued after a long stop


def daily_amount(monthly: Decimal, day: date) -> Decimal:
    """The day's part of a monthly amount; the month's last day takes the remainder."""
    days = calendar.monthrange(day.year, day.month)[1]
    share = (monthly / days).quantize(_QUANTUM, ROUND_DOWN)
    return monthly - share * (days - 1) if day.day == days else share


def split(amount: Decimal, weights: dict[str, int]) -> dict[str, Decimal]:
    """``amount`` over the keys by weight; the last key takes the remainder, so the parts sum exactly."""
    total = sum(weights.values())
    if not total:
        return {"": amount}
    names = sorted(weights)
    parts = {name: (amount * weights[name] / total).quantize(_QUANTUM, ROUND_DOWN) for name in names[:-1]}
    parts[names[-1]] = amount - sum(parts.values(), _ZERO)
    return parts


def accrual_key(provider: str, model: str, day: date, project: str) -> bytes:
    name = f"spendgate.fixed_cost\0{provider}\0{model}\0{day.isoformat()}\0{project}".encode()
    return hashlib.blake2b(name, digest_size=processing.KEY_BYTES).digest()


@dataclass(frozen=True)
class FixedCost:
    provider: str
    model: str  # "" for the whole provider
    monthly: Decimal

    @classmethod
    def parse(cls, key: str, monthly: Decimal) -> FixedCost:
        provider, _, model = key.partition("/")
        return cls(provider, model, monthly)


@dataclass(frozen=True)
class _LastDay:
    provider: str
    model: str
    last_day: date


@dataclass(frozen=True)
class _Share:
    project: str
    tokens: int


_LAST_DAYS = Columns(_LastDay)
_SHARES = Columns(_Share)


def _record(cost: FixedCost, day: date, project: str) -> UsageRecord:
    key = accrual_key(cost.provider, cost.model, day, project)
    start_ns = int(datetime.combine(day, time(), UTC).timestamp()) * 1_000_000_000
    return UsageRecord(
        trace_id=key[:16],
        span_id=key[16:],
        parent_span_id=bytes(8),
        start_time_ns=start_ns,
        end_time_ns=start_ns,
        span_name="spendgate.fixed_cost",
        status_code="ok",
        error_type="",
        emitter="spendgate",
        provider=cost.provider,
        operation=INFRASTRUCTURE,
        request_model=cost.model,
        response_model=cost.model,
        input_tokens=0,
        output_tokens=0,
        cache_read_tokens=0,
        cache_write_tokens=0,
        reasoning_tokens=0,
        usage_estimated=False,
        attribution={"project": project} if project else {},
        call_key=key,
    )


def _priced(cost: FixedCost, amount: Decimal) -> PricedUsage:
    return PricedUsage(cost.model, FIXED_MONTHLY, Cost(_ZERO, _ZERO, _ZERO, _ZERO, amount))


class FixedCosts:
    """Writes the daily rows of the configured fixed costs: at start-up, then after each UTC midnight."""

    def __init__(
        self,
        pricing: PricingProcessor,
        storage: Records,
        writer: SpanWriter,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.costs = [FixedCost.parse(key, amount) for key, amount in pricing.local_monthly_cost.items()]
        self.by_project = pricing.local_monthly_cost_split == "project"
        self._storage = storage
        self._writer = writer
        self._today = today
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ok = True  # the last run wrote every due day

    def due_days(self, cost: FixedCost, last: date | None) -> list[date]:
        """The days to accrue now: after the last accrued one, through today (yesterday when split)."""
        through = self._today() - timedelta(days=1 if self.by_project else 0)
        if last is None:
            return [through]
        first = max(last + timedelta(days=1), through - timedelta(days=_CATCH_UP_DAYS))
        return [first + timedelta(days=n) for n in range((through - first).days + 1)]

    def accrue(self) -> int:
        """Write every due day of every fixed cost; how many rows were written."""
        if not self.costs:
            return 0
        last = {(r.provider, r.model): r.last_day for r in self._storage.records(_LAST_DAYS, _LAST_SQL)}
        return sum(
            self.accrue_day(cost, day)
            for cost in self.costs
            for day in self.due_days(cost, last.get((cost.provider, cost.model)))
        )

    def accrue_day(self, cost: FixedCost, day: date) -> int:
        """Write one day of one fixed cost (split by project when so configured); rows written."""
        amount = daily_amount(cost.monthly, day)
        parts = split(amount, self._shares(cost, day)) if self.by_project else {"": amount}
        records = [_record(cost, day, project) for project in parts]
        priced = [_priced(cost, part) for part in parts.values()]
        block = processing.build_block(processing.SpanBatch(records, priced, _received_ms()))
        keys = [record.call_key for record in records]
        links = [(r.key, r.trace_id + r.parent_span_id) for r in records]
        for wait in self._writer.submit(keys, block, links):
            wait.result(timeout=120)
        return len(records)

    def _shares(self, cost: FixedCost, day: date) -> dict[str, int]:
        parameters = {"provider": cost.provider, "model": cost.model, "day": day}
        return {s.project: s.tokens for s in self._storage.records(_SHARES, _SHARES_SQL, parameters)}

    # -- the timer -------------------------------------------------------------------------------
    def start(self) -> None:
        if not self.costs:
            return
        self._run_once()
        self._thread = threading.Thread(target=self._run, name="spendgate-fixed-costs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        # A little past midnight; after a failure (storage down) a minute later.
        while not self._stop.wait(_seconds_to_next_day() + 5 if self._ok else _RETRY_S):
            self._run_once()

    def _run_once(self) -> None:
        try:
            written = self.accrue()
        except Exception:  # the next run catches the missed days up
            log.exception("fixed monthly costs were not accrued; retried in %g s", _RETRY_S)
            self._ok = False
            return
        self._ok = True
        if written:
            log.info("fixed monthly costs: %d daily rows accrued", written)


_LAST_SQL = "collector/fixed_cost_last_days.sql"
_SHARES_SQL = "collector/fixed_cost_shares.sql"


def _received_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _seconds_to_next_day() -> float:
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(), UTC)
    return (midnight - now).total_seconds()
