"""How the google-genai SDK is metered: each model round trip of ``generate_content`` (stream or not).

``generate_content`` may call the model several times (automatic function
calling, continuations) through ``_generate_content``; metering that method
gives one span per billable round trip. Gemini's candidate count leaves
thinking tokens out; the span's output counts them in, as the convention says.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Tracer

from ..recorder import LLMCall
from ..wrappers import Surface, int_or_none


def _model_name(model: Any) -> str:
    # "models/gemini-2.5-flash", "publishers/google/models/gemini-2.5-flash" -> "gemini-2.5-flash"
    return str(model or "").rpartition("/")[2]


def _provider(instance: Any) -> str:
    client = getattr(instance, "_api_client", None)
    return "gcp.vertex_ai" if getattr(client, "vertexai", False) else "gcp.gemini"


def _start(operation: str) -> Any:
    def start(tracer: Tracer, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall:
        return LLMCall(tracer, _provider(instance), operation, _model_name(kwargs.get("model")))

    return start


def _on_response(call: LLMCall, response: Any) -> None:
    if response.model_version:
        call.response_model = response.model_version
    if response.response_id:
        call.response_id = response.response_id
    reasons = [
        getattr(candidate.finish_reason, "name", str(candidate.finish_reason))
        for candidate in response.candidates or ()
        if candidate.finish_reason
    ]
    if reasons:
        call.finish_reasons = reasons
    usage = response.usage_metadata
    if usage is None:
        return
    prompt = int_or_none(usage.prompt_token_count)
    tool_prompt = int_or_none(getattr(usage, "tool_use_prompt_token_count", None)) or 0
    if prompt is not None:
        call.input_tokens = prompt + tool_prompt
    candidates = int_or_none(usage.candidates_token_count)
    thoughts = int_or_none(usage.thoughts_token_count)
    if candidates is not None or thoughts is not None:
        call.output_tokens = (candidates or 0) + (thoughts or 0)
    if thoughts is not None:
        call.reasoning_tokens = thoughts
    cached = int_or_none(usage.cached_content_token_count)
    if cached is not None:
        call.cache_read_tokens = cached


def _on_chunk(call: LLMCall, chunk: Any) -> bool:
    # Each chunk may carry usage; the last one is complete.
    _on_response(call, chunk)
    return True


def _chunk_text(chunk: Any) -> str:
    # Read from the parts: ``chunk.text`` warns about non-text parts.
    texts = []
    for candidate in chunk.candidates or ():
        content = candidate.content
        for part in (content.parts if content is not None else None) or ():
            if part.text:
                texts.append(part.text)
    return "".join(texts)


GENERATE = Surface(start=_start("generate_content"), on_response=_on_response)
GENERATE_STREAM = Surface(
    start=_start("generate_content"),
    on_response=_on_response,
    on_chunk=_on_chunk,
    is_stream=lambda kwargs, result: True,
    chunk_text=_chunk_text,
)
EMBED = Surface(start=_start("embeddings"), on_response=lambda call, response: None)
