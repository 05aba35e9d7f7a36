"""Response bodies in each provider's wire format, for a fixed reply and configurable usage.

Token counts follow each real API's own inclusion rules: OpenAI's prompt
tokens include cached ones, Anthropic's and Bedrock's input tokens leave cache
reads and writes out, Gemini's candidate tokens leave thoughts out.
"""

from __future__ import annotations

import base64
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

REPLY = ["Hello", " from", " the", " fake", " provider."]


@dataclass
class Usage:
    """What the fake provider reports for every call (semantic-convention meaning)."""

    input_tokens: int = 1200  # all prompt tokens, cached and cache-written included
    output_tokens: int = 80  # all output tokens, reasoning included
    cache_read_tokens: int = 200
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0  # Anthropic: the part of cache writes with a one-hour lifetime
    reasoning_tokens: int = 0

    @property
    def uncached_input(self) -> int:
        return self.input_tokens - self.cache_read_tokens - self.cache_write_tokens


def _id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


# --- OpenAI (also Azure OpenAI, Groq, Mistral: the same shapes) -----------------------------------


def openai_usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def chat_completion(model: str, usage: Usage) -> dict[str, Any]:
    return {
        "id": _id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(REPLY)},
                "finish_reason": "stop",
            }
        ],
        "usage": openai_usage(usage),
    }


def chat_completion_chunks(model: str, usage: Usage, include_usage: bool) -> Iterator[dict[str, Any]]:
    ident, created = _id("chatcmpl-"), int(time.time())
    base = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model}
    yield {
        **base,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
    }
    for piece in REPLY:
        yield {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    if include_usage:
        yield {**base, "choices": [], "usage": openai_usage(usage)}


def completion(model: str, usage: Usage) -> dict[str, Any]:
    return {
        "id": _id("cmpl-"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "text": "".join(REPLY), "logprobs": None, "finish_reason": "stop"}],
        "usage": openai_usage(usage),
    }


def completion_chunks(model: str, usage: Usage, include_usage: bool) -> Iterator[dict[str, Any]]:
    base = {"id": _id("cmpl-"), "object": "text_completion", "created": int(time.time()), "model": model}
    for index, piece in enumerate(REPLY):
        last = index == len(REPLY) - 1
        yield {
            **base,
            "choices": [
                {"index": 0, "text": piece, "logprobs": None, "finish_reason": "stop" if last else None}
            ],
        }
    if include_usage:
        yield {**base, "choices": [], "usage": openai_usage(usage)}


def embeddings(model: str, inputs: int, usage: Usage, encoding_format: str) -> dict[str, Any]:
    vector = [0.25, -0.5, 0.125, 1.0]
    packed: Any = vector
    if encoding_format == "base64":
        packed = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return {
        "id": _id("embd-"),  # Mistral's shape has one; OpenAI's clients ignore it
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": packed} for i in range(inputs)],
        "model": model,
        "usage": {"prompt_tokens": usage.input_tokens, "total_tokens": usage.input_tokens},
    }


def response_object(model: str, usage: Usage, status: str = "completed") -> dict[str, Any]:
    return {
        "id": _id("resp_"),
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": [
            {
                "type": "message",
                "id": _id("msg_"),
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "".join(REPLY), "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": usage.input_tokens,
            "input_tokens_details": {"cached_tokens": usage.cache_read_tokens},
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
            "total_tokens": usage.input_tokens + usage.output_tokens,
        },
    }


def response_events(model: str, usage: Usage) -> Iterator[tuple[str, dict[str, Any]]]:
    final = response_object(model, usage)
    started = {**final, "status": "in_progress", "output": [], "usage": None}
    sequence = 0
    yield "response.created", {"type": "response.created", "sequence_number": sequence, "response": started}
    item = final["output"][0]["id"]
    for piece in REPLY:
        sequence += 1
        yield (
            "response.output_text.delta",
            {
                "type": "response.output_text.delta",
                "sequence_number": sequence,
                "item_id": item,
                "output_index": 0,
                "content_index": 0,
                "delta": piece,
                "logprobs": [],
            },
        )
    sequence += 1
    yield "response.completed", {"type": "response.completed", "sequence_number": sequence, "response": final}


def groq_chunks(model: str, usage: Usage) -> Iterator[dict[str, Any]]:
    # Groq reports stream usage on the last chunk under x_groq, without being asked.
    chunks = list(chat_completion_chunks(model, usage, include_usage=False))
    chunks[-1]["x_groq"] = {"id": _id("req_"), "usage": openai_usage(usage)}
    yield from chunks


