"""Instrument the ``mistralai`` SDK (sync and async)."""

from __future__ import annotations

from ..instrumentor import SpendgateInstrumentor, Target
from . import patch

_CHAT = "mistralai.client.chat"
_EMBEDDINGS = "mistralai.client.embeddings"


class MistralInstrumentor(SpendgateInstrumentor):
    sdk = "mistralai"
    package = "mistralai >= 1.0"
    targets = (
        Target(_CHAT, "Chat.complete", patch.CHAT),
        Target(_CHAT, "Chat.complete_async", patch.CHAT, is_async=True),
        Target(_CHAT, "Chat.stream", patch.CHAT_STREAM),
        Target(_CHAT, "Chat.stream_async", patch.CHAT_STREAM, is_async=True),
        Target(_EMBEDDINGS, "Embeddings.create", patch.EMBEDDINGS),
        Target(_EMBEDDINGS, "Embeddings.create_async", patch.EMBEDDINGS, is_async=True),
    )


__all__ = ["MistralInstrumentor"]
