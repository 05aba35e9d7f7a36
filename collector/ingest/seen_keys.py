"""The identities of calls stored recently, compact enough for millions of them.

New keys go to a set; every ``FRESH_KEYS`` of them are frozen into a level: a sorted
array of the keys' 64-bit hashes (keyed per process) beside the keys themselves (8 + 24 bytes a key,
against about 100 in a set of bytes), merged with the level before when that is not
larger, so there are about log2(n / FRESH_KEYS) levels. A lookup hashes the keys of a
request once and binary-searches each level; a hash that matches is confirmed on the
key, so no call is ever taken for another.

Levels older than the window are dropped. When the count bound forces out keys that
are still inside the window, :attr:`overflow_until` says so, and the writer asks
ClickHouse about keys it does not find here: beyond the bound deduplication gets
slower, never wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

FRESH_KEYS = 65_536
_NO_PARENT = bytes(8)  # the parent span id of a root span
# Odd multipliers drawn per process: the hashes cannot be aimed at from outside (crafted ids that
# collide would make lookups scan), and equal inputs still hash equally within the process.
_MULTIPLIERS = np.frombuffer(os.urandom(24), np.uint64) | np.uint64(1)


def _hashes(keys: np.ndarray) -> np.ndarray:
    """64-bit hashes of fixed-width keys (dtype S<width>, width a multiple of 8), vectorised."""
    words = np.ascontiguousarray(keys).view(np.uint64).reshape(len(keys), -1)
    mixed = np.zeros(len(keys), np.uint64)
    with np.errstate(over="ignore"):
        for column in range(words.shape[1]):
            part = words[:, column] * _MULTIPLIERS[column % 3]
            mixed ^= (part << np.uint64(column * 21 % 64)) | (part >> np.uint64((64 - column * 21 % 64) % 64))
            mixed *= np.uint64(0x9E3779B97F4A7C15)
    return mixed.view(np.int64)


@dataclass
class _Level:
    hashes: np.ndarray  # int64, sorted
    keys: np.ndarray  # the keys in the same order, dtype S<width>
    newest: float  # when its newest key was added (monotonic seconds)

    def __len__(self) -> int:
        return len(self.hashes)

    def find(self, hashes: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Which of the keys (an S<width> array, with their hashes) this level holds."""
        at = np.searchsorted(self.hashes, hashes)
        hit = at < len(self.hashes)
        hit[hit] = self.hashes[at[hit]] == hashes[hit]
        candidates = np.flatnonzero(hit)
        if len(candidates):
            same = self.keys[at[candidates]] == keys[candidates]
            for index in candidates[~same]:  # another key with the same hash sits first: look on
                hit[index] = self._holds(int(at[index]) + 1, hashes[index], keys[index])
        return hit

    def _holds(self, at: int, hashed: np.int64, key: np.bytes_) -> bool:
        while at < len(self.hashes) and self.hashes[at] == hashed:  # equal hashes sit together
            if self.keys[at] == key:
                return True
            at += 1
        return False


def _level(keys: np.ndarray, hashes: np.ndarray, newest: float) -> _Level:
    order = np.argsort(hashes, kind="stable")
    return _Level(hashes[order], keys[order], newest)


class SeenKeys:
    """Fixed-width keys added recently, bounded by age (``window`` seconds) and by count."""

    def __init__(self, window: float, max_keys: int, width: int = 24) -> None:
        self.window = window
        self.max_keys = max_keys
        self.width = width
        self._fresh: set[bytes] = set()
        self._fresh_newest = 0.0
        self._levels: list[_Level] = []
        # Newest moment whose keys the count bound forced out (monotonic seconds), if any.
        self.overflow_until: float | None = None

    def __len__(self) -> int:
        return len(self._fresh) + sum(len(level) for level in self._levels)

    def __contains__(self, key: bytes) -> bool:
        return bool(self.contains([key])[0])

    def nbytes(self) -> int:
        """Memory held by the levels (the fresh set is at most FRESH_KEYS keys)."""
        return sum(level.hashes.nbytes + level.keys.nbytes for level in self._levels)

    def contains(self, keys: list[bytes]) -> list[bool]:
        found = [key in self._fresh for key in keys]
        if self._levels and not all(found):
            array = np.array(keys, dtype=f"S{self.width}")
            hashes = _hashes(array)
            for level in self._levels:
                for index in np.flatnonzero(level.find(hashes, array)):
                    found[index] = True
        return found

    def overflowed(self, now: float) -> bool:
        """Whether keys still inside the window were dropped for the count bound."""
        return self.overflow_until is not None and self.overflow_until >= now - self.window

    def add(self, keys: list[bytes], now: float) -> None:
        self._fresh.update(keys)
        self._fresh_newest = now
        if len(self._fresh) >= FRESH_KEYS:
            fresh = np.array(list(self._fresh), dtype=f"S{self.width}")
            self._fresh = set()
            self._push(_level(fresh, _hashes(fresh), now))
        self._expire(now)

    def add_array(self, keys: np.ndarray, now: float) -> None:
        """Add many keys at once (an array of dtype S<width>), as the start-up reload does."""
        if len(keys):
            self._push(_level(keys, _hashes(keys), now))
        self._expire(now)

    def _push(self, level: _Level) -> None:
        self._levels.append(level)
        while len(self._levels) > 1 and len(self._levels[-2]) <= len(self._levels[-1]):
            newer = self._levels.pop()
            older = self._levels.pop()
            self._levels.append(
                _level(
                    np.concatenate([older.keys, newer.keys]),
                    np.concatenate([older.hashes, newer.hashes]),
                    max(older.newest, newer.newest),
                )
            )

    def _expire(self, now: float) -> None:
        cutoff = now - self.window
        self._levels = [level for level in self._levels if level.newest >= cutoff]
        if self._fresh and self._fresh_newest < cutoff:
            self._fresh = set()
        while len(self) > self.max_keys and self._levels:
            oldest = min(range(len(self._levels)), key=lambda i: self._levels[i].newest)
            dropped = self._levels.pop(oldest)
            self.overflow_until = max(self.overflow_until or dropped.newest, dropped.newest)


