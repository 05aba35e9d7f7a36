"""How the ollama SDK is metered: ``chat``, ``generate`` and ``embed``, sync and async, stream and not.

Local models have no per-token price, but their token counts still show load
and feed token budgets. Usage arrives on the final (``done``) response.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Tracer

from ..recorder import LLMCall
from ..wrappers import Surface, int_or_none

PROVIDER = "ollama"


def _start(operation: str) -> Any:
    def start(tracer: Tracer, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall:
        model = kwargs.get("model") or (args[0] if args else "")
        call = LLMCall(tracer, PROVIDER, operation, str(model))
        host = getattr(getattr(instance, "_client", None), "base_url", None)
        if host is not None:
            call.server_address = getattr(host, "host", None)
            call.server_port = getattr(host, "port", None)
        return call

    return start


def _on_response(call: LLMCall, response: Any) -> None:
    if getattr(response, "model", None):
        call.response_model = response.model
    if not getattr(response, "done", True):
        return
    reason = getattr(response, "done_reason", None)
    if reason:
        call.finish_reasons = [reason]
    prompt = int_or_none(getattr(response, "prompt_eval_count", None))
    if prompt is not None:
        call.input_tokens = prompt
    output = int_or_none(getattr(response, "eval_count", None))
    if output is not None:
        call.output_tokens = output


def _on_chunk(call: LLMCall, chunk: Any) -> bool:
    _on_response(call, chunk)
    return True


def _on_embed(call: LLMCall, response: Any) -> None:
    call.response_model = getattr(response, "model", None)
    prompt = int_or_none(getattr(response, "prompt_eval_count", None))
    if prompt is not None:
        call.input_tokens, call.output_tokens = prompt, 0


def _chunk_text(chunk: Any) -> str | None:
    message = getattr(chunk, "message", None)  # chat; generate puts its text in ``response``
    return getattr(message, "content", None) if message is not None else getattr(chunk, "response", None)


CHAT = Surface(start=_start("chat"), on_response=_on_response, on_chunk=_on_chunk, chunk_text=_chunk_text)
GENERATE = Surface(
    start=_start("text_completion"), on_response=_on_response, on_chunk=_on_chunk, chunk_text=_chunk_text
)
EMBED = Surface(start=_start("embeddings"), on_response=_on_embed)
