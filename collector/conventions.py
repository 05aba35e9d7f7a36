"""Attribute names that LLM instrumentations emit, per convention.

Every table maps attribute keys to what they mean; the normaliser reads spans
from the current GenAI semantic conventions, the deprecated gen_ai names,
OpenLLMetry, OpenInference, the Vercel AI SDK and OpenLIT with them.
"""

from __future__ import annotations

# Provider names are shared with the pricers (agent and collector): one definition, re-exported here.
from spendgate.pricing.providers import CATALOGUE_PROVIDER, PROVIDER_ALIASES, normalize_provider  # noqa: F401

# Usage field -> attribute keys, most specific convention first.
INPUT_TOKENS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "ai.usage.inputTokens",
    "ai.usage.promptTokens",
    "llm.usage.prompt_tokens",
)
OUTPUT_TOKENS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "ai.usage.outputTokens",
    "ai.usage.completionTokens",
    "llm.usage.completion_tokens",
)
CACHE_READ_TOKENS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
    "ai.usage.inputTokenDetails.cacheReadTokens",
    "ai.usage.cachedInputTokens",
)
CACHE_WRITE_TOKENS = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
    "ai.usage.inputTokenDetails.cacheWriteTokens",
)
REASONING_TOKENS = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
    "ai.usage.outputTokenDetails.reasoningTokens",
    "ai.usage.reasoningTokens",
)

PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "ai.model.provider")
OPERATION = ("gen_ai.operation.name", "llm.request.type")
REQUEST_MODEL = ("gen_ai.request.model", "llm.model_name", "ai.model.id")
RESPONSE_MODEL = ("gen_ai.response.model", "ai.response.model")
OPENINFERENCE_KIND = "openinference.span.kind"
VERCEL_OPERATION = "ai.operationId"
TRACELOOP_KIND = "traceloop.span.kind"
ERROR_TYPE = "error.type"
USAGE_ESTIMATED = "spendgate.usage.estimated"
# Set on the resource by spendgate's instrument(): the process meters its SDK calls itself.
SPENDGATE_RESOURCE = "spendgate.instrumented"
# Spans that SDKs emit natively for the same calls; in a spendgate-instrumented process they
# would count each call twice.
NATIVE_SDK_SCOPES = frozenset({"com.anthropic.sdk.python", "mistralai_sdk_tracer"})

# Attribution dimension -> keys on the span (set directly or copied from
# baggage) and then on the resource. ``spendgate.*`` names win.
ATTRIBUTION: dict[str, tuple[str, ...]] = {
    "project": ("spendgate.project",),
    "ticket": ("spendgate.ticket",),
    "task": ("spendgate.task",),
    "phase": ("spendgate.phase",),
    "agent": ("spendgate.agent", "gen_ai.agent.name"),
    "agent_type": ("spendgate.agent_type", "spendgate.agent.type"),
    "run": ("spendgate.run", "spendgate.run_id"),
    "user": ("spendgate.user", "user.id", "enduser.id"),
    "team": ("spendgate.team",),
    "environment": ("spendgate.environment", "deployment.environment.name", "deployment.environment"),
    "service": ("service.name",),
    # Not a dimension: the strict-mode reservation this call settles.
    "reservation_id": ("spendgate.reservation_id",),
}

# Operations that are a single billable model call.
LEAF_OPERATIONS = {
    "chat": "chat",
    "text_completion": "text_completion",
    "completion": "text_completion",
    "generate_content": "generate_content",
    "embeddings": "embeddings",
    "embedding": "embeddings",
}
# Operations that wrap model calls and repeat their usage: never priced.
ROLLUP_OPERATIONS = frozenset(
    {
        "invoke_agent",
        "create_agent",
        "invoke_workflow",
        "execute_tool",
        "retrieval",
        "workflow",
        "task",
        "agent",
        "tool",
    }
)
OPENINFERENCE_LEAF = {"LLM": "chat", "EMBEDDING": "embeddings"}
VERCEL_LEAF_SUFFIXES = {".doGenerate": "chat", ".doStream": "chat", ".doEmbed": "embeddings"}