def _anonymous(links: list[tuple[bytes, bytes]], keys: list[bytes]) -> list[bool]:
    """Per row: whether its call has no response id (its key is then its trace + span id)."""
    return [key == span for (span, _), key in zip(links, keys, strict=True)]


class NestedCalls:
    """Model-call spans stored recently, by their own and by their parent's identity.

    A model-call span whose parent is one stored in an earlier request (a library's span around
    the SDK's, exported in separate requests), or that is the parent of one, reports the same
    call: it is not stored again. Two spans that both carry response ids are one call only if
    the ids are equal (the call key says so already), so a span with an id is matched against
    spans without one. Such pairs arrive seconds apart, so a short window suffices.
    """

    WINDOW_SECONDS = 600.0

    def __init__(self, window_seconds: float, max_keys: int) -> None:
        self.window = min(window_seconds, self.WINDOW_SECONDS)
        self.spans, self.parents = SeenKeys(self.window, max_keys), SeenKeys(self.window, max_keys)
        # The same for calls without a response id only.
        self.anonymous_spans = SeenKeys(self.window, max_keys)
        self.anonymous_parents = SeenKeys(self.window, max_keys)

    def covers(self, links: list[tuple[bytes, bytes]], keys: list[bytes]) -> list[bool]:
        """Per (trace + span id, trace + parent span id): nested in, or around, a stored call."""
        anonymous = _anonymous(links, keys)
        spans = [parent for _, parent in links]
        parents = [span for span, _ in links]
        inside, around = self.spans.contains(spans), self.parents.contains(parents)
        inside_anonymous = self.anonymous_spans.contains(spans)
        around_anonymous = self.anonymous_parents.contains(parents)
        return [
            (inside[i] or around[i]) if anonymous[i] else (inside_anonymous[i] or around_anonymous[i])
            for i in range(len(links))
        ]

    def add(self, links: list[tuple[bytes, bytes]], keys: list[bytes], now: float) -> None:
        anonymous = [link for link, a in zip(links, _anonymous(links, keys), strict=True) if a]
        for spans, parents, rows in (
            (self.spans, self.parents, links),
            (self.anonymous_spans, self.anonymous_parents, anonymous),
        ):
            spans.add([span for span, _ in rows], now)
            parents.add([parent for _, parent in rows if not parent.endswith(_NO_PARENT)], now)


@dataclass
class _Queued:
    future: Any
    anonymous: bool


class InFlightLinks:
    """The links of rows queued for insert, so a report of the same call that arrives meanwhile
    (another request, the other span of a nested pair) waits for that insert instead."""

    def __init__(self) -> None:
        self._spans: dict[bytes, _Queued] = {}
        self._parents: dict[bytes, _Queued] = {}

    def covering(self, link: tuple[bytes, bytes], key: bytes) -> Any:
        """The future of a queued call that this row is nested in or wraps, or None."""
        span, parent = link
        queued = self._spans.get(parent) or self._parents.get(span)
        if queued is None or not (key == span or queued.anonymous):
            return None  # two response ids that differ are two calls
        return queued.future

    def add(self, links: list[tuple[bytes, bytes]], keys: list[bytes], future: Any) -> None:
        for (span, parent), anonymous in zip(links, _anonymous(links, keys), strict=True):
            self._spans[span] = _Queued(future, anonymous)
            if not parent.endswith(_NO_PARENT):
                self._parents[parent] = _Queued(future, anonymous)

    def remove(self, links: list[tuple[bytes, bytes]]) -> None:
        for span, parent in links:
            self._spans.pop(span, None)
            self._parents.pop(parent, None)
