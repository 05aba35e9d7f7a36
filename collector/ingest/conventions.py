"""Attribute names that LLM instrumentations emit, per convention.

Every table maps attribute keys to what they mean; the normaliser reads spans
from the current GenAI semantic conventions, the deprecated gen_ai names,
OpenLLMetry, OpenInference, the Vercel AI SDK and OpenLIT with them.
"""

from __future__ import annotations

from spendgate import dimensions

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
    "ai.usage.tokens",  # Vercel AI SDK embeddings (ai.embed*.doEmbed)
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
    "gen_ai.usage.cache_write.input_tokens",  # the anthropic SDK's own spans
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
    "gen_ai.usage.details.reasoning_tokens",  # Pydantic AI
)
# The part of the cache writes with a one-hour lifetime (Anthropic prices it above 5 minutes).
CACHE_WRITE_1H_TOKENS = (
    "spendgate.usage.cache_creation.ephemeral_1h.input_tokens",
    "anthropic.usage.cache_creation.ephemeral_1h_input_tokens",
    "gen_ai.usage.cache_creation.ephemeral_1h.input_tokens",
    "gen_ai.usage.details.ephemeral_1h_input_tokens",  # Pydantic AI
)
# Usage that some emitters keep only inside a JSON string attribute, read when the plain keys
# are absent: LiteLLM's OTel callback (without the semconv opt-in), Vercel's provider metadata,
# and the raw response OpenInference records (Anthropic's one-hour cache writes).
USAGE_JSON_ATTRIBUTES = ("metadata.usage_object", "ai.response.providerMetadata", "output.value")

PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "ai.model.provider")
OPERATION = ("gen_ai.operation.name", "llm.request.type")
REQUEST_MODEL = ("gen_ai.request.model", "llm.model_name", "ai.model.id", "embedding.model_name")
RESPONSE_MODEL = ("gen_ai.response.model", "ai.response.model", "llm.response.model_name")
RESPONSE_ID = ("gen_ai.response.id", "ai.response.id")
SERVER_ADDRESS = ("server.address",)
SERVER_PORT = ("server.port",)
ROUTED_MODEL = ("litellm.provider.model",)  # "anthropic/claude-...": names the provider
OPENINFERENCE_KIND = "openinference.span.kind"
VERCEL_OPERATION = "ai.operationId"
# Vercel AI SDK v6: the uncached part of the input, reported beside the (inclusive) total.
VERCEL_UNCACHED_INPUT = "ai.usage.inputTokenDetails.noCacheTokens"
TRACELOOP_KIND = "traceloop.span.kind"
ERROR_TYPE = "error.type"
USAGE_ESTIMATED = "spendgate.usage.estimated"

# Attribution dimension -> keys on the span (set directly or copied from baggage) and then on
# the resource, from spendgate.dimensions; ``spendgate.*`` names win. SPAN_ATTRIBUTION: the
# ones a span may carry (the rest only the resource).
_RESERVATION = {"reservation_id": ("spendgate.reservation_id",)}  # not a dimension: what strict mode settles
ATTRIBUTION: dict[str, tuple[str, ...]] = {d.name: d.keys for d in dimensions.ATTRIBUTED} | _RESERVATION
SPAN_ATTRIBUTION = {d.name: d.keys for d in dimensions.ATTRIBUTED if not d.resource_only} | _RESERVATION

# Operations that are a single billable model call.
LEAF_OPERATIONS = {
    "chat": "chat",
    "text_completion": "text_completion",
    "completion": "text_completion",
    "generate_content": "generate_content",
    "embeddings": "embeddings",
    "embedding": "embeddings",
    "responses": "chat",  # LiteLLM names OpenAI Responses API calls so
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

# Where a span names no provider (LiteLLM sends gen_ai.system=''), the API host tells it ...
PROVIDER_BY_HOST_SUFFIX = (
    ("api.openai.com", "openai"),
    (".openai.azure.com", "azure.ai.openai"),
    (".services.ai.azure.com", "azure.ai.inference"),
    ("api.anthropic.com", "anthropic"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("aiplatform.googleapis.com", "gcp.vertex_ai"),
    (".amazonaws.com", "aws.bedrock"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.groq.com", "groq"),
    ("api.x.ai", "x_ai"),
    ("api.deepseek.com", "deepseek"),
    ("api.cohere.com", "cohere"),
    ("api.cohere.ai", "cohere"),
    ("api.perplexity.ai", "perplexity"),
    ("api.together.xyz", "together"),
    ("api.fireworks.ai", "fireworks"),
    ("openrouter.ai", "openrouter"),
    ("api.cerebras.ai", "cerebras"),
    ("api.moonshot.ai", "moonshot_ai"),
)
PROVIDER_BY_PORT = {11434: "ollama", 1234: "lmstudio"}
# ... or else the model's family does (first match wins; a "provider/model" route such as
# LiteLLM's "anthropic/claude-..." names it outright).
PROVIDER_BY_MODEL_PREFIX = (
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("text-embedding-3", "openai"),
    ("text-embedding-ada", "openai"),
    ("davinci", "openai"),
    ("babbage", "openai"),
    ("claude", "anthropic"),
    ("gemini", "gcp.gemini"),
    ("text-embedding-00", "gcp.gemini"),
    ("mistral", "mistral_ai"),
    ("codestral", "mistral_ai"),
    ("ministral", "mistral_ai"),
    ("pixtral", "mistral_ai"),
    ("magistral", "mistral_ai"),
    ("grok", "x_ai"),
    ("deepseek", "deepseek"),
    ("command", "cohere"),
    ("embed-", "cohere"),
    ("kimi", "moonshot_ai"),
)
