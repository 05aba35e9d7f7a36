"""One openai SDK call per case, made against the fake provider (shared by the OpenAI peers)."""

from __future__ import annotations

from collections.abc import Callable

import openai
from _runtime import API_KEY, PROMPT, url

# Models that genai-prices knows; gpt-5.4 has a price tier above 272k input tokens.
MODELS = {
    "chat": "gpt-4o-mini",
    "stream": "gpt-4o-mini",
    "cached": "gpt-4o",
    "reasoning": "o4-mini",
    "embeddings": "text-embedding-3-small",
    "responses": "gpt-4o",
    "long_context": "gpt-5.4",
    "agent": "gpt-4o-mini",
}


def client() -> openai.OpenAI:
    return openai.OpenAI(base_url=url("openai"), api_key=API_KEY, max_retries=0)


def chat(model: str, **extra: object) -> str:
    reply = client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": PROMPT}], **extra
    )
    return reply.choices[0].message.content or ""


def stream(model: str) -> str:
    chunks = client().chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def embeddings(model: str) -> int:
    return len(client().embeddings.create(model=model, input=["hello", "world"]).data)


def responses(model: str) -> str:
    return client().responses.create(model=model, input=PROMPT).output_text


def cases(skip: tuple[str, ...] = ()) -> dict[str, Callable[[], object]]:
    """Every case this module can make, less the ones a peer cannot trace."""
    table: dict[str, Callable[[], object]] = {
        "chat": lambda: chat(MODELS["chat"]),
        "stream": lambda: stream(MODELS["stream"]),
        "cached": lambda: chat(MODELS["cached"]),
        "reasoning": lambda: chat(MODELS["reasoning"], reasoning_effort="low"),
        "embeddings": lambda: embeddings(MODELS["embeddings"]),
        "responses": lambda: responses(MODELS["responses"]),
        "long_context": lambda: chat(MODELS["long_context"]),
    }
    return {name: call for name, call in table.items() if name not in skip}
