"""Several block observers as one: the writer has a single ``observer`` seam (writer.BlockObserver)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import pyarrow as pa
from spendgate.collector.ingest.writer import BlockObserver

log = logging.getLogger(__name__)


class Observers:
    """Tells each observer in turn; one failing does not keep the others from hearing."""

    def __init__(self, observers: Sequence[BlockObserver]) -> None:
        self._observers = tuple(observers)

    def queued(self, seq: int, block: pa.Table) -> None:
        self._each(lambda observer: observer.queued(seq, block))

    def stored(self, seqs: list[int]) -> None:
        self._each(lambda observer: observer.stored(seqs))

    def failed(self, seqs: list[int]) -> None:
        self._each(lambda observer: observer.failed(seqs))

    def _each(self, tell: Callable[[BlockObserver], None]) -> None:
        for observer in self._observers:
            try:
                tell(observer)
            except Exception:
                log.exception("block observer %s failed", type(observer).__name__)
