"""Instrument the ``ollama`` SDK (sync and async clients, and the module-level functions)."""

from __future__ import annotations

from typing import Any

from ..instrumentor import SpendgateInstrumentor, Target
from . import patch

_CLIENT = "ollama._client"
# ollama.chat and friends are methods bound to a default client at import time:
# they are re-bound after patching so they go through the patched methods too.
_MODULE_FUNCTIONS = ("chat", "generate", "embed")


class OllamaInstrumentor(SpendgateInstrumentor):
    sdk = "ollama"
    package = "ollama >= 0.3"
    targets = (
        Target(_CLIENT, "Client.chat", patch.CHAT),
        Target(_CLIENT, "AsyncClient.chat", patch.CHAT, is_async=True),
        Target(_CLIENT, "Client.generate", patch.GENERATE),
        Target(_CLIENT, "AsyncClient.generate", patch.GENERATE, is_async=True),
        Target(_CLIENT, "Client.embed", patch.EMBED),
        Target(_CLIENT, "AsyncClient.embed", patch.EMBED, is_async=True),
    )

    def _instrument(self, **kwargs: Any) -> None:
        super()._instrument(**kwargs)
        self._rebind()

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        self._rebind()

    @staticmethod
    def _rebind() -> None:
        import ollama

        default = getattr(ollama, "_client", None)
        if default is None:
            return
        for name in _MODULE_FUNCTIONS:
            if hasattr(ollama, name) and hasattr(default, name):
                setattr(ollama, name, getattr(default, name))


__all__ = ["OllamaInstrumentor"]
