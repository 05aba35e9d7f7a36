"""How the groq SDK is metered: ``chat.completions.create``, sync and async, stream and not.

Groq answers in the OpenAI shape; a stream's usage comes on its last chunk
under ``x_groq.usage`` without being asked for.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Tracer

from ..openai_shape import chat_chunk_text, chat_response, chat_usage
from ..recorder import LLMCall
from ..wrappers import Surface

PROVIDER = "groq"


def _start(tracer: Tracer, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall:
    return LLMCall(tracer, PROVIDER, "chat", str(kwargs.get("model") or ""))


def _on_chunk(call: LLMCall, chunk: Any) -> bool:
    if call.response_id is None:
        call.response_id = chunk.id
        call.response_model = chunk.model
    for choice in chunk.choices:
        if choice.finish_reason:
            call.finish_reasons = [choice.finish_reason]
    x_groq = getattr(chunk, "x_groq", None)
    usage = getattr(x_groq, "usage", None) or getattr(chunk, "usage", None)
    if usage is not None:
        chat_usage(call, usage)
    return True


CHAT = Surface(start=_start, on_response=chat_response, on_chunk=_on_chunk, chunk_text=chat_chunk_text)
