"""Which instrumentation emitted a span, and that emitter's rules for reading its usage.

Emitters disagree on what a token count means: OpenLIT and the Vercel AI SDK
report Anthropic's raw input, which leaves cache reads and writes out, while
the conventions count them in. The rule follows the emitter (its
instrumentation scope, and where it matters the SDK's generation), never
which attribute key happens to be present. Usage that an emitter keeps only
inside a JSON string attribute is read from there when the plain keys are
absent.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from spendgate.collector.ingest import conventions as cv

SPENDGATE, ANTHROPIC_SDK, MISTRAL_SDK = "spendgate", "anthropic-sdk", "mistral-sdk"
OPENLLMETRY, OPENINFERENCE, OPENLIT, VERCEL = "openllmetry", "openinference", "openlit", "vercel"
LITELLM, PYDANTIC_AI, SEMCONV, SEMCONV_LEGACY = "litellm", "pydantic-ai", "semconv", "semconv-legacy"

# Scope name (exact) -> emitter.
_SCOPES = {
    "com.anthropic.sdk.python": ANTHROPIC_SDK,
    "mistralai_sdk_tracer": MISTRAL_SDK,
    "ai": VERCEL,
    "litellm": LITELLM,
    "pydantic-ai": PYDANTIC_AI,
}
# Scope name prefix -> emitter; the official contrib instrumentations follow the conventions.
_SCOPE_PREFIXES = (
    ("spendgate", SPENDGATE),
    ("openinference.", OPENINFERENCE),
    ("openlit", OPENLIT),
    ("opentelemetry.instrumentation.openai_v2", SEMCONV),
    ("opentelemetry.instrumentation.google_genai", SEMCONV),
    ("opentelemetry.instrumentation.vertexai", SEMCONV),
    ("opentelemetry.instrumentation.", OPENLLMETRY),
    ("litellm", LITELLM),
    ("pydantic_ai", PYDANTIC_AI),
    ("logfire", PYDANTIC_AI),
)
# When one provider call is reported by several emitters, the first of these wins: the SDK's
# own span and spendgate's see the wire usage; libraries may drop or miscount parts of it.
PREFERENCE = {SPENDGATE: 0, ANTHROPIC_SDK: 1, MISTRAL_SDK: 1}
_OTHER_RANK = 2


def from_scope(scope_name: str, sdk_name: str) -> str | None:
    """The emitter named by the scope or the SDK, or None when only the span's keys can tell."""
    if sdk_name == "openlit":
        return OPENLIT
    emitter = _SCOPES.get(scope_name)
    if emitter is not None:
        return emitter
    for prefix, name in _SCOPE_PREFIXES:
        if scope_name.startswith(prefix):
            return name
    return None


def from_keys(input_key: str | None) -> str:
    """The emitter as the attribute convention of the input count suggests (unknown scopes)."""
    if input_key is None:
        return SEMCONV
    if input_key.startswith("llm.token_count"):
        return OPENINFERENCE
    if input_key.startswith("ai.usage"):
        return VERCEL
    if input_key.startswith("llm.usage") or input_key == "gen_ai.usage.prompt_tokens":
        return SEMCONV_LEGACY
    return SEMCONV


def rank(emitter: str) -> int:
    return PREFERENCE.get(emitter, _OTHER_RANK)


def input_excludes_cache(emitter: str, provider: str, input_key: str | None, split_reported: bool) -> bool:
    """Whether this emitter's input count for this provider leaves cache reads and writes out.

    ``split_reported``: the span also names the uncached part of the input
    (Vercel v6's ai.usage.inputTokenDetails.noCacheTokens), so its input is the total.
    """
    if provider != "anthropic" or split_reported:
        return False
    if emitter == OPENLIT:
        return True
    # The Vercel AI SDK up to v5 passes Anthropic's raw input through, under ai.usage.* and
    # gen_ai.usage.input_tokens alike; v6 reports the total with its parts.
    return emitter == VERCEL and input_key is not None and input_key.startswith(("ai.usage", "gen_ai.usage"))


def output_excludes_reasoning(emitter: str, scope_name: str) -> bool:
    # OpenLLMetry's Gemini spans report candidate tokens only, without the thoughts.
    return emitter == OPENLLMETRY and scope_name.startswith(
        ("opentelemetry.instrumentation.google_generativeai", "opentelemetry.instrumentation.google_genai")
    )


# -- usage kept inside JSON strings ----------------------------------------------------------------

