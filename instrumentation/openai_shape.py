"""Readers of the OpenAI response shape, shared by the SDKs that answer in it (openai, groq, mistralai)."""

from __future__ import annotations

from typing import Any

from .recorder import LLMCall
from .wrappers import int_or_none


def field(node: Any, name: str) -> Any:
    # SDKs built on the OpenAI shape keep fields they do not model as plain dicts.
    return node.get(name) if isinstance(node, dict) else getattr(node, name, None)


def chat_usage(call: LLMCall, usage: Any) -> None:
    """Record an OpenAI-shaped usage object."""
    if usage is None:
        return
    if type(usage).__name__ == "CompletionUsage":  # the openai SDK's own type: read it directly
        call.input_tokens = int_or_none(usage.prompt_tokens)
        call.output_tokens = int_or_none(usage.completion_tokens)
        prompt_details, completion_details = usage.prompt_tokens_details, usage.completion_tokens_details
        if prompt_details is not None:
            call.cache_read_tokens = int_or_none(prompt_details.cached_tokens)
            call.cache_write_tokens = int_or_none(getattr(prompt_details, "cache_write_tokens", None))
        if completion_details is not None:
            call.reasoning_tokens = int_or_none(completion_details.reasoning_tokens)
        return
    call.input_tokens = int_or_none(field(usage, "prompt_tokens"))
    call.output_tokens = int_or_none(field(usage, "completion_tokens"))
    prompt_details = field(usage, "prompt_tokens_details")
    if prompt_details is not None:
        call.cache_read_tokens = int_or_none(field(prompt_details, "cached_tokens"))
        call.cache_write_tokens = int_or_none(field(prompt_details, "cache_write_tokens"))
    completion_details = field(usage, "completion_tokens_details")
    if completion_details is not None:
        call.reasoning_tokens = int_or_none(field(completion_details, "reasoning_tokens"))


def chat_response(call: LLMCall, response: Any) -> None:
    """Record a (non-streamed) chat completion: model, id, finish reasons and usage."""
    call.response_model = response.model
    call.response_id = response.id
    call.finish_reasons = [choice.finish_reason for choice in response.choices if choice.finish_reason]
    chat_usage(call, response.usage)


def chat_chunk_text(chunk: Any) -> str:
    """The output a Chat Completions chunk adds: content, refusal and tool-call arguments."""
    parts: list[str] = []
    for choice in chunk.choices:
        delta = choice.delta
        if delta is None:
            continue
        parts += (delta.content or "", getattr(delta, "refusal", None) or "")
        for tool_call in delta.tool_calls or ():
            if tool_call.function is not None:
                parts.append(tool_call.function.arguments or "")
    return "".join(parts)
