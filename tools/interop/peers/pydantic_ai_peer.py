"""Pydantic AI's built-in OpenTelemetry instrumentation (``Agent.instrument_all()``, no logfire).

Each case runs an Agent (so its invoke_agent span wraps the model-call span) with an OpenAI model
and, where the case has one, an Anthropic model, both pointed at the fake provider. The agent
case makes two model calls in one run (an output validator asks for one retry), so its
invoke_agent span sums two calls. The embeddings case uses ``Embedder``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from _runtime import (
    API_KEY,
    PROMPT,
    SYSTEM,
    arguments,
    combined,
    flush,
    install_tracer_provider,
    run_case,
    url,
)
from pydantic_ai import Agent, Embedder, ModelRetry, RunContext
from pydantic_ai.embeddings.openai import OpenAIEmbeddingModel
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider


def openai(name: str, responses: bool = False) -> Any:
    provider = OpenAIProvider(base_url=url("openai"), api_key=API_KEY)
    return (OpenAIResponsesModel if responses else OpenAIChatModel)(name, provider=provider)


def anthropic(name: str) -> AnthropicModel:
    return AnthropicModel(name, provider=AnthropicProvider(base_url=url("anthropic"), api_key=API_KEY))


def ask(model: Any, **settings: Any) -> str:
    agent = Agent(model, instructions=SYSTEM, name="assistant")
    return agent.run_sync(PROMPT, model_settings=settings or None).output


def ask_streaming(model: Any) -> str:
    agent = Agent(model, instructions=SYSTEM, name="assistant")

    async def run() -> str:
        async with agent.run_stream(PROMPT) as result:
            return "".join([piece async for piece in result.stream_text(delta=True)])

    return asyncio.run(run())


def ask_twice(model: Any) -> str:
    """One agent run with two model requests: the first answer is sent back for a retry."""
    agent = Agent(model, instructions=SYSTEM, name="greeter")

    @agent.output_validator
    def once_more(ctx: RunContext[None], output: str) -> str:
        if ctx.retry == 0:
            raise ModelRetry("Say it once more.")
        return output

    return agent.run_sync(PROMPT).output


def embed(name: str) -> object:
    model = OpenAIEmbeddingModel(name, provider=OpenAIProvider(base_url=url("openai"), api_key=API_KEY))
    return Embedder(model, instrument=True).embed_documents_sync(["hello", "world"])


def openai_cases() -> dict[str, Callable[[], object]]:
    return {
        "chat": lambda: ask(openai("gpt-4o-mini")),
        "stream": lambda: ask_streaming(openai("gpt-4o-mini")),
        "cached": lambda: ask(openai("gpt-4o")),
        "reasoning": lambda: ask(openai("o4-mini"), openai_reasoning_effort="low"),
        "embeddings": lambda: embed("text-embedding-3-small"),
        "responses": lambda: ask(openai("gpt-4o", responses=True)),
        "long_context": lambda: ask(openai("gpt-5.4")),
        "agent": lambda: ask_twice(openai("gpt-4o-mini")),
    }


def anthropic_cases() -> dict[str, Callable[[], object]]:
    return {
        "chat": lambda: ask(anthropic("claude-3-5-haiku")),
        "stream": lambda: ask_streaming(anthropic("claude-3-5-haiku")),
        "cached": lambda: ask(anthropic("claude-sonnet-4-5"), anthropic_cache_instructions=True),
        "cache_1h": lambda: ask(anthropic("claude-sonnet-4-5"), anthropic_cache_instructions="1h"),
        "long_context": lambda: ask(anthropic("claude-sonnet-4-5")),
    }


def main() -> None:
    peer, case = arguments()
    install_tracer_provider(peer)
    Agent.instrument_all(InstrumentationSettings())  # 2.x: Agent() no longer takes instrument=
    run_case(combined(openai_cases(), anthropic_cases()), case)
    flush()


if __name__ == "__main__":
    main()
