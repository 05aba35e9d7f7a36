"""How the Anthropic SDK is metered: ``messages.create`` (stream or not) and the ``messages.stream`` helper.

Anthropic's ``input_tokens`` leaves cache reads and cache writes out; the
span's input follows the semantic convention and counts them in. Streams
report input and cache counts on ``message_start`` and the output count on
``message_delta``. The ``messages.stream(...)`` helper does not go through
``create``, so it is metered on its own: the span ends when the helper's
``with`` block exits, with the usage of the message received so far.
"""

from __future__ import annotations

from typing import Any

import wrapt
from opentelemetry.trace import Tracer

from .. import stream_guard, wrappers
from ..recorder import CACHE_WRITE_LIFETIME_ATTRIBUTE, LLMCall
from ..wrappers import Surface, int_or_none

PROVIDER = "anthropic"


def _start(tracer: Tracer, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall:
    return LLMCall(tracer, PROVIDER, "chat", str(kwargs.get("model") or ""))


def apply_usage(call: LLMCall, usage: Any) -> None:
    """Record an Anthropic usage object (either a Message's or a stream event's); later values win."""
    if usage is None:
        return
    uncached = int_or_none(getattr(usage, "input_tokens", None))
    cache_read = int_or_none(getattr(usage, "cache_read_input_tokens", None))
    cache_write = int_or_none(getattr(usage, "cache_creation_input_tokens", None))
    if cache_read is not None:
        call.cache_read_tokens = cache_read
    if cache_write is not None:
        call.cache_write_tokens = cache_write
    if uncached is not None:
        call.input_tokens = uncached + (call.cache_read_tokens or 0) + (call.cache_write_tokens or 0)
    output = int_or_none(getattr(usage, "output_tokens", None))
    if output is not None:
        call.output_tokens = output
    split = getattr(usage, "cache_creation", None)
    if split is not None:
        # One-hour cache writes cost more than five-minute ones.
        for lifetime in ("5m", "1h"):
            count = int_or_none(getattr(split, f"ephemeral_{lifetime}_input_tokens", None))
            if count:
                call.set_attribute(CACHE_WRITE_LIFETIME_ATTRIBUTE.format(lifetime=lifetime), count)


def _apply_message(call: LLMCall, message: Any) -> None:
    call.response_id = message.id
    call.response_model = message.model
    if message.stop_reason:
        call.finish_reasons = [message.stop_reason]
    apply_usage(call, message.usage)


def _on_event(call: LLMCall, event: Any) -> bool:
    kind = getattr(event, "type", None)
    if kind == "message_start":
        call.response_id = event.message.id
        call.response_model = event.message.model
        apply_usage(call, event.message.usage)
    elif kind == "message_delta":
        apply_usage(call, event.usage)
        stop_reason = getattr(event.delta, "stop_reason", None)
        if stop_reason:
            call.finish_reasons = [stop_reason]
    return True


def event_text(event: Any) -> str | None:
    """The output a stream event adds: text, thinking or tool-input JSON."""
    if getattr(event, "type", None) != "content_block_delta":
        return None
    delta = event.delta
    text = getattr(delta, "text", None) or getattr(delta, "thinking", None)
    return text or getattr(delta, "partial_json", None)


MESSAGES = Surface(start=_start, on_response=_apply_message, on_chunk=_on_event, chunk_text=event_text)


# --- the messages.stream(...) helper -----------------------------------------------------------------


def _finish_helper(call: LLMCall, stream: Any, exc: BaseException | None) -> None:
    if call.finished:
        return
    try:
        snapshot = stream.current_message_snapshot if stream is not None else None
        if snapshot is not None:
            _apply_message(call, snapshot)
    except Exception:  # no message arrived before the stream ended
        pass
    if exc is not None:
        call.fail(exc)
    else:
        call.finish()


class _StreamManagerProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """The helper's manager; the call is metered from ``__enter__`` to ``__exit__``."""

    def __init__(self, wrapped: Any, tracer: Tracer, kwargs: dict[str, Any]) -> None:
        super().__init__(wrapped)
        self._self_tracer = tracer
        self._self_kwargs = kwargs
        self._self_call: LLMCall | None = None
        self._self_stream: Any = None

    def _self_begin(self) -> LLMCall | None:
        if wrappers.suppressed():
            return None
        try:
            call = _start(self._self_tracer, None, (), self._self_kwargs)
            call.streaming = True
        except Exception:
            wrappers.log_once("anthropic stream start")
            return None
        wrappers.before_call(call, self._self_kwargs)
        return call

    def __enter__(self) -> Any:
        call = self._self_call = self._self_begin()
        try:
            self._self_stream = self.__wrapped__.__enter__()
        except BaseException as exc:
            if call is not None:
                call.fail(exc)
            raise
        self._self_limit(wrappers.SyncStreamProxy)
        return self._self_stream

    def _self_limit(self, proxy: type[wrappers.SyncStreamProxy | wrappers.AsyncStreamProxy]) -> None:
        """In a run with a hard limit, meter the helper's raw event stream, which every way of reading
        the helper (iteration, ``text_stream``, ``get_final_message``) goes through."""
        call, stream = self._self_call, self._self_stream
        if call is None:
            return
        meter = stream_guard.meter_for(call, event_text, self._self_kwargs)
        if meter is not None and hasattr(stream, "_raw_stream"):
            stream._raw_stream = proxy(stream._raw_stream, call, MESSAGES, meter)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            if self._self_call is not None:
                _finish_helper(self._self_call, self._self_stream, exc)

    async def __aenter__(self) -> Any:
        call = self._self_call = self._self_begin()
        try:
            self._self_stream = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            if call is not None:
                call.fail(exc)
            raise
        self._self_limit(wrappers.AsyncStreamProxy)
        return self._self_stream

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            if self._self_call is not None:
                _finish_helper(self._self_call, self._self_stream, exc)


def stream_helper(tracer: Tracer) -> Any:
    """A wrapper for ``Messages.stream`` / ``AsyncMessages.stream`` (both return a manager at once)."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        try:
            return _StreamManagerProxy(manager, tracer, dict(kwargs))
        except Exception:
            wrappers.log_once("anthropic stream")
            return manager

    return wrapper