def mistral_chunks(model: str, usage: Usage) -> Iterator[dict[str, Any]]:
    # Mistral puts usage on the chunk that carries the finish reason.
    chunks = list(chat_completion_chunks(model, usage, include_usage=False))
    chunks[-1]["usage"] = openai_usage(usage)
    yield from chunks


# --- Anthropic ------------------------------------------------------------------------------------


def anthropic_usage(usage: Usage, output_tokens: int | None = None) -> dict[str, Any]:
    return {
        "input_tokens": usage.uncached_input,
        "output_tokens": usage.output_tokens if output_tokens is None else output_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_tokens - usage.cache_write_1h_tokens,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        },
    }


def anthropic_message(model: str, usage: Usage, thinking: bool) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if thinking:
        content.append({"type": "thinking", "thinking": "Let me think.", "signature": "sig"})
    content.append({"type": "text", "text": "".join(REPLY)})
    return {
        "id": _id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": anthropic_usage(usage),
    }


def anthropic_events(model: str, usage: Usage, thinking: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    message = anthropic_message(model, usage, thinking)
    start = {**message, "content": [], "stop_reason": None, "usage": anthropic_usage(usage, output_tokens=1)}
    yield "message_start", {"type": "message_start", "message": start}
    index = 0
    if thinking:
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        )
        yield (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "thinking_delta", "thinking": "Let me think."},
            },
        )
        yield (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "signature_delta", "signature": "sig"},
            },
        )
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
        index += 1
    yield (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": "text", "text": ""},
        },
    )
    for piece in REPLY:
        yield (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "text_delta", "text": piece},
            },
        )
    yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": usage.output_tokens},
        },
    )
    yield "message_stop", {"type": "message_stop"}


# --- Gemini ---------------------------------------------------------------------------------------


def gemini_usage(usage: Usage) -> dict[str, Any]:
    candidates = usage.output_tokens - usage.reasoning_tokens
    return {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": candidates,
        "cachedContentTokenCount": usage.cache_read_tokens,
        "thoughtsTokenCount": usage.reasoning_tokens,
        "totalTokenCount": usage.input_tokens + usage.output_tokens,
    }


def gemini_response(model: str, usage: Usage, text: str, final: bool, response_id: str) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": response_id}
    if final:
        candidate["finishReason"] = "STOP"
        body["usageMetadata"] = gemini_usage(usage)
    return body


# --- Ollama ---------------------------------------------------------------------------------------


def ollama_final(model: str, usage: Usage, kind: str, text: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "done": True,
        "done_reason": "stop",
        "total_duration": 1_000_000,
        "load_duration": 1000,
        "prompt_eval_count": usage.input_tokens,
        "prompt_eval_duration": 1000,
        "eval_count": usage.output_tokens,
        "eval_duration": 1000,
    }
    if kind == "chat":
        body["message"] = {"role": "assistant", "content": text}
    else:
        body["response"] = text
    return body


def ollama_chunk(model: str, kind: str, text: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "created_at": "2026-01-01T00:00:00Z", "done": False}
    if kind == "chat":
        body["message"] = {"role": "assistant", "content": text}
    else:
        body["response"] = text
    return body


# --- Bedrock Converse -----------------------------------------------------------------------------


def bedrock_usage(usage: Usage) -> dict[str, Any]:
    return {
        "inputTokens": usage.uncached_input,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.input_tokens + usage.output_tokens,
        "cacheReadInputTokens": usage.cache_read_tokens,
        "cacheWriteInputTokens": usage.cache_write_tokens,
    }


def converse(usage: Usage) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": "".join(REPLY)}]}},
        "stopReason": "end_turn",
        "usage": bedrock_usage(usage),
        "metrics": {"latencyMs": 12},
    }


def converse_events(usage: Usage) -> Iterator[tuple[str, dict[str, Any]]]:
    yield "messageStart", {"role": "assistant"}
    for piece in REPLY:
        yield "contentBlockDelta", {"delta": {"text": piece}, "contentBlockIndex": 0}
    yield "contentBlockStop", {"contentBlockIndex": 0}
    yield "messageStop", {"stopReason": "end_turn"}
    yield "metadata", {"usage": bedrock_usage(usage), "metrics": {"latencyMs": 12}}
