"""Record model calls cheaply on the caller's thread; build their spans in the background.

The caller pays for two clock reads, a context lookup and a deque append
(:class:`LLMCall`). A daemon thread turns finished calls into OpenTelemetry
spans with the GenAI semantic-convention attributes, through the public
tracer API, with the call's own start and end times and parent context.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from .attribution import attribution_of

logger = logging.getLogger("spendgate.instrumentation")

_DRAIN_INTERVAL_S = 0.05


# Cache writes by lifetime (Anthropic prices one hour above five minutes), as span attributes.
CACHE_WRITE_LIFETIME_ATTRIBUTE = "spendgate.usage.cache_creation.ephemeral_{lifetime}.input_tokens"
CACHE_WRITE_1H_ATTRIBUTE = CACHE_WRITE_LIFETIME_ATTRIBUTE.format(lifetime="1h")


class LLMCall:
    """One model call, filled in by an SDK patch and finished exactly once."""

    __slots__ = (
        "tracer",
        "context",
        "provider",
        "operation",
        "request_model",
        "server_address",
        "server_port",
        "start_ns",
        "end_ns",
        "first_chunk_ns",
        "response_model",
        "response_id",
        "finish_reasons",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "usage_estimated",
        "error_type",
        "streaming",
        "attributes",
        "events",
        "state",
        "budget",
        "finished",
    )

    def __init__(
        self, tracer: Tracer, provider: str, operation: str, request_model: str, streaming: bool = False
    ) -> None:
        self.tracer = tracer
        self.context = otel_context.get_current()
        self.provider = provider
        self.operation = operation
        self.request_model = request_model
        self.streaming = streaming
        self.server_address: str | None = None
        self.server_port: int | None = None
        self.first_chunk_ns = 0
        self.end_ns = 0
        self.response_model: str | None = None
        self.response_id: str | None = None
        self.finish_reasons: list[str] | None = None
        # Semantic-convention meaning: input includes cache reads and writes,
        # output includes reasoning. None means the provider did not say.
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cache_read_tokens: int | None = None
        self.cache_write_tokens: int | None = None
        self.reasoning_tokens: int | None = None
        self.usage_estimated = False
        self.error_type: str | None = None
        self.attributes: dict[str, Any] | None = None  # extra span attributes
        self.events: list[tuple[str, dict[str, Any], int]] | None = None
        self.state: Any = None  # private to the SDK patch, e.g. stream accumulators
        self.budget: Any = None  # set by the budget guard when the call must be counted or settled
        self.finished = False
        self.start_ns = time.time_ns()

    def set_attribute(self, key: str, value: Any) -> None:
        if self.attributes is None:
            self.attributes = {}
        self.attributes[key] = value

    def add_event(self, name: str, attributes: dict[str, Any]) -> None:
        if self.events is None:
            self.events = []
        self.events.append((name, attributes, time.time_ns()))

    def mark_first_chunk(self) -> None:
        if not self.first_chunk_ns:
            self.first_chunk_ns = time.time_ns()

    def fail(self, exc: BaseException) -> None:
        self.error_type = type(exc).__qualname__
        self.finish()

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.end_ns = time.time_ns()
        if self.budget is not None:
            _settle(self)
        RECORDER.submit(self)


class Settlement(Protocol):
    def after_call(self, call: LLMCall) -> None:
        """The call ended (``call.budget`` was set by the budget check): count it, settle reservations."""


# Registered by the budget enforcement with the guard in force: the recorder knows no budget policy.
_settlement: Settlement | None = None


def settle_with(settlement: Settlement | None) -> None:
    global _settlement
    _settlement = settlement


def _settle(call: LLMCall) -> None:
    settlement = _settlement
    if settlement is None:
        return
    try:
        settlement.after_call(call)
    except Exception:
        log_once("budget")


def span_attributes(call: LLMCall) -> dict[str, Any]:
    """GenAI semantic-convention attributes of a finished call, plus attribution."""
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": call.operation,
        "gen_ai.provider.name": call.provider,
        "gen_ai.request.model": call.request_model,
    }
    if call.response_model:
        attrs["gen_ai.response.model"] = call.response_model
    if call.response_id:
        attrs["gen_ai.response.id"] = call.response_id
    if call.finish_reasons:
        attrs["gen_ai.response.finish_reasons"] = call.finish_reasons
    if call.server_address:
        attrs["server.address"] = call.server_address
    if call.server_port:
        attrs["server.port"] = call.server_port
    for key, value in (
        ("gen_ai.usage.input_tokens", call.input_tokens),
        ("gen_ai.usage.output_tokens", call.output_tokens),
        ("gen_ai.usage.cache_read.input_tokens", call.cache_read_tokens),
        ("gen_ai.usage.cache_creation.input_tokens", call.cache_write_tokens),
        ("gen_ai.usage.reasoning.output_tokens", call.reasoning_tokens),
    ):
        if value is not None:
            attrs[key] = value
    if call.usage_estimated:
        attrs["spendgate.usage.estimated"] = True
    if call.streaming:
        attrs["gen_ai.request.stream"] = True
        if call.first_chunk_ns:
            attrs["gen_ai.response.time_to_first_chunk"] = (call.first_chunk_ns - call.start_ns) / 1e9
    if call.error_type:
        attrs["error.type"] = call.error_type
    if call.attributes:
        attrs.update(call.attributes)
    attrs.update(attribution_of(call.context))
    return attrs


def build_span(call: LLMCall) -> None:
    span = call.tracer.start_span(
        f"{call.operation} {call.request_model}".rstrip(),
        context=call.context,
        kind=SpanKind.CLIENT,
        attributes=span_attributes(call),
        start_time=call.start_ns,
    )
    for name, attributes, timestamp in call.events or ():
        span.add_event(name, attributes, timestamp)
    if call.error_type:
        span.set_status(Status(StatusCode.ERROR, call.error_type))
    span.end(end_time=call.end_ns)


_logged: set[str] = set()


def log_once(where: str) -> None:
    """Log the current exception the first time ``where`` fails."""
    if where not in _logged:
        _logged.add(where)
        logger.warning(
            "spendgate instrumentation error in %s (the call itself is unaffected)", where, exc_info=True
        )


class SpanRecorder:
    """A queue of finished calls drained by one daemon thread."""

    def __init__(self) -> None:
        self._calls: deque[LLMCall] = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._failed_once = False
        atexit.register(self.flush)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    def submit(self, call: LLMCall) -> None:
        self._calls.append(call)
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="spendgate-spans", daemon=True)
                thread.start()
                self._thread = thread

    def _after_fork(self) -> None:
        # The drain thread does not survive fork; the child starts its own.
        self._thread = None
        self._lock = threading.Lock()

    def _run(self) -> None:
        while True:
            self._wake.wait(_DRAIN_INTERVAL_S)
            self._wake.clear()
            # Under the lock: flush() must not return while a span taken from the queue here
            # is still being built.
            with self._lock:
                self.drain()

    def drain(self) -> int:
        """Build spans for every queued call; returns how many."""
        built = 0
        calls = self._calls
        while calls:
            try:
                call = calls.popleft()
            except IndexError:
                break
            try:
                build_span(call)
                built += 1
            except Exception:
                if not self._failed_once:
                    self._failed_once = True
                    logger.exception("spendgate could not record an LLM span; later failures are not logged")
        return built

    def flush(self) -> None:
        """Build every pending span now (on the calling thread)."""
        with self._lock:
            self.drain()


RECORDER = SpanRecorder()
