"""Provider names: every spelling instrumentations use, the stored (semantic-convention) name, and the
genai-prices provider id of each stored name.

The collector's normaliser and both pricers (collector and agent) read these, so an alias added here
is understood everywhere at once.
"""

from __future__ import annotations

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
