"""One billable call per provider call, however many spans describe it.

Several instrumentations in one process can each report the same call: the
anthropic SDK traces itself beside OpenLLMetry or OpenInference (the same
response id, in the same trace or each in a trace of its own), and a library's
model-call span can wrap another's (a Pydantic AI or LiteLLM span around an
OpenLLMetry span of the same request). Such spans are one call. Within an
export request the richest span is kept (see :func:`_richness`); across
requests each call has a stable identity, its :func:`call_key`, which the
writer deduplicates on, so a second report of a call is not stored again,
also after a restart.
"""

from __future__ import annotations

import hashlib
from typing import Protocol, TypeVar

from spendgate.collector.ingest import emitters

KEY_BYTES = 24


class CallSpan(Protocol):
    provider: str
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    response_id: str
    emitter: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    reasoning_tokens: int
    attribution: dict[str, str]


def call_key(span: CallSpan) -> bytes:
    """24 bytes naming the call: the provider's response id where the span has one (a provider
    answers each call under an id of its own), else the span's trace and span id."""
    if not span.response_id:
        return span.trace_id + span.span_id
    name = f"{span.provider}\0{span.response_id}".encode("utf-8", "replace")
    return hashlib.blake2b(name, digest_size=KEY_BYTES).digest()


def _richness(span: CallSpan) -> tuple[int, int, int]:
    """Higher is richer: the SDK's own span first, then the one that carries more of the usage."""
    fields = (
        span.input_tokens,
        span.output_tokens,
        span.cache_read_tokens,
        span.cache_write_tokens,
        span.cache_write_1h_tokens,
        span.reasoning_tokens,
    )
    return (-emitters.rank(span.emitter), sum(1 for value in fields if value), len(span.attribution))


class _Groups:
    """Union-find over span indexes, each group with the response id its members carry."""

    def __init__(self, ids: list[str]) -> None:
        self.parent = list(range(len(ids)))
        self.ids = list(ids)  # per root: the group's response id, "" while none

    def find(self, index: int) -> int:
        while self.parent[index] != index:
            self.parent[index] = self.parent[self.parent[index]]
            index = self.parent[index]
        return index

    def join(self, a: int, b: int) -> None:
        """Merge the groups of a and b, unless they carry different response ids: those answer
        different provider calls (a retry or fallback inside a library's model-call span)."""
        root_a, root_b = self.find(a), self.find(b)
        id_a, id_b = self.ids[root_a], self.ids[root_b]
        if root_a == root_b or (id_a and id_b and id_a != id_b):
            return
        low, high = min(root_a, root_b), max(root_a, root_b)
        self.parent[high] = low
        self.ids[low] = id_a or id_b


S = TypeVar("S", bound=CallSpan)


def one_per_call(spans: list[S]) -> tuple[list[tuple[S, bytes]], int]:
    """The spans to bill, each with its call key, and how many reports of a call were dropped."""
    keys = [call_key(span) for span in spans]
    if len(spans) < 2:
        return list(zip(spans, keys, strict=True)), 0
    groups = _Groups([span.response_id for span in spans])
    by_key: dict[bytes, int] = {}
    by_span: dict[bytes, int] = {}
    for index, span in enumerate(spans):
        first = by_key.setdefault(keys[index], index)
        if first != index:
            groups.join(first, index)
        by_span.setdefault(span.trace_id + span.span_id, index)
    for index, span in enumerate(spans):
        outer = by_span.get(span.trace_id + span.parent_span_id)
        if outer is not None and outer != index:
            groups.join(outer, index)  # a model-call span inside another: the same request
    members: dict[int, list[int]] = {}
    for index in range(len(spans)):
        members.setdefault(groups.find(index), []).append(index)
    if len(members) == len(spans):
        return list(zip(spans, keys, strict=True)), 0
    kept = []
    for indexes in members.values():
        best = max(indexes, key=lambda i: _richness(spans[i]))
        # The group's identity comes from a response id when any report has one, so a report
        # of the same call in a later request maps to the same key.
        keyed = next((i for i in indexes if spans[i].response_id), best)
        for index in indexes:
            if index != best:
                spans[best].attribution = {**spans[index].attribution, **spans[best].attribution}
        kept.append((spans[best], keys[keyed]))
    return kept, len(spans) - len(kept)
