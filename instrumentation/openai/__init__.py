"""Instrument the ``openai`` SDK (OpenAI and AzureOpenAI, sync and async)."""

from __future__ import annotations

from ..instrumentor import SpendgateInstrumentor, Target
from . import patch

_CHAT = "openai.resources.chat.completions.completions"
_RESPONSES = "openai.resources.responses.responses"


class OpenAIInstrumentor(SpendgateInstrumentor):
    sdk = "openai"
    package = "openai >= 1.40"
    targets = (
        Target(_CHAT, "Completions.create", patch.CHAT),
        Target(_CHAT, "AsyncCompletions.create", patch.CHAT, is_async=True),
        Target(_CHAT, "Completions.parse", patch.CHAT_PARSE),
        Target(_CHAT, "AsyncCompletions.parse", patch.CHAT_PARSE, is_async=True),
        Target(_RESPONSES, "Responses.create", patch.RESPONSES),
        Target(_RESPONSES, "AsyncResponses.create", patch.RESPONSES, is_async=True),
        Target("openai.resources.embeddings", "Embeddings.create", patch.EMBEDDINGS),
        Target("openai.resources.embeddings", "AsyncEmbeddings.create", patch.EMBEDDINGS, is_async=True),
        Target("openai.resources.completions", "Completions.create", patch.COMPLETIONS),
        Target("openai.resources.completions", "AsyncCompletions.create", patch.COMPLETIONS, is_async=True),
    )


__all__ = ["OpenAIInstrumentor"]
