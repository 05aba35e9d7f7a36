"""cost.recorded from the ingest path: the writer's blocks, announced only once they are stored."""

from __future__ import annotations

import pyarrow as pa
from spendgate.collector.events.bus import Publisher
from spendgate.collector.events.costs import cost_recorded


class CostEvents:
    """A ``writer.BlockObserver``: a block queued is remembered, stored is published, failed is
    forgotten (its calls come back in the exporter's retry, as a new block)."""

    def __init__(self, bus: Publisher) -> None:
        self._bus = bus
        self._blocks: dict[int, pa.Table] = {}

    def queued(self, seq: int, block: pa.Table) -> None:
        self._blocks[seq] = block

    def stored(self, seqs: list[int]) -> None:
        blocks = [block for seq in seqs if (block := self._blocks.pop(seq, None)) is not None]
        if blocks:
            # Rows become events on the bus thread, not under the writer's insert lock.
            self._bus.publish(lambda: pa.concat_tables([cost_recorded(block) for block in blocks]))

    def failed(self, seqs: list[int]) -> None:
        for seq in seqs:
            self._blocks.pop(seq, None)
