"""LiteLLM 1.106.12 with its OpenTelemetry callback (``callbacks=["otel"]``) against the fake provider.

Peers: litellm, and litellm-semconv (the driver adds OTEL_SEMCONV_STABILITY_OPT_IN=
gen_ai_latest_experimental). The callback builds its own tracer provider from the OTLP exporter
environment. LITELLM_LOCAL_MODEL_COST_MAP=True (set by the driver) keeps it from downloading its
cost map. Each case makes the OpenAI call and the Anthropic call that the case has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import litellm
from _runtime import API_KEY, PROMPT, SYSTEM, arguments, combined, flush, run_case, url
from litellm.litellm_core_utils.thread_pool_executor import executor

OPENAI = {"api_base": None, "api_key": API_KEY}  # api_base is filled in at run time
ANTHROPIC = {"api_base": None, "api_key": API_KEY}


def messages(ttl: str | None = None) -> list[dict[str, Any]]:
    control: dict[str, str] = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    system = {"role": "system", "content": [{"type": "text", "text": SYSTEM, "cache_control": control}]}
    return [system, {"role": "user", "content": PROMPT}]


def complete(model: str, provider: dict[str, Any], **extra: Any) -> str:
    reply = litellm.completion(model=model, messages=messages(extra.pop("ttl", None)), **provider, **extra)
    return reply.choices[0].message.content or ""


def stream(model: str, provider: dict[str, Any]) -> str:
    chunks = litellm.completion(
        model=model, messages=messages(), stream=True, stream_options={"include_usage": True}, **provider
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def openai_cases() -> dict[str, Callable[[], object]]:
    return {
        "chat": lambda: complete("openai/gpt-4o-mini", OPENAI),
        "stream": lambda: stream("openai/gpt-4o-mini", OPENAI),
        "cached": lambda: complete("openai/gpt-4o", OPENAI),
        "reasoning": lambda: complete("openai/o4-mini", OPENAI, reasoning_effort="low"),
        "embeddings": lambda: litellm.embedding(
            model="openai/text-embedding-3-small", input=["hello", "world"], **OPENAI
        ),
        "responses": lambda: litellm.responses(model="openai/gpt-4o", input=PROMPT, **OPENAI),
        "long_context": lambda: complete("openai/gpt-5.4", OPENAI),
    }


def anthropic_cases() -> dict[str, Callable[[], object]]:
    return {
        "chat": lambda: complete("anthropic/claude-3-5-haiku", ANTHROPIC, max_tokens=256),
        "stream": lambda: stream("anthropic/claude-3-5-haiku", ANTHROPIC),
        "cached": lambda: complete("anthropic/claude-sonnet-4-5", ANTHROPIC, max_tokens=256),
        "cache_1h": lambda: complete("anthropic/claude-sonnet-4-5", ANTHROPIC, max_tokens=256, ttl="1h"),
        "long_context": lambda: complete("anthropic/claude-sonnet-4-5", ANTHROPIC, max_tokens=256),
    }


def main() -> None:
    _, case = arguments()
    OPENAI["api_base"] = url("openai")
    ANTHROPIC["api_base"] = url("anthropic") + "/v1/messages"
    litellm.callbacks = ["otel"]
    run_case(combined(openai_cases(), anthropic_cases()), case)
    # Success callbacks run on LiteLLM's logging thread pool: let them end their spans first.
    executor.shutdown(wait=True)
    flush()


if __name__ == "__main__":
    main()
