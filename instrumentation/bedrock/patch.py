"""How boto3's bedrock-runtime client is metered: ``converse`` and ``converse_stream``.

boto3 builds client classes at run time, so the patch sits on botocore's
``BaseClient._make_api_call``; any other AWS call pays one class-name check.
Bedrock's ``inputTokens`` leaves cache reads and writes out; the span's input
counts them in. A ConverseStream's usage arrives in its ``metadata`` event.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Tracer

from .. import stream_guard, wrappers
from ..recorder import LLMCall
from ..wrappers import Surface, SyncStreamProxy, int_or_none

PROVIDER = "aws.bedrock"
_CLIENT_CLASS = "BedrockRuntime"  # botocore's generated class name for bedrock-runtime


def _start(tracer: Tracer, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall:
    params = args[1] if len(args) > 1 else kwargs.get("api_params") or {}
    call = LLMCall(tracer, PROVIDER, "chat", str(params.get("modelId") or ""))
    call.server_address = getattr(getattr(instance, "meta", None), "endpoint_url", None)
    return call


def _apply_usage(call: LLMCall, usage: dict[str, Any] | None) -> None:
    if not usage:
        return
    uncached = int_or_none(usage.get("inputTokens"))
    cache_read = int_or_none(usage.get("cacheReadInputTokens"))
    cache_write = int_or_none(usage.get("cacheWriteInputTokens"))
    call.cache_read_tokens = cache_read
    call.cache_write_tokens = cache_write
    if uncached is not None:
        call.input_tokens = uncached + (cache_read or 0) + (cache_write or 0)
    call.output_tokens = int_or_none(usage.get("outputTokens"))


def _on_converse(call: LLMCall, response: dict[str, Any]) -> None:
    call.response_model = call.request_model
    call.response_id = (response.get("ResponseMetadata") or {}).get("RequestId")
    if response.get("stopReason"):
        call.finish_reasons = [response["stopReason"]]
    _apply_usage(call, response.get("usage"))


def _on_stream_event(call: LLMCall, event: dict[str, Any]) -> bool:
    if "metadata" in event:
        _apply_usage(call, event["metadata"].get("usage"))
    elif "messageStop" in event:
        reason = event["messageStop"].get("stopReason")
        if reason:
            call.finish_reasons = [reason]
    return True


CONVERSE = Surface(start=_start, on_response=_on_converse)


def _event_text(event: dict[str, Any]) -> str | None:
    delta = (event.get("contentBlockDelta") or {}).get("delta") or {}
    tool_use = delta.get("toolUse") or {}
    reasoning = delta.get("reasoningContent") or {}
    return delta.get("text") or tool_use.get("input") or reasoning.get("text")


CONVERSE_STREAM = Surface(
    start=_start, on_response=_on_converse, on_chunk=_on_stream_event, chunk_text=_event_text
)


def _converse_stream(tracer: Tracer, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
    call = wrappers.begin(tracer, CONVERSE_STREAM, instance, args, kwargs)
    if call is None:
        return wrapped(*args, **kwargs)
    try:
        with wrappers.running_call():
            response = wrapped(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    try:
        call.streaming = True
        _on_converse(call, response)
        # The events come later: the span ends when the caller has read (or dropped) the stream.
        meter = stream_guard.meter_for(call, CONVERSE_STREAM.chunk_text, args[1] if len(args) > 1 else {})
        response["stream"] = SyncStreamProxy(response["stream"], call, CONVERSE_STREAM, meter)
    except Exception:
        wrappers.log_once("bedrock stream")
        call.finish()
    return response


def make_api_call(tracer: Tracer) -> Any:
    """A wrapper for ``BaseClient._make_api_call`` that meters Bedrock's Converse operations only."""
    converse = wrappers.sync_wrapper(tracer, CONVERSE)

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if type(instance).__name__ == _CLIENT_CLASS and args:
            if args[0] == "Converse":
                return converse(wrapped, instance, args, kwargs)
            if args[0] == "ConverseStream":
                return _converse_stream(tracer, wrapped, instance, args, kwargs)
        return wrapped(*args, **kwargs)

    return wrapper
