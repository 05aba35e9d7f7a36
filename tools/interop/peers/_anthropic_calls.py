"""One anthropic SDK call per case, made against the fake provider (shared by the Anthropic peers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
from _runtime import API_KEY, PROMPT, SYSTEM, url

# claude-sonnet-4-5 has a price tier above 200k input tokens and prices 1-hour cache writes apart.
MODELS = {
    "chat": "claude-3-5-haiku",
    "stream": "claude-3-5-haiku",
    "cached": "claude-sonnet-4-5",
    "cache_1h": "claude-sonnet-4-5",
    "long_context": "claude-sonnet-4-5",
    "agent": "claude-3-5-haiku",
}


def client() -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url("anthropic"), api_key=API_KEY, max_retries=0)


def system(ttl: str | None) -> list[dict[str, Any]]:
    """A system block marked for caching (the fake provider reports whatever cache usage it is set to)."""
    control: dict[str, str] = {"type": "ephemeral"}
    if ttl:
        control["ttl"] = ttl
    return [{"type": "text", "text": SYSTEM, "cache_control": control}]


def message(model: str, ttl: str | None = None) -> str:
    reply = client().messages.create(
        model=model,
        max_tokens=256,
        system=system(ttl),
        messages=[{"role": "user", "content": PROMPT}],
    )
    return "".join(block.text for block in reply.content if block.type == "text")


def stream(model: str) -> int:
    events = client().messages.create(
        model=model,
        max_tokens=256,
        system=system(None),
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
    )
    return sum(1 for _ in events)


def cases() -> dict[str, Callable[[], object]]:
    return {
        "chat": lambda: message(MODELS["chat"]),
        "stream": lambda: stream(MODELS["stream"]),
        "cached": lambda: message(MODELS["cached"]),
        "cache_1h": lambda: message(MODELS["cache_1h"], ttl="1h"),
        "long_context": lambda: message(MODELS["long_context"]),
    }
