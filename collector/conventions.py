"""Attribute names that LLM instrumentations emit, per convention.

Every table maps attribute keys to what they mean; the normaliser reads spans
from the current GenAI semantic conventions, the deprecated gen_ai names,
OpenLLMetry, OpenInference, the Vercel AI SDK and OpenLIT with them.
"""

from __future__ import annotations

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

# Provider spellings -> the semantic-convention value stored in ClickHouse.
PROVIDER_ALIASES = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "azure.ai.openai": "azure.ai.openai",
    "az.ai.openai": "azure.ai.openai",
    "azure.ai.inference": "azure.ai.inference",
    "az.ai.inference": "azure.ai.inference",
    "anthropic": "anthropic",
    "cohere": "cohere",
    "gcp.gen_ai": "gcp.gen_ai",
    "gcp.gemini": "gcp.gemini",
    "gemini": "gcp.gemini",
    "google": "gcp.gen_ai",
    "google.generative-ai": "gcp.gemini",
    "google.vertex": "gcp.vertex_ai",
    "gcp.vertex_ai": "gcp.vertex_ai",
    "vertex_ai": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "aws.bedrock": "aws.bedrock",
    "aws": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "amazon-bedrock": "aws.bedrock",
    "ibm.watsonx.ai": "ibm.watsonx.ai",
    "watsonx": "ibm.watsonx.ai",
    "perplexity": "perplexity",
    "x_ai": "x_ai",
    "xai": "x_ai",
    "deepseek": "deepseek",
    "groq": "groq",
    "mistral_ai": "mistral_ai",
    "mistralai": "mistral_ai",
    "mistral": "mistral_ai",
    "moonshot_ai": "moonshot_ai",
    "moonshotai": "moonshot_ai",
    "ollama": "ollama",
    "lmstudio": "lmstudio",
    "vllm": "vllm",
    "llamacpp": "llamacpp",
    "together": "together",
    "together_ai": "together",
    "fireworks": "fireworks",
    "openrouter": "openrouter",
    "cerebras": "cerebras",
}

# Stored provider -> genai-prices provider id.
CATALOGUE_PROVIDER = {
    "openai": "openai",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "anthropic": "anthropic",
    "cohere": "cohere",
    "gcp.gen_ai": "google",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "aws.bedrock": "aws",
    "perplexity": "perplexity",
    "x_ai": "x-ai",
    "deepseek": "deepseek",
    "groq": "groq",
    "mistral_ai": "mistral",
    "moonshot_ai": "moonshotai",
    "together": "together",
    "fireworks": "fireworks",
    "openrouter": "openrouter",
    "cerebras": "cerebras",
}


def normalize_provider(raw: str) -> str:
    """The stored spelling of a provider name from any convention."""
    value = raw.strip().lower()
    if not value:
        return ""
    if value in PROVIDER_ALIASES:
        return PROVIDER_ALIASES[value]
    # Vercel AI SDK <= v6 names the API surface too: "openai.chat", "anthropic.messages".
    head = value.split(".", 1)[0]
    if head in PROVIDER_ALIASES and head not in ("azure", "gcp", "aws", "ibm"):
        return PROVIDER_ALIASES[head]
    return value
