"""Token estimates for calls whose provider reported no usage.

Uses tiktoken's ``o200k_base`` encoding when its data is available (it is
downloaded once into tiktoken's cache); otherwise about four characters per
token. Either way the span is marked ``spendgate.usage.estimated=true``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("spendgate.instrumentation")
_encoder: Callable[[str], int] | None = None


def _load_encoder() -> Callable[[str], int]:
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("o200k_base")
        return lambda text: len(encoding.encode(text, disallowed_special=()))
    except Exception:  # no package, or no network to fetch the encoding
        logger.info("spendgate: tiktoken encoding unavailable; estimating tokens as characters / 4")
        return lambda text: (len(text) + 3) // 4


def count_tokens(text: str) -> int:
    global _encoder
    if _encoder is None:
        _encoder = _load_encoder()
    return _encoder(text) if text else 0


def text_of(content: Any) -> str:
    """The text inside chat messages, a prompt string or a list of either."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        parts = [text_of(content.get(key)) for key in ("content", "text", "input", "prompt")]
        return "\n".join(part for part in parts if part)
    if isinstance(content, list | tuple):
        return "\n".join(text_of(item) for item in content)
    return ""
