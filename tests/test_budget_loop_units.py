"""The budget loop without a database: evaluator, alerts, status and flag records through a store
kept in memory (a second implementation of the storage port, tables.RecordReader / RecordWriter)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from spendgate.collector.budgets.alerts import ALERTS, AlertManager, read_alerts
from spendgate.collector.budgets.board import Flag, FlagBoard
from spendgate.collector.budgets.evaluator import BudgetEvaluator, Evaluation, evaluate
from spendgate.collector.budgets.model import Budget, State
from spendgate.collector.budgets.runtime import FLAGS, FlagRecorder, StoredFlag, read_flags
from spendgate.collector.budgets.status import STATUS, StatusRecorder, read_status
from spendgate.collector.budgets.store import BudgetStore
from spendgate.collector.config import Alerts as AlertSettings
from spendgate.collector.tables import Columns, R, Table

Row = dict[str, Any]  # a stored row: column name -> value
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


class MemoryStore:
    """Tables as lists of rows by column name; each query file the loop reads is a function here."""

    def __init__(self) -> None:
        self.tables: dict[str, list[Row]] = {}
        self.spend: dict[
            tuple[str, str], tuple[Decimal, int, int]
        ] = {}  # (budget, scope): cost, tokens, calls
        self.days: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}  # scope: today, trailing average
        self.asked: list[str] = []
        self.away = False  # inserts fail, as with ClickHouse down
        self.on_read: Callable[[], object] = lambda: None
        self._queries: dict[str, Callable[[Mapping[str, Any]], list[Row]]] = {
            "budgets/spend_in_windows.sql": self._spend_in_windows,
            "budgets/anomalies.sql": self._anomalies,
            "budgets/recent_alerts.sql": self._recent_alerts,
            "budgets/latest_status.sql": self._latest_status,
            "budgets/current_flags.sql": self._current_flags,
            "budgets/list_budgets.sql": self._list_budgets,
            "budgets/budget_versions.sql": self._budget_versions,
        }

    # -- the port -------------------------------------------------------------------------------
    def insert(self, table: Table[R], records: Sequence[R]) -> None:
        if self.away:
            raise ConnectionError("the store is away")
        self.tables.setdefault(table.name, []).extend(table.by_name(record) for record in records)

    def records(
        self, columns: Columns[R], relative_path: str, parameters: Mapping[str, object] | None = None
    ) -> list[R]:
        self.asked.append(relative_path)
        self.on_read()
        return [columns.read(row) for row in self._queries[relative_path](parameters or {})]

    # -- the queries ----------------------------------------------------------------------------
    def _rows(self, table: str) -> list[Row]:
        return self.tables.get(table, [])

    def _spend_in_windows(self, parameters: Mapping[str, Any]) -> list[Row]:
        return [
            {
                "budget_id": budget_id,
                "scope_id": scope_id,
                "cost": cost,
                "tokens": tokens,
                "calls": calls,
                "blocked_calls": 0,
            }
            for (budget_id, scope_id), (cost, tokens, calls) in self.spend.items()
            if budget_id in parameters["budget_ids"]
        ]

    def _anomalies(self, parameters: Mapping[str, Any]) -> list[Row]:
        scopes = set(zip(parameters["scope_types"], parameters["scope_ids"], strict=True))
        return [
            {"scope_type": kind, "scope_id": scope_id, "today": today, "trailing_avg": average}
            for (kind, scope_id), (today, average) in self.days.items()
            if (kind, scope_id) in scopes and today * 100 > average * parameters["percent"]
        ]

    def _recent_alerts(self, parameters: Mapping[str, Any]) -> list[Row]:
        rows = [row for row in self._rows("budget_alerts") if row["at"] >= parameters["since"]]
        return sorted(rows, key=lambda row: row["at"], reverse=True)[: parameters["limit"]]

    def _latest_status(self, parameters: Mapping[str, Any]) -> list[Row]:
        rows = self._rows("budget_status")
        newest = max((row["evaluated_at"] for row in rows), default=None)
        return [
            row
            for row in rows
            if row["evaluated_at"] == newest
            and row["budget_id"] != ""
            and parameters["scope_type"] in ("", row["scope_type"])
            and parameters["scope_id"] in ("", row["scope_id"])
        ]

    def _current_flags(self, parameters: Mapping[str, Any]) -> list[Row]:
        newest: dict[tuple[str, str], Row] = {}
        for row in self._rows("budget_flags"):  # in the order stored: later rows are newer
            newest[(row["budget_id"], row["scope_id"])] = row
        return [row for row in newest.values() if row["state"] != "ok"]

    def _newest_versions(self) -> list[Row]:
        newest: dict[str, Row] = {}
        for row in sorted(self._rows("budgets"), key=lambda row: row["version"]):
            newest[row["id"]] = row
        return list(newest.values())

    def _list_budgets(self, parameters: Mapping[str, Any]) -> list[Row]:
        return [row for row in self._newest_versions() if not row["deleted"]]

    def _budget_versions(self, parameters: Mapping[str, Any]) -> list[Row]:
        return [{"id": row["id"], "version": row["version"]} for row in self._newest_versions()]


def _budgets() -> list[Budget]:
    return [
        Budget(id="g", scope_type="global", limit=Decimal(10), period="month"),
        Budget(id="p1", scope_type="project", scope_id="p1", limit=Decimal(10), period="month"),
        Budget(id="proj-default", scope_type="project", scope_id="*", limit=Decimal(5), period="month"),
        Budget(id="paused", scope_type="global", limit=Decimal(1), period="month", active=False),
        Budget(id="per-call", scope_type="global", limit=Decimal(1), period="request"),
    ]


def _store() -> MemoryStore:
    store = MemoryStore()
    store.spend = {
        ("g", ""): (Decimal("8.5"), 900, 17),  # 85 %: warn
        ("p1", "p1"): (Decimal(12), 1000, 20),  # past the limit and its 10 % grace: block
        ("proj-default", "p1"): (Decimal(12), 1000, 20),  # p1 has its own budget: not the default's
        ("proj-default", "p2"): (Decimal(1), 100, 2),  # 20 %: ok
        ("paused", ""): (Decimal(5), 1, 1),
    }
    return store


def _evaluations(store: MemoryStore, now: datetime = NOW) -> dict[tuple[str, str], Evaluation]:
    return {(e.budget.id, e.scope_id): e for e in evaluate(store, _budgets(), now)}


# -- evaluation -------------------------------------------------------------------------------------


def test_evaluate_turns_stored_spend_into_states() -> None:
    evaluations = _evaluations(_store())
    assert {key: e.state for key, e in evaluations.items()} == {
        ("g", ""): "warn",
        ("p1", "p1"): "block",
        ("proj-default", "p2"): "ok",
    }
    g = evaluations[("g", "")]
    assert (g.spend, g.calls, g.utilization, g.remaining) == (Decimal("8.5"), 17, Decimal(85), Decimal("1.5"))
    assert g.window_start == datetime(2026, 3, 1, tzinfo=UTC) and g.window_end == datetime(
        2026, 4, 1, tzinfo=UTC
    )


def test_the_evaluator_publishes_flags_raises_alerts_and_records_status() -> None:
    store, board = _store(), FlagBoard()
    alerts = AlertManager(store, AlertSettings())
    status = StatusRecorder(store, every=60)
    evaluator = BudgetEvaluator(store, _budgets, board, 60, alerts=alerts, status=status)
    evaluator.run_once(NOW)
    flags = {f.key: f for f in board.flags()}
    assert {key: f.state for key, f in flags.items()} == {("g", ""): "warn", ("p1", "p1"): "block"}
    assert flags[("p1", "p1")].reason == "blocked: $12.00 of $10.00 spent (project p1 month budget p1)"
    assert [limit.id for limit in board.snapshot().limits] == ["per-call"]
    stored = sorted((a["budget_id"], a["threshold"], a["level"]) for a in store.tables["budget_alerts"])
    assert stored == [
        ("g", 50, "info"),
        ("g", 80, "warning"),
        ("p1", 50, "info"),
        ("p1", 80, "warning"),
        ("p1", 95, "critical"),
        ("p1", 100, "exceeded"),
    ]
    snapshot = store.tables["budget_status"]
    assert sorted((row["budget_id"], row["scope_id"], row["state"]) for row in snapshot) == [
        ("g", "", "warn"),
        ("p1", "p1", "block"),
        ("proj-default", "p2", "ok"),  # ok scopes are in the snapshot too
    ]
    assert evaluator.runs == 1 and evaluator.last_run == NOW


@dataclass
class _Counted:
    evaluations: list[Evaluation]
    budgets: list[Budget]
    limits: tuple[Budget, ...]
    held: bool


def test_the_spend_is_read_and_the_live_count_reset_while_inserts_are_held() -> None:
    store, board, hold = _store(), FlagBoard(), threading.Lock()
    held_at_read: list[bool] = []
    store.on_read = lambda: held_at_read.append(hold.locked())
    counted: list[_Counted] = []

    class Live:
        def reset(
            self,
            evaluations: list[Evaluation],
            budgets: list[Budget],
            now: datetime,
            limits: tuple[Budget, ...],
        ) -> None:
            counted.append(_Counted(evaluations, budgets, limits, hold.locked()))

    BudgetEvaluator(store, _budgets, board, 60, live=Live(), quiesce=hold).run_once(NOW)
    assert held_at_read == [True] and not hold.locked()
    (reset,) = counted
    assert reset.held and [b.id for b in reset.budgets] == ["g", "p1", "proj-default"]
    assert [b.id for b in reset.limits] == ["per-call"] and len(reset.evaluations) == 3
    assert board.flags() == []  # with a live counter, it publishes the flags


# -- alerts -----------------------------------------------------------------------------------------


def test_thresholds_alert_once_per_cooldown_and_cooldowns_survive_a_restart() -> None:
    now = datetime.now(UTC)  # cooldowns are read back relative to the real clock
    store = _store()
    delivered: list[str] = []
    manager = AlertManager(
        store, AlertSettings(cooldown=3600), lambda alerts: delivered.extend(a.id for a in alerts)
    )
    first = manager.observe(list(_evaluations(store, now).values()), now)
    assert sorted((a.budget_id, a.threshold) for a in first) == [
        ("g", 50),
        ("g", 80),
        ("p1", 50),
        ("p1", 80),
        ("p1", 95),
        ("p1", 100),
    ]
    assert delivered == [a.id for a in first]
    g80 = next(a for a in first if (a.budget_id, a.threshold) == ("g", 80))
    assert g80.message == "80% of the global month budget g used (85.0%: 8.5000 of 10)"
    assert manager.observe(list(_evaluations(store, now).values()), now) == []  # nothing new crossed
    # A restarted manager reads the cooldowns back: crossing again within the hour raises nothing.
    restarted = AlertManager(store, AlertSettings(cooldown=3600))
    later = now + timedelta(minutes=10)
    assert restarted.observe(list(_evaluations(store, later).values()), later) == []
    # Past the cooldown, a scope that dropped below a threshold and crossed it again alerts again.
    store.spend[("g", "")] = (Decimal(1), 1, 1)
    assert restarted.observe(list(_evaluations(store, later).values()), later) == []
    store.spend[("g", "")] = (Decimal(6), 1, 1)
    after = now + timedelta(hours=1, minutes=1)
    again = restarted.observe(list(_evaluations(store, after).values()), after)
    assert [(a.budget_id, a.threshold, a.level) for a in again] == [("g", 50, "info")]


def test_alerts_are_stored_by_column_and_read_back_as_they_were() -> None:
    now = datetime.now(UTC)
    store = _store()
    alerts = AlertManager(store, AlertSettings()).observe(list(_evaluations(store, now).values()), now)
    row = next(r for r in store.tables["budget_alerts"] if (r["budget_id"], r["threshold"]) == ("g", 50))
    assert set(row) == set(ALERTS.names) and row["limit_amount"] == Decimal(10)
    assert str(row["utilization"]) == "85.000000"  # the column has six places
    read = read_alerts(store, now - timedelta(minutes=1))
    assert sorted(read, key=lambda a: a.id) == sorted(alerts, key=lambda a: a.id)
    assert len(read_alerts(store, now - timedelta(minutes=1), limit=2)) == 2


def test_a_scope_spending_over_twice_its_daily_average_raises_one_anomaly_a_minute() -> None:
    now = datetime.now(UTC)
    store = _store()
    store.days = {("global", ""): (Decimal(30), Decimal(10)), ("project", "p2"): (Decimal(1), Decimal(1))}
    manager = AlertManager(store, AlertSettings(anomaly_percent=200))
    raised = [a for a in manager.observe(list(_evaluations(store, now).values()), now) if a.kind == "anomaly"]
    assert [(a.budget_id, a.scope_id, a.level, a.utilization) for a in raised] == [
        ("g", "", "warning", Decimal(300))
    ]
    assert raised[0].message == "global spent $30.00 today, 300% of its trailing daily average ($10.00)"
    asked = store.asked.count("budgets/anomalies.sql")
    manager.observe(list(_evaluations(store, now).values()), now + timedelta(seconds=30))
    assert store.asked.count("budgets/anomalies.sql") == asked  # checked once a minute


def test_no_anomaly_below_the_minimum_spend() -> None:
    now = datetime.now(UTC)
    store = _store()
    store.days = {("global", ""): (Decimal("0.50"), Decimal("0.10"))}  # 500 %, but of cents
    quiet = AlertManager(store, AlertSettings(anomaly_percent=200))
    assert [
        a for a in quiet.observe(list(_evaluations(store, now).values()), now) if a.kind == "anomaly"
    ] == []
    loud = AlertManager(store, AlertSettings(anomaly_percent=200, anomaly_min_spend=Decimal("0.25")))
    raised = [a for a in loud.observe(list(_evaluations(store, now).values()), now) if a.kind == "anomaly"]
    assert [(a.scope_type, a.utilization) for a in raised] == [("global", Decimal(500))]


# -- status -----------------------------------------------------------------------------------------


def test_status_snapshots_are_written_on_change_or_when_due() -> None:
    store = _store()
    recorder = StatusRecorder(store, every=60)
    recorder.observe(list(_evaluations(store).values()), NOW)
    assert len(store.tables["budget_status"]) == 3
    recorder.observe(list(_evaluations(store).values()), NOW + timedelta(seconds=10))
    assert len(store.tables["budget_status"]) == 3  # nothing changed, not due
    store.spend[("proj-default", "p2")] = (Decimal("4.5"), 1, 1)  # 90 %: ok -> warn
    recorder.observe(list(_evaluations(store).values()), NOW + timedelta(seconds=20))
    assert len(store.tables["budget_status"]) == 6
    recorder.observe(list(_evaluations(store).values()), NOW + timedelta(seconds=80))
    assert len(store.tables["budget_status"]) == 9  # due
    p2 = read_status(store, "project", "p2")
    assert [(s.budget_id, s.state, s.spend, s.limit, s.utilization) for s in p2] == [
        ("proj-default", "warn", Decimal("4.5"), Decimal(5), Decimal("90.000000"))
    ]
    assert p2[0].evaluated_at == NOW + timedelta(seconds=80)
    assert [s.scope_id for s in read_status(store, "project")] == ["p1", "p2"]


def test_status_ends_with_a_marker_row_and_retries_after_a_failed_write() -> None:
    store = _store()
    recorder = StatusRecorder(store, every=60)
    store.away = True
    recorder.observe(list(_evaluations(store).values()), NOW)  # logged, not raised
    store.away = False
    recorder.observe(list(_evaluations(store).values()), NOW + timedelta(seconds=1))
    assert {row["evaluated_at"] for row in store.tables["budget_status"]} == {NOW + timedelta(seconds=1)}
    recorder.observe([], NOW + timedelta(seconds=2))  # every budget deleted
    marker = store.tables["budget_status"][-1]
    assert (marker["budget_id"], marker["calls"], marker["limit_amount"]) == ("", 0, Decimal(0))
    assert read_status(store) == []
    assert set(marker) == set(STATUS.names)


# -- flags and budget versions --------------------------------------------------------------------


def _flag(
    key: tuple[str, str],
    state: State,
    spend: str,
    utilization: str,
    period_end: datetime | None = None,
    reason: str = "",
    version: int = 0,
) -> Flag:
    """A flag of a $10 cost budget, global or of a project."""
    return Flag(
        budget_id=key[0],
        scope_type="global" if key[1] == "" else "project",
        scope_id=key[1],
        metric="cost",
        state=state,
        spend=Decimal(spend),
        limit=Decimal(10),
        utilization=Decimal(utilization),
        remaining=max(Decimal(10) - Decimal(spend), Decimal(0)),
        period_end=period_end,
        reason=reason,
        version=version,
    )


def test_recorded_flags_are_read_back_as_the_flags_collectors_serve() -> None:
    store = MemoryStore()
    recorder = FlagRecorder(store)
    month_end = datetime(2026, 4, 1, tzinfo=UTC)
    recorder(
        [_flag(("g", ""), "warn", "8.5", "85.1234567", period_end=month_end, reason="warned", version=3)]
    )
    recorder([_flag(("p", "p1"), "block", "12", "120")])
    recorder.stop()  # flushes the queue
    (stored_warn, stored_block) = store.tables["budget_flags"]
    assert set(stored_warn) == set(FLAGS.names)
    assert str(stored_warn["utilization"]) == "85.123457" and stored_warn["version"] == 3  # rounded
    assert stored_block["period_end"] == stored_block["changed_at"]  # no period end: the time of the change
    flags = {f.key: f for f in read_flags(store)}
    # Version 0: the board that serves them numbers them.
    assert flags[("g", "")] == _flag(
        ("g", ""), "warn", "8.5", "85.123457", period_end=month_end, reason="warned"
    )
    assert flags[("p", "p1")].state == "block"
    store.insert(FLAGS, [StoredFlag.of(_flag(("g", ""), "ok", "0", "0"), NOW)])
    assert [f.key for f in read_flags(store)] == [("p", "p1")]  # back to ok: no flag


def test_budget_versions_in_memory() -> None:
    store = MemoryStore()
    budgets = BudgetStore(store)
    assert budgets.seed(_budgets()[:2]) == ["g", "p1"]
    budgets.update("g", {"limit": "20"})
    budgets.delete("p1")
    assert [(b.id, b.limit) for b in budgets.all()] == [("g", Decimal(20))]
    assert sorted((row["id"], row["version"], row["deleted"]) for row in store.tables["budgets"]) == [
        ("g", 1, False),
        ("g", 2, False),
        ("p1", 1, False),
        ("p1", 2, True),
    ]
    assert budgets.seed(_budgets()[:2]) == []  # deleted stays deleted


# -- the column mapping -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sample:
    name: str
    amount: Decimal
    at: datetime
    until: datetime | None
    count: int


def test_columns_read_by_name_and_bring_values_to_their_fields_types() -> None:
    table = Table("samples", _Sample, renamed={"amount": "amount_usd"}, scales={"amount": 2})
    assert table.names == ("name", "amount_usd", "at", "until", "count")
    row = {
        "count": "7",
        "until": None,
        "at": datetime(2026, 1, 1),
        "amount_usd": 1.5,
        "name": "x",
        "extra": 1,
    }
    assert table.read(row) == _Sample("x", Decimal(1.5), datetime(2026, 1, 1, tzinfo=UTC), None, 7)
    assert table.row(_Sample("x", Decimal("1.005"), NOW, NOW, 1)) == ["x", Decimal("1.00"), NOW, NOW, 1]
    with pytest.raises(ValueError, match="no field amount_usd"):
        Table("samples", _Sample, renamed={"amount_usd": "amount"})
    with pytest.raises(ValueError, match="no field cost"):
        Table("samples", _Sample, scales={"cost": 2})
