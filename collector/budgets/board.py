"""Enforcement flags: the state of every budget scope, versioned, pushed to watchers.

The board holds the current flag of every (budget, scope id) that is not ok,
plus the limits agents enforce themselves (per request, per run). Every change
bumps the board's version and wakes the watchers (gRPC ``Watch`` streams),
which send the whole snapshot: it is small, and a watcher that missed a
change can never end up with a stale table.

Scopes paused by hand (``pauses.py``) are a part of their own
(:meth:`FlagBoard.set_pauses`): a full evaluation (``replace_all``) replaces
the budget flags and leaves the pauses alone; snapshots and :meth:`flags`
carry both.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from spendgate.collector.budgets.model import Budget

from spendgate.flag import Flag, Key


@dataclass(frozen=True)
class Snapshot:
    version: int
    flags: tuple[Flag, ...]  # the ones that are not ok
    limits: tuple[Budget, ...]  # per-request and per-run budgets
    generated_at: datetime | None = None


@dataclass
class _Watcher:
    loop: asyncio.AbstractEventLoop
    event: asyncio.Event = field(default_factory=asyncio.Event)


class FlagBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flags: dict[Key, Flag] = {}
        self._pauses: dict[tuple[str, str], Flag] = {}  # (scope type, scope id) -> its pause flag
        self._limits: tuple[Budget, ...] = ()
        self._version = 0
        self._watchers: list[_Watcher] = []
        self._listeners: list[Any] = []  # callables(changed flags), e.g. persistence

    @property
    def version(self) -> int:
        return self._version

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(self._version, (*self._flags.values(), *self._pauses.values()), self._limits)

    def flag(self, key: Key) -> Flag | None:
        return self._flags.get(key)

    def flags(self) -> list[Flag]:
        with self._lock:
            return [*self._flags.values(), *self._pauses.values()]

    def pause_of(self, scopes: list[tuple[str, str]]) -> Flag | None:
        """The pause flag of the first of these scopes that is paused (global always applies)."""
        pauses = self._pauses
        if not pauses:
            return None
        for scope in [("global", ""), *scopes]:
            if scope in pauses:
                return pauses[scope]
        return None

    def set_pauses(self, flags: list[Flag]) -> bool:
        """Replace the pause flags (every paused scope); True when that changed them (watchers wake)."""
        with self._lock:
            current = self._pauses
            wanted = {(f.scope_type, f.scope_id): f for f in flags}
            if wanted.keys() == current.keys() and all(f.same_as(current[k]) for k, f in wanted.items()):
                return False
            self._version += 1
            kept = {k: current[k] for k, f in wanted.items() if f.same_as(current.get(k))}
            self._pauses = {k: kept.get(k) or replace(f, version=self._version) for k, f in wanted.items()}
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher.loop.call_soon_threadsafe(watcher.event.set)
        return True

    def add_listener(self, listener: Any) -> None:
        self._listeners.append(listener)

    def update(
        self, flags: list[Flag], replace_all: bool = False, limits: tuple[Budget, ...] | None = None
    ) -> list[Flag]:
        """Apply new flag values; returns the flags that changed (with their new version).

        ``replace_all`` drops flags not in ``flags`` (a full evaluation). Flags in
        state ok are dropped too: no flag means ok.
        """
        changed: list[Flag] = []
        with self._lock:
            version = self._version + 1  # one version per update, shared by what it changes
            seen = set()
            for flag in flags:
                seen.add(flag.key)
                current = self._flags.get(flag.key)
                if flag.state == "ok":
                    if current is not None:
                        del self._flags[flag.key]
                        changed.append(replace(flag, version=version))
                    continue
                if flag.same_as(current):
                    assert current is not None
                    # Keep the spend figures fresh without waking anyone.
                    self._flags[flag.key] = replace(flag, version=current.version)
                    continue
                self._flags[flag.key] = updated = replace(flag, version=version)
                changed.append(updated)
            if replace_all:
                for key in [key for key in self._flags if key not in seen]:
                    gone = self._flags.pop(key)
                    changed.append(
                        replace(gone, state="ok", reason="budget removed or paused", version=version)
                    )
            limits_changed = limits is not None and limits != self._limits
            if limits_changed:
                assert limits is not None
                self._limits = limits
            watchers: list[_Watcher] = []
            if changed or limits_changed:
                self._version = version
                watchers = list(self._watchers)
        for watcher in watchers:
            watcher.loop.call_soon_threadsafe(watcher.event.set)
        if changed:
            for listener in self._listeners:
                listener(changed)
        return changed

    async def watch(self) -> Any:
        """Yield a snapshot now and after every change, for as long as the caller iterates."""
        watcher = _Watcher(asyncio.get_running_loop())
        with self._lock:
            self._watchers.append(watcher)
        try:
            sent = -1
            while True:
                snapshot = self.snapshot()
                if snapshot.version != sent:
                    sent = snapshot.version
                    yield snapshot
                await watcher.event.wait()
                watcher.event.clear()
        finally:
            with self._lock:
                self._watchers.remove(watcher)

    @property
    def watchers(self) -> int:
        return len(self._watchers)
