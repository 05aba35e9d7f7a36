"""Instrument boto3's ``bedrock-runtime`` client (Converse and ConverseStream)."""

from __future__ import annotations

from ..instrumentor import SpendgateInstrumentor, Target
from . import patch


class BedrockInstrumentor(SpendgateInstrumentor):
    sdk = "botocore"
    package = "botocore >= 1.34"
    targets = (Target("botocore.client", "BaseClient._make_api_call", patch.make_api_call),)


__all__ = ["BedrockInstrumentor"]
