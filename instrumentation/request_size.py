"""How big a request is: its prompt text and the output limit it sets, whatever the SDK calls them."""

from __future__ import annotations

from typing import Any

from . import estimate


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


_NESTED_CONTAINERS = {"config", "inferenceConfig", "options", "generation_config"}


def max_output_tokens(request: dict[str, Any]) -> int | None:
    """The output limit a request sets, whatever the SDK calls it."""
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens", "maxTokens"):
        value = request.get(key)
        if type(value) is int and value > 0:
            return value
    if not request.keys() & _NESTED_CONTAINERS:
        return None
    nested = (
        ("config", "max_output_tokens"),
        ("inferenceConfig", "maxTokens"),
        ("options", "num_predict"),
        ("generation_config", "max_output_tokens"),
    )
    for container, key in nested:
        value = _get(request.get(container), key)
        if isinstance(value, int) and value > 0:
            return value
    return None


PROMPT_KEYS = ("messages", "input", "prompt", "contents", "system", "instructions")


def request_text(request: dict[str, Any]) -> str:
    parts = []
    for key in PROMPT_KEYS:
        if key in request:
            parts.append(estimate.text_of(request[key]))
    return "\n".join(part for part in parts if part)


def framing_tokens(request: dict[str, Any]) -> int:
    """Tokens chat formats add around the text: a few per message and a few to prime the reply
    (3 and 3 for OpenAI's chat models; 4 each errs high)."""
    messages = request.get("messages") or request.get("contents")
    count = len(messages) if isinstance(messages, list | tuple) else 1
    return 4 * count + 4


def prompt_bytes(request: dict[str, Any]) -> int:
    """More than the prompt's tokens, at almost no cost: repr() is done in C and contains every
    string of the request, so its UTF-8 length is more than the prompt's bytes."""
    return sum(len(repr(request[key]).encode()) for key in PROMPT_KEYS if key in request)