Paths = dict[str, tuple[tuple[str, ...], ...]]
# JSON path (as nested keys) -> usage field, per attribute; the first path present wins per field.
_LITELLM_PATHS: Paths = {
    "cache_read": (("cache_read_input_tokens",), ("prompt_tokens_details", "cached_tokens")),
    "cache_write": (
        ("cache_creation_input_tokens",),
        ("prompt_tokens_details", "cache_write_tokens"),
        ("prompt_tokens_details", "cache_creation_tokens"),
    ),
    "cache_write_1h": (
        ("prompt_tokens_details", "cache_creation_token_details", "ephemeral_1h_input_tokens"),
    ),
    "reasoning": (("completion_tokens_details", "reasoning_tokens"),),
    "input": (("prompt_tokens",),),
    "output": (("completion_tokens",),),
}
_VERCEL_PATHS: Paths = {
    "cache_write": (("anthropic", "cacheCreationInputTokens"),),
    "cache_write_1h": (("anthropic", "usage", "cache_creation", "ephemeral_1h_input_tokens"),),
    "cache_read": (
        ("openai", "cachedPromptTokens"),
        ("anthropic", "cacheReadInputTokens"),  # v4
        ("anthropic", "usage", "cache_read_input_tokens"),  # v5
    ),
    "reasoning": (("openai", "reasoningTokens"),),
}
# The provider's own usage object, which LiteLLM puts on its raw_gen_ai_request span under
# llm.<provider>.usage: the only place it keeps Anthropic's one-hour cache writes.
_PROVIDER_USAGE_PATHS: Paths = {
    "cache_write_1h": (("cache_creation", "ephemeral_1h_input_tokens"),),
}
_RESPONSE_PATHS: Paths = {
    "cache_write_1h": (("usage", "cache_creation", "ephemeral_1h_input_tokens"),),
}
_JSON_PATHS: dict[str, Paths] = {
    "metadata.usage_object": _LITELLM_PATHS,
    "ai.response.providerMetadata": _VERCEL_PATHS,
    "output.value": _RESPONSE_PATHS,
    "provider_usage": _PROVIDER_USAGE_PATHS,
}
# A whole response body is parsed only for a part of the usage that the plain keys say exists.
_JSON_NEEDS = {"output.value": "cache_write"}
_MAX_JSON_CHARS = 1_000_000
_MAX_REPR_CHARS = 20_000


def _dig(document: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    if len(text) > _MAX_REPR_CHARS:
        return None
    # LiteLLM writes these as Python reprs ({'prompt_tokens': 10, 'x': None}): literals only,
    # and short ones, so evaluation stays cheap and safe.
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def provider_usage(attributes: Any) -> dict[str, Any]:
    """Usage details on a LiteLLM raw_gen_ai_request span (llm.<provider>.usage), for its parent."""
    for kv in attributes:
        key = kv.key
        if isinstance(key, str) and key.startswith("llm.") and key.endswith(".usage"):
            return json_usage("provider_usage", kv.value.string_value, {"cache_write_1h"})
    return {}


def json_fields(attribute: str, present: Any) -> set[str]:
    """The usage fields an attribute can provide, given the fields already ``present``."""
    need = _JSON_NEEDS.get(attribute)
    if need is not None and need not in present:
        return set()
    return {name for name in _JSON_PATHS[attribute] if name not in present}


def json_usage(attribute: str, text: Any, missing: set[str]) -> dict[str, Any]:
    """The usage fields in ``missing`` that a JSON string attribute carries."""
    if not isinstance(text, str) or len(text) > _MAX_JSON_CHARS or not missing:
        return {}
    document = _parse(text)
    if document is None:
        return {}  # not usage we can read: the span keeps what its plain keys say
    found: dict[str, Any] = {}
    for name, paths in _JSON_PATHS[attribute].items():
        if name not in missing:
            continue
        for path in paths:
            value = _dig(document, path)
            if value is not None and not isinstance(value, dict | list):
                found[name] = value
                break
    return found


# -- a provider the span does not name -------------------------------------------------------------


def infer_provider(model: str, host: str, port: Any) -> str:
    """The provider of a call whose span names none, from the API host or the model's family."""
    host = host.lower()
    for suffix, provider in cv.PROVIDER_BY_HOST_SUFFIX:
        if host.endswith(suffix):
            return provider
    if isinstance(port, int) and port in cv.PROVIDER_BY_PORT:
        return cv.PROVIDER_BY_PORT[port]
    lowered = model.lower()
    route, sep, _ = lowered.partition("/")
    if sep and route in cv.PROVIDER_ALIASES:
        return cv.PROVIDER_ALIASES[route]
    for prefix, provider in cv.PROVIDER_BY_MODEL_PREFIX:
        if lowered.startswith(prefix):
            return provider
    return ""
