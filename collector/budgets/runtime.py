"""Everything budgets need at run time, wired together once.

Used by the collector (embedded evaluator: evaluation, fast path,
reservations, alerts, notifications) and by ``spendgate evaluator`` (the
same without the fast path), and, in external mode, by collectors that only
serve the flags an external evaluator stored.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from spendgate.collector.budgets.alerts import AlertManager
from spendgate.collector.budgets.board import Flag, FlagBoard
from spendgate.collector.budgets.evaluator import BudgetEvaluator, agent_limits
from spendgate.collector.budgets.fast_path import LiveSpend
from spendgate.collector.budgets.notify import Notifier
from spendgate.collector.budgets.status import StatusRecorder
from spendgate.collector.budgets.store import BudgetStore
from spendgate.collector.config import BudgetsExtension
from spendgate.collector.storage import Storage

log = logging.getLogger(__name__)
_FLAG_COLUMNS = ["budget_id", "scope_type", "scope_id", "version", "state", "spend", "limit_amount",
                 "utilization", "remaining", "period_end", "reason", "changed_at"]  # fmt: skip


class FlagRecorder:
    """Stores flag changes in ClickHouse off the hot path (for dashboards and external mode)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._queue: queue.Queue[tuple[datetime, list[Flag]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="spendgate-flag-recorder", daemon=True)
        self._thread.start()

    def __call__(self, flags: list[Flag]) -> None:
        self._queue.put((datetime.now(UTC), flags))  # the time of the change, not of the write

    def _run(self) -> None:
        table = f"{self._storage.options.database}.budget_flags"
        while (item := self._queue.get()) is not None:
            now, flags = item
            rows = [
                [
                    f.budget_id,
                    f.scope_type,
                    f.scope_id,
                    f.version,
                    f.state,
                    f.spend,
                    f.limit,
                    f.utilization.quantize(Decimal("0.000001")),
                    f.remaining,
                    f.period_end or now,
                    f.reason,
                    now,
                ]  # fmt: skip
                for f in flags
            ]
            try:
                self._storage.client.insert(table, rows, column_names=_FLAG_COLUMNS)
            except Exception as exc:
                log.warning("could not store %d flag changes: %s", len(rows), exc)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(10)


def read_flags(storage: Storage) -> list[Flag]:
    rows = storage.client.query(storage.sql("budgets/current_flags.sql")).result_rows
    return [
        Flag(
            budget_id=r[0],
            scope_type=r[1],
            scope_id=r[2],
            metric="cost",
            state=r[3],
            spend=Decimal(r[4]),
            limit=Decimal(r[5]),
            utilization=Decimal(r[6]),
            remaining=Decimal(r[7]),
            period_end=r[8],
            reason=r[9],
        )  # fmt: skip
        for r in rows
    ]


class BudgetRuntime:
    def __init__(self, storage: Storage, settings: BudgetsExtension, fast_path: bool = True) -> None:
        self.settings = settings
        self.storage = storage
        self.store = BudgetStore(storage)
        self.board = FlagBoard()
        self.embedded = settings.evaluator == "embedded"
        self.live: LiveSpend | None = None
        self.notifier: Notifier | None = None
        self.evaluator: BudgetEvaluator | None = None
        self._recorder: FlagRecorder | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fast_path = fast_path

    def open(self, quiesce: Any = None) -> None:
        added = self.store.seed(list(self.settings.defaults))
        if added:
            log.info("budgets from the config stored: %s", ", ".join(added))
        if not self.embedded:
            return
        self.notifier = Notifier(self.settings.alerts.notifications)
        self.notifier.start()
        alerts = AlertManager(self.storage, self.settings.alerts, self.notifier.send)
        self.live = LiveSpend(self.board, self.settings.reservation_ttl) if self._fast_path else None
        self._recorder = FlagRecorder(self.storage)
        self.board.add_listener(self._recorder)
        self.evaluator = BudgetEvaluator(
            self.storage,
            lambda: self.store.all(max_age=1.0),
            self.board,
            self.settings.evaluate_every,
            live=self.live,
            alerts=alerts,
            status=StatusRecorder(self.storage, self.settings.status_every),
            quiesce=quiesce,
        )
        self.evaluator.run_once()  # flags are right before the first agent connects

    def start(self) -> None:
        target = self.evaluator.run_forever if self.evaluator is not None else self._follow
        self._thread = threading.Thread(
            target=target, args=(self._stop,), name="spendgate-budgets", daemon=True
        )
        self._thread.start()

    def _follow(self, stop: threading.Event) -> None:
        """External mode: serve the flags the evaluator stores."""
        while not stop.is_set():
            try:
                limits = agent_limits(self.store.all())
                self.board.update(read_flags(self.storage), replace_all=True, limits=limits)
            except Exception as exc:
                log.warning("could not read flags: %s", exc)
            stop.wait(self.settings.evaluate_every)

    def changed(self, wait: float = 5.0) -> None:
        """A budget changed: evaluate now, and wait (up to ``wait`` s) until its flags are out."""
        if self.evaluator is not None:
            self.evaluator.wake(wait)

    def close(self) -> None:
        self._stop.set()
        if self.evaluator is not None:
            self.evaluator.wake()
        if self._thread is not None:
            self._thread.join(10)
        if self.notifier is not None:
            self.notifier.stop()
        if self._recorder is not None:
            self._recorder.stop()
