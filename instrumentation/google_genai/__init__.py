"""Instrument the ``google-genai`` SDK (Gemini API and Vertex AI, sync and async)."""

from __future__ import annotations

from ..instrumentor import SpendgateInstrumentor, Target
from . import patch

_MODELS = "google.genai.models"


class GoogleGenAIInstrumentor(SpendgateInstrumentor):
    sdk = "google.genai"
    package = "google-genai >= 1.0"
    targets = (
        Target(_MODELS, "Models._generate_content", patch.GENERATE),
        Target(_MODELS, "AsyncModels._generate_content", patch.GENERATE, is_async=True),
        Target(_MODELS, "Models._generate_content_stream", patch.GENERATE_STREAM),
        Target(_MODELS, "AsyncModels._generate_content_stream", patch.GENERATE_STREAM, is_async=True),
        Target(_MODELS, "Models.embed_content", patch.EMBED),
        Target(_MODELS, "AsyncModels.embed_content", patch.EMBED, is_async=True),
    )


__all__ = ["GoogleGenAIInstrumentor"]
