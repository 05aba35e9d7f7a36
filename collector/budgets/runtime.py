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
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal

from spendgate.collector.budgets.alert_config import AlertConfigStore
from spendgate.collector.budgets.alerts import Alert, AlertManager
from spendgate.collector.budgets.board import Flag, FlagBoard
from spendgate.collector.budgets.decision import BudgetChecker
from spendgate.collector.budgets.evaluator import BudgetEvaluator, RunMeter, agent_limits
from spendgate.collector.budgets.fast_path import LiveSpend
from spendgate.collector.budgets.model import Budget, State
from spendgate.collector.budgets.notify import Notifier
from spendgate.collector.budgets.overrides import OverrideStore, with_overrides
from spendgate.collector.budgets.pauses import PauseStore
from spendgate.collector.budgets.slots import SlotManager
from spendgate.collector.budgets.status import StatusRecorder, read_status
from spendgate.collector.budgets.store import BudgetStore
from spendgate.collector.config import BudgetsExtension
from spendgate.collector.events.bus import Publisher
from spendgate.collector.events.kinds import threshold_crossed
from spendgate.collector.tables import RecordReader, Records, RecordWriter, Table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredFlag:
    """A flag as it changed: a row of budget_flags."""

    budget_id: str
    scope_type: str
    scope_id: str
    metric: str  # migration 0027; rows stored before it read cost
    version: int
    state: State
    spend: Decimal
    limit: Decimal
    utilization: Decimal
    remaining: Decimal
    period_end: datetime
    reason: str
    changed_at: datetime

    @classmethod
    def of(cls, flag: Flag, changed_at: datetime) -> StoredFlag:
        values = {name: getattr(flag, name) for name in _FLAG_FIELDS}
        return cls(**values | {"period_end": flag.period_end or changed_at}, changed_at=changed_at)

    def flag(self) -> Flag:
        # The stored version is the evaluating collector's; the serving board numbers its own.
        values = {name: getattr(self, name) for name in _FLAG_FIELDS if name != "version"}
        return Flag(**values)


# The columns of budget_flags that are the flag's own fields (all but changed_at).
_FLAG_FIELDS = tuple(f.name for f in fields(StoredFlag) if f.name != "changed_at")
FLAGS = Table("budget_flags", StoredFlag, renamed={"limit": "limit_amount"}, scales={"utilization": 6})


class FlagRecorder:
    """Stores flag changes in ClickHouse off the hot path (for dashboards and external mode)."""

    def __init__(self, storage: RecordWriter) -> None:
        self._storage = storage
        self._queue: queue.Queue[tuple[datetime, list[Flag]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="spendgate-flag-recorder", daemon=True)
        self._thread.start()

    def __call__(self, flags: list[Flag]) -> None:
        self._queue.put((datetime.now(UTC), flags))  # the time of the change, not of the write

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            now, flags = item
            try:
                self._storage.insert(FLAGS, [StoredFlag.of(flag, now) for flag in flags])
            except Exception as exc:
                log.warning("could not store %d flag changes: %s", len(flags), exc)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(10)


def read_flags(storage: RecordReader) -> list[Flag]:
    """The newest flag of every budget scope that is not ok, as the evaluator stored it."""
    return [stored.flag() for stored in storage.records(FLAGS, "budgets/current_flags.sql")]


class BudgetRuntime:
    def __init__(self, storage: Records, settings: BudgetsExtension, fast_path: bool = True) -> None:
        self.settings = settings
        self.storage = storage
        self.store = BudgetStore(storage)
        self.pauses = PauseStore(storage)
        self.overrides = OverrideStore(storage)
        self.alert_config = AlertConfigStore(storage, settings.alerts)  # the file's, until one is stored
        self.board = FlagBoard()
        self.embedded = settings.evaluator == "embedded"
        self.live: LiveSpend | None = None
        self.notifier: Notifier | None = None
        self.evaluator: BudgetEvaluator | None = None
        self.slots: SlotManager | None = None  # concurrency slots: held by the evaluating collector only
        self._recorder: FlagRecorder | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fast_path = fast_path
        # Where budget events go (collector/events/): set by the collector before open().
        self.events: Publisher | None = None
        # Told of every evaluation (the collector's metrics): set before open(), which evaluates once.
        self.meter: RunMeter | None = None

    def open(self, quiesce: AbstractContextManager[object] | None = None) -> None:
        """Seed the config's budgets and, when embedded, evaluate once; ``quiesce`` holds the
        writer's inserts while the evaluator reads the spend (the writer's ``insert_lock``)."""
        added = self.store.seed(list(self.settings.defaults))
        if added:
            log.info("budgets from the config stored: %s", ", ".join(added))
        self.refresh_pauses()  # paused scopes stay paused across restarts
        if not self.embedded:
            return
        self.notifier = Notifier(self.alert_config)
        self.notifier.start()
        alerts = AlertManager(self.storage, self.alert_config, self._alerted)
        self.live = LiveSpend(self.board, self.settings.reservation_ttl) if self._fast_path else None
        self._recorder = FlagRecorder(self.storage)
        self.board.add_listener(self._recorder)
        self.evaluator = BudgetEvaluator(
            self.storage,
            self.budgets,
            self.board,
            self.settings.evaluate_every,
            live=self.live,
            alerts=alerts,
            status=StatusRecorder(self.storage, self.settings.status_every),
            quiesce=quiesce,
        )
        self.evaluator.meter = self.meter
        if self.live is not None:
            self.live.recheck = self.evaluator.recheck_in
        self.evaluator.run_once()  # flags are right before the first agent connects
        if self._fast_path:  # the collector, which serves them; not ``spendgate evaluator``
            self.slots = SlotManager(lambda: self.store.all(max_age=1.0), self.settings.slot_lease_ttl)
            self.slots.start()

    def _alerted(self, alerts: list[Alert]) -> None:
        if self.notifier is not None:
            self.notifier.send(alerts)
        if (events := self.events) is not None:
            events.publish(lambda: threshold_crossed(alerts))

    @property
    def checker(self) -> BudgetChecker:
        """The pre-flight check (HTTP and gRPC): live counts, else the stored status and flags."""
        return BudgetChecker(self.board, self.live, self.budgets, lambda: read_status(self.storage))

    def budgets(self, max_age: float = 1.0) -> list[Budget]:
        """The budgets as evaluated: with the override requests that hold now merged in."""
        return with_overrides(self.store.all(max_age), self.overrides.all(max_age), datetime.now(UTC))

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
                self.refresh_pauses()  # paused through another collector
            except Exception as exc:
                log.warning("could not read flags: %s", exc)
            stop.wait(self.settings.evaluate_every)

    def refresh_pauses(self) -> None:
        """Serve the paused scopes as stored (after a pause or unpause, at once)."""
        self.board.set_pauses(self.pauses.flags())

    def changed(self, wait: float = 5.0) -> None:
        """A budget changed: evaluate now, and wait (up to ``wait`` s) until its flags are out."""
        if self.slots is not None:
            self.slots.poke()
        if self.evaluator is not None:
            self.evaluator.wake(wait)

    def close(self) -> None:
        self._stop.set()
        if self.evaluator is not None:
            self.evaluator.wake()
        if self._thread is not None:
            self._thread.join(10)
        if self.slots is not None:
            self.slots.stop()
        if self.notifier is not None:
            self.notifier.stop()
        if self._recorder is not None:
            self._recorder.stop()
