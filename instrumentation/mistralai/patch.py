"""How the mistralai SDK is metered: chat complete and stream, and embeddings, sync and async.

Mistral's usage has the OpenAI shape (prompt tokens include cached ones) and
arrives on the last stream chunk without being asked for.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Tracer

from ..openai_shape import chat_usage
from ..recorder import LLMCall
from ..wrappers import Surface

PROVIDER = "mistral_ai"


def _start(operation: str) -> Any:
    def start(tracer: Tracer, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall:
        return LLMCall(tracer, PROVIDER, operation, str(kwargs.get("model") or ""))

    return start


def _on_response(call: LLMCall, response: Any) -> None:
    if response is None:
        return
    call.response_id = getattr(response, "id", None)
    call.response_model = getattr(response, "model", None)
    reasons = [str(c.finish_reason) for c in getattr(response, "choices", None) or () if c.finish_reason]
    if reasons:
        call.finish_reasons = reasons
    chat_usage(call, getattr(response, "usage", None))


def _on_event(call: LLMCall, event: Any) -> bool:
    chunk = getattr(event, "data", None)
    if chunk is None:
        return True
    if call.response_id is None:
        call.response_id = chunk.id
        call.response_model = chunk.model
    for choice in chunk.choices or ():
        if choice.finish_reason:
            call.finish_reasons = [str(choice.finish_reason)]
    if getattr(chunk, "usage", None) is not None:
        chat_usage(call, chunk.usage)
    return True


def _event_text(event: Any) -> str:
    chunk = getattr(event, "data", None)
    texts = []
    for choice in getattr(chunk, "choices", None) or ():
        content = choice.delta.content if choice.delta is not None else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):  # content chunks: text ones carry ``text``
            texts += (getattr(part, "text", None) or "" for part in content)
    return "".join(texts)


def _on_embeddings(call: LLMCall, response: Any) -> None:
    call.response_model = getattr(response, "model", None)
    usage = getattr(response, "usage", None)
    if usage is not None:
        chat_usage(call, usage)
        call.output_tokens = 0


CHAT = Surface(start=_start("chat"), on_response=_on_response)
CHAT_STREAM = Surface(
    start=_start("chat"),
    on_response=_on_response,
    on_chunk=_on_event,
    is_stream=lambda kwargs, result: True,
    chunk_text=_event_text,
)
EMBEDDINGS = Surface(start=_start("embeddings"), on_response=_on_embeddings)
