"""Shared wrapper machinery for every SDK patch.

A patch describes one SDK surface with a :class:`Surface`: how to start an
:class:`LLMCall` from the request, how to read usage from a response, and,
for streams, how to read each chunk. The wrappers here keep the agent safe:
the wrapped method's result and exceptions pass through untouched, errors
inside instrumentation are logged once and swallowed, and a call made while
another instrumented call is in progress (an SDK wrapping another SDK) is
not recorded twice.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import wrapt
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, get_current
from opentelemetry.trace import Tracer

from . import enforcement
from .recorder import LLMCall, log_once
from .stream_guard import ChunkText, StreamMeter, meter_for

logger = logging.getLogger("spendgate.instrumentation")

_SUPPRESS_KEY_PLAIN = "suppress_instrumentation"  # the older spelling, still honoured by contrib
# True while an instrumented call is running in this context.
_IN_CALL: contextvars.ContextVar[bool] = contextvars.ContextVar("spendgate_in_llm_call", default=False)


StartFn = Callable[[Tracer, Any, tuple[Any, ...], dict[str, Any]], LLMCall]
ResponseFn = Callable[[LLMCall, Any], None]
ChunkFn = Callable[[LLMCall, Any], bool]  # False hides the chunk from the caller


@dataclass(frozen=True)
class Surface:
    """One SDK method and how to meter it."""

    start: StartFn
    on_response: ResponseFn
    on_chunk: ChunkFn | None = None
    on_stream_end: ResponseFn | None = None  # called with the stream object before the span ends
    is_stream: Callable[[dict[str, Any], Any], bool] | None = None
    chunk_text: ChunkText | None = None  # a chunk's output text, to stop a stream at a run's limit


def suppressed() -> bool:
    """True inside another instrumented call, or where OpenTelemetry instrumentation is switched off."""
    if _IN_CALL.get():
        return True
    ctx = get_current()  # one lookup for both suppression keys (this runs on every call)
    return bool(ctx.get(_SUPPRESS_INSTRUMENTATION_KEY) or ctx.get(_SUPPRESS_KEY_PLAIN))


def before_call(call: LLMCall, request: dict[str, Any]) -> None:
    """The budget check; raises BudgetExceeded for the caller when a budget blocks the call.

    A blocked call is still recorded: a span with zero usage (so zero cost),
    ``error.type=BudgetExceeded`` and the reason.
    """
    try:
        enforcement.before_call(call, request)
    except enforcement.BudgetExceeded as exc:
        call.input_tokens = call.output_tokens = 0
        call.set_attribute("spendgate.blocked", True)
        call.set_attribute("spendgate.blocked.reason", str(exc))
        call.fail(exc)
        raise
    except Exception:
        log_once("budget")


def _begin(
    tracer: Tracer, surface: Surface, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> LLMCall | None:
    if suppressed():
        return None
    try:
        call = surface.start(tracer, instance, args, kwargs)
    except Exception:
        log_once("request")
        return None
    before_call(call, kwargs)  # may raise BudgetExceeded: that is meant for the caller
    return call


class running_call:  # noqa: N801 - a context manager used like a function
    """Marks an instrumented call in progress, so SDK calls made inside it are not metered again."""

    def __enter__(self) -> None:
        self._token = _IN_CALL.set(True)

    def __exit__(self, *exc_info: object) -> None:
        _IN_CALL.reset(self._token)


def begin(
    tracer: Tracer, surface: Surface, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> LLMCall | None:
    """Start metering a call; None when it is not to be metered. May raise BudgetExceeded."""
    return _begin(tracer, surface, instance, args, kwargs)


def _streaming(surface: Surface, kwargs: dict[str, Any], result: Any) -> bool:
    if surface.on_chunk is None:
        return False
    if surface.is_stream is not None:
        return surface.is_stream(kwargs, result)
    # Raw-response wrappers of a stream are not iterable themselves; they are left alone.
    cls = type(result)
    return bool(kwargs.get("stream")) and (hasattr(cls, "__next__") or hasattr(cls, "__anext__"))


def _complete(surface: Surface, call: LLMCall, kwargs: dict[str, Any], result: Any, is_async: bool) -> Any:
    try:
        if _streaming(surface, kwargs, result):
            call.streaming = True
            proxy = AsyncStreamProxy if is_async else SyncStreamProxy
            return proxy(result, call, surface, meter_for(call, surface.chunk_text, kwargs))
        surface.on_response(call, result)
    except Exception:
        log_once("response")
    call.finish()
    return result


def sync_wrapper(tracer: Tracer, surface: Surface) -> Callable[..., Any]:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        call = _begin(tracer, surface, instance, args, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        token = _IN_CALL.set(True)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            _IN_CALL.reset(token)
        return _complete(surface, call, kwargs, result, is_async=False)

    return wrapper


def async_wrapper(tracer: Tracer, surface: Surface) -> Callable[..., Any]:
    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        call = _begin(tracer, surface, instance, args, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        token = _IN_CALL.set(True)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            _IN_CALL.reset(token)
        return _complete(surface, call, kwargs, result, is_async=True)

    return wrapper


class _StreamProxyBase(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(
        self, wrapped: Any, call: LLMCall, surface: Surface, meter: StreamMeter | None = None
    ) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_surface = surface
        self._self_meter = meter  # set only in a run with a hard per-run limit
        self._self_iterator: Any = None  # the wrapped object's iterator, for iterables that are not iterators

    def _self_observe(self, chunk: Any) -> bool:
        call = self._self_call
        call.mark_first_chunk()
        try:
            return self._self_surface.on_chunk(call, chunk)  # type: ignore[misc]
        except Exception:
            log_once("stream chunk")
            return True

    def _self_overrun(self, chunk: Any) -> enforcement.BudgetExceeded | None:
        try:
            return self._self_meter.observe(chunk)  # type: ignore[union-attr]
        except Exception:
            log_once("stream limit")
            self._self_meter = None
            return None

    def _self_cut(self, exc: enforcement.BudgetExceeded) -> None:
        """The run's limit was crossed mid-stream (the SDK's stream is closed): end the span with the
        usage seen, counted into the run, marked terminated."""
        meter = self._self_meter
        if meter is not None and not self._self_call.finished:
            try:
                meter.settle(self._self_call)
            except Exception:
                log_once("stream limit")
        self._self_end(exc)

    def _self_end(self, exc: BaseException | None = None) -> None:
        call = self._self_call
        if call.finished:
            return
        if self._self_surface.on_stream_end is not None:
            try:
                self._self_surface.on_stream_end(call, self.__wrapped__)
            except Exception:
                log_once("stream end")
        if exc is not None:
            call.fail(exc)
        else:
            call.finish()

    def __del__(self) -> None:
        # A stream the caller abandoned still ends its span with the usage seen so far.
        with contextlib.suppress(Exception):
            self._self_end()


class SyncStreamProxy(_StreamProxyBase):
    """The SDK's stream, observed chunk by chunk; iteration, ``with`` and ``close`` behave as before."""

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        iterator = self._self_iterator
        if iterator is None:
            wrapped = self.__wrapped__
            iterator = self._self_iterator = wrapped if hasattr(type(wrapped), "__next__") else iter(wrapped)
        while True:
            try:
                chunk = next(iterator)
            except StopIteration:
                self._self_end()
                raise
            except BaseException as exc:
                self._self_end(exc)
                raise
            visible = self._self_observe(chunk)
            if self._self_meter is not None:
                overrun = self._self_overrun(chunk)
                if overrun is not None:
                    with contextlib.suppress(Exception):
                        self.__wrapped__.close()  # drops the connection: the provider stops generating
                    self._self_cut(overrun)
                    raise overrun
            if visible:
                return chunk

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_end()

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end()


class AsyncStreamProxy(_StreamProxyBase):
    """The async twin of :class:`SyncStreamProxy`."""

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        iterator = self._self_iterator
        if iterator is None:
            wrapped = self.__wrapped__
            iterator = wrapped if hasattr(type(wrapped), "__anext__") else wrapped.__aiter__()
            self._self_iterator = iterator
        while True:
            try:
                chunk = await iterator.__anext__()
            except StopAsyncIteration:
                self._self_end()
                raise
            except BaseException as exc:
                self._self_end(exc)
                raise
            visible = self._self_observe(chunk)
            if self._self_meter is not None:
                overrun = self._self_overrun(chunk)
                if overrun is not None:
                    await _aclose(self.__wrapped__)
                    self._self_cut(overrun)
                    raise overrun
            if visible:
                return chunk

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_end()

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_end()

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_end()


async def _aclose(stream: Any) -> None:
    """Close an async SDK stream, whichever spelling it has (``aclose`` or an async ``close``)."""
    close = getattr(stream, "aclose", None) or getattr(stream, "close", None)
    with contextlib.suppress(Exception):
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result


def int_or_none(value: Any) -> int | None:
    """A token count from a response field, or None when absent or not a count."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None
