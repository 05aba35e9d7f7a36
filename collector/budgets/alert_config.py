"""The alert configuration at run time: the config file's ``alerts`` section until one is stored.

``PUT /api/v1/alerts/config`` stores a new version in ClickHouse (``alert_config``, versioned like
budgets). The alert manager and the notifier ask :meth:`AlertConfigStore.current` each time they
use it, so a change applies within ``max_age`` seconds without a restart, in every collector and
``spendgate evaluator`` on the same database, and survives restarts.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from pydantic import ValidationError
from spendgate.collector.config import Alerts
from spendgate.collector.tables import Records, Table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredAlertConfig:
    """One version of the alert configuration, as the alert_config table holds it."""

    version: int
    spec: str  # the Alerts model as JSON
    changed_by: str
    changed_at: datetime


ALERT_CONFIG = Table("alert_config", StoredAlertConfig)


class AlertSettingsSource(Protocol):
    def current(self) -> Alerts:
        """The alert settings that hold now."""
        ...


class FixedAlertSettings:
    """Settings that never change (no store: unit tests, tools)."""

    def __init__(self, settings: Alerts) -> None:
        self._settings = settings

    def current(self) -> Alerts:
        return self._settings


class AlertConfigStore:
    def __init__(self, storage: Records, default: Alerts, max_age: float = 2.0) -> None:
        self._storage = storage
        self.default = default  # the config file's section
        self._max_age = max_age
        self._lock = threading.Lock()  # versions of concurrent changes in this process
        self._cache: tuple[float, Alerts, StoredAlertConfig | None] | None = None

    def stored(self) -> StoredAlertConfig | None:
        """The newest stored version; None while the config file's section holds."""
        rows = self._storage.records(ALERT_CONFIG, "budgets/alert_config.sql")
        return rows[0] if rows else None

    def effective(self) -> tuple[Alerts, StoredAlertConfig | None]:
        """The settings that hold now and the stored version they come from (None: the file)."""
        cached = self._cache
        if cached is not None and time.monotonic() - cached[0] <= self._max_age:
            return cached[1], cached[2]
        try:
            stored = self.stored()
        except Exception as exc:  # the store is away: keep what was read last
            log.warning("could not read the alert configuration: %s", exc)
            return (cached[1], cached[2]) if cached is not None else (self.default, None)
        settings = self.default
        if stored is not None:
            try:
                settings = Alerts.model_validate_json(stored.spec)
            except ValidationError as exc:  # written by a newer version, or by hand
                log.warning("alert configuration v%d unreadable, using the file's: %s", stored.version, exc)
                stored = None
        self._cache = (time.monotonic(), settings, stored)
        return settings, stored

    def current(self) -> Alerts:
        return self.effective()[0]

    def put(self, settings: Alerts, by: str) -> StoredAlertConfig:
        """Store ``settings`` as the newest version; every reader has it within ``max_age``."""
        with self._lock:
            previous = self.stored()
            now = datetime.now(UTC)
            stored = StoredAlertConfig(
                version=(previous.version if previous else 0) + 1,
                spec=settings.model_dump_json(),
                changed_by=by,
                changed_at=now.replace(microsecond=now.microsecond // 1000 * 1000),  # the column's ms
            )
            self._storage.insert(ALERT_CONFIG, [stored])
            self._cache = (time.monotonic(), settings, stored)
        return stored
