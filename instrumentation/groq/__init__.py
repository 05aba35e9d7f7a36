"""Instrument the ``groq`` SDK (sync and async)."""

from __future__ import annotations

from ..instrumentor import SpendgateInstrumentor, Target
from . import patch

_CHAT = "groq.resources.chat.completions"


class GroqInstrumentor(SpendgateInstrumentor):
    sdk = "groq"
    package = "groq >= 0.9"
    targets = (
        Target(_CHAT, "Completions.create", patch.CHAT),
        Target(_CHAT, "AsyncCompletions.create", patch.CHAT, is_async=True),
    )


__all__ = ["GroqInstrumentor"]
