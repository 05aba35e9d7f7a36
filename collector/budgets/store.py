"""Budgets in ClickHouse: every change is a new version, so collectors keep no state.

Budgets from the config file (``extensions.budgets.defaults``) are written on
start-up only when no budget with that id exists yet: a limit changed through
the API or CLI stays changed across restarts, and deleting a default keeps it
deleted.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError
from spendgate.collector.budgets.model import Budget
from spendgate.collector.tables import Columns, Records, Table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredBudget:
    """One version of a budget, as the budgets table holds it."""

    id: str
    version: int
    deleted: bool
    spec: str  # the Budget as JSON
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class _Latest:
    id: str
    version: int  # the highest, deleted versions included


@dataclass(frozen=True)
class _Created:
    id: str
    created_at: datetime


BUDGETS = Table("budgets", StoredBudget)
_LATEST = Columns(_Latest)
_CREATED = Columns(_Created)


class BudgetNotFound(KeyError):
    """No budget with that id."""


class BudgetConflict(ValueError):
    """A budget with that id already exists."""


class BudgetStore:
    def __init__(self, storage: Records) -> None:
        self._storage = storage
        self._lock = threading.Lock()  # versions of concurrent changes in this process
        self._cache: tuple[float, list[Budget]] | None = None
        self.broken: dict[str, str] = {}  # id -> why a stored spec could not be read

    def all(self, max_age: float = 0.0) -> list[Budget]:
        """Every budget, newest versions; ``max_age`` seconds of caching."""
        cached = self._cache
        if cached is not None and time.monotonic() - cached[0] <= max_age:
            return cached[1]
        budgets: list[Budget] = []
        broken: dict[str, str] = {}
        for stored in self._storage.records(BUDGETS, "budgets/list_budgets.sql"):
            try:
                budgets.append(Budget.model_validate_json(stored.spec))
            except ValidationError as exc:  # written by a newer version, or by hand
                broken[stored.id] = str(exc).splitlines()[0]
        for budget_id in broken.keys() - self.broken.keys():  # once, not on every read
            log.warning("budget %r is stored but unreadable, it is skipped: %s", budget_id, broken[budget_id])
        self.broken = broken
        self._cache = (time.monotonic(), budgets)
        return budgets

    def get(self, budget_id: str) -> Budget:
        for budget in self.all():
            if budget.id == budget_id:
                return budget
        raise BudgetNotFound(budget_id)

    def history(self, budget_id: str) -> list[StoredBudget]:
        """Every version of a budget, deleted ones included, oldest first; BudgetNotFound if none."""
        versions = self._storage.records(BUDGETS, "budgets/budget_history.sql", {"id": budget_id})
        if not versions:
            raise BudgetNotFound(budget_id)
        return versions

    def created(self) -> dict[str, datetime]:
        """When each budget was created (its first version since it was last deleted)."""
        rows = self._storage.records(_CREATED, "budgets/budget_created.sql")
        return {row.id: row.created_at for row in rows}

    def _versions(self) -> dict[str, int]:
        return {
            latest.id: latest.version
            for latest in self._storage.records(_LATEST, "budgets/budget_versions.sql")
        }

    def _write(self, budget_id: str, spec: str, deleted: bool, by: str) -> None:
        version = self._versions().get(budget_id, 0) + 1
        self._storage.insert(
            BUDGETS, [StoredBudget(budget_id, version, deleted, spec, by, datetime.now(UTC))]
        )
        self._cache = None

    def create(self, budget: Budget, by: str = "api") -> Budget:
        with self._lock:
            if any(existing.id == budget.id for existing in self.all()):
                raise BudgetConflict(f"a budget with id {budget.id!r} exists")
            self._write(budget.id, budget.model_dump_json(), False, by)
        return budget

    def put(self, budget: Budget, by: str = "api") -> Budget:
        """Create or replace."""
        with self._lock:
            self._write(budget.id, budget.model_dump_json(), False, by)
        return budget

    def update(self, budget_id: str, changes: dict[str, object], by: str = "api") -> Budget:
        with self._lock:
            current = self.get(budget_id)
            merged = json.loads(current.model_dump_json())
            for key in changes:  # a change under a seed name (limit_usd) replaces the field (limit)
                merged.pop(Budget.field_of(key), None)
            merged.update(changes)
            merged["id"] = budget_id
            budget = Budget.model_validate(merged)
            self._write(budget_id, budget.model_dump_json(), False, by)
        return budget

    def delete(self, budget_id: str, by: str = "api") -> None:
        with self._lock:
            current = self.get(budget_id)
            self._write(budget_id, current.model_dump_json(), True, by)

    def seed(self, defaults: list[Budget]) -> list[str]:
        """Write the config's budgets whose ids were never stored; returns their ids."""
        with self._lock:
            known = self._versions()
            rows: list[StoredBudget] = []  # one insert for all (a start seeds about ten)
            now = datetime.now(UTC)
            for budget in defaults:
                if budget.id not in known:
                    version = 1 + sum(row.id == budget.id for row in rows)
                    rows.append(
                        StoredBudget(budget.id, version, False, budget.model_dump_json(), "config", now)
                    )
            if rows:
                self._storage.insert(BUDGETS, rows)
                self._cache = None
        return [row.id for row in rows]
