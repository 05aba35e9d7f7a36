"""Reading a span's attributes: which keys mean which field, and validated values.

Every attribute the normaliser reads maps to (field, priority): lower priority
wins when a span carries several spellings of one field, so one pass over a
span's attributes yields each field's winning value and the key it came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spendgate.collector.ingest import conventions as cv

MAX_TOKENS_PER_SPAN = 10**10  # far above any context window; larger is corrupt data
MAX_DIMENSION_CHARS = 256
MAX_NAME_CHARS = 512


TOKEN_FIELDS = {
    "input": cv.INPUT_TOKENS,
    "output": cv.OUTPUT_TOKENS,
    "cache_read": cv.CACHE_READ_TOKENS,
    "cache_write": cv.CACHE_WRITE_TOKENS,
    "cache_write_1h": cv.CACHE_WRITE_1H_TOKENS,
    "reasoning": cv.REASONING_TOKENS,
}
_SINGLE_KEYS = (
    "gen_ai.operation.name",
    "llm.request.type",
    cv.OPENINFERENCE_KIND,
    cv.VERCEL_OPERATION,
    cv.TRACELOOP_KIND,
    cv.ERROR_TYPE,
    cv.USAGE_ESTIMATED,
    cv.VERCEL_UNCACHED_INPUT,
    *cv.USAGE_JSON_ATTRIBUTES,
)


def _field_table(groups: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, int]]:
    table: dict[str, tuple[str, int]] = {}
    for name, keys in groups.items():
        for priority, key in enumerate(keys):
            table.setdefault(key, (name, priority))
    return table


def _span_fields(token_fields: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, int]]:
    return _field_table(
        {
            **token_fields,
            "provider": cv.PROVIDER,
            "request_model": cv.REQUEST_MODEL,
            "response_model": cv.RESPONSE_MODEL,
            "response_id": cv.RESPONSE_ID,
            "server_address": cv.SERVER_ADDRESS,
            "server_port": cv.SERVER_PORT,
            "routed_model": cv.ROUTED_MODEL,
            **{key: (key,) for key in _SINGLE_KEYS},
            **{"attr:" + dim: keys for dim, keys in cv.SPAN_ATTRIBUTION.items()},
        }
    )


def _own_keys_first(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for k in keys if k.startswith("ai.")) + tuple(k for k in keys if not k.startswith("ai."))


SPAN_FIELDS = _span_fields(TOKEN_FIELDS)
# On the Vercel AI SDK's spans its own ai.usage.* counts win: the gen_ai.* copies that v5 adds
# repeat them, and the emitter's inclusion rule is stated for its own keys.
VERCEL_SPAN_FIELDS = _span_fields({name: _own_keys_first(keys) for name, keys in TOKEN_FIELDS.items()})
RESOURCE_FIELDS = _field_table(
    {
        **{"attr:" + dim: keys for dim, keys in cv.ATTRIBUTION.items()},
        "sdk": ("telemetry.sdk.name",),
    }
)
ATTRIBUTION_FIELDS = tuple(("attr:" + dim, dim) for dim in cv.ATTRIBUTION)
_UNREAD_KINDS = frozenset({"array_value", "kvlist_value", "bytes_value"})


class InvalidUsage(ValueError):
    """A span's usage attributes cannot be trusted."""


def text(value: str | bytes) -> str:
    # The lenient decoder hands out bytes for string fields with invalid UTF-8.
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


Found = dict[str, tuple[int, Any, str]]  # field -> (priority, value, attribute key)


def collect(attributes: Iterable[Any], fields: dict[str, tuple[str, int]]) -> Found:
    """Each wanted field's best value among the attributes; empty strings count as absent."""
    found: Found = {}
    for kv in attributes:
        key = kv.key
        if type(key) is bytes:  # lenient decode: keys are bytes too
            key = text(key)
        slot = fields.get(key)
        if slot is None:
            continue
        any_value = kv.value
        kind = any_value.WhichOneof("value")
        if kind is None or kind in _UNREAD_KINDS:
            continue
        value = getattr(any_value, kind)
        if kind == "string_value":
            if type(value) is bytes:
                value = text(value)
            if not value:
                continue
        name, priority = slot
        current = found.get(name)
        if current is None or priority < current[0]:
            found[name] = (priority, value, key)
    return found


def value(found: Found, name: str) -> Any:
    entry = found.get(name)
    return None if entry is None else entry[1]


def clip(value: Any, limit: int = MAX_DIMENSION_CHARS) -> str:
    if type(value) is str and len(value) <= limit:
        return value
    text = value if isinstance(value, str) else str(value)
    return text[:limit]


def token_count(key: str, value: Any) -> int:
    """Validate one token-count attribute value."""
    if type(value) is int and 0 <= value <= MAX_TOKENS_PER_SPAN:
        return value  # the common case, checked first
    if isinstance(value, bool):
        raise InvalidUsage(f"{key} is a boolean, expected a token count")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or not value.is_integer():
            raise InvalidUsage(f"{key}={value!r} is not a whole number of tokens")
        value = int(value)
    elif isinstance(value, str):
        stripped = value.strip()
        # isdigit() alone admits "²" and other non-ASCII digits that int() refuses; more than
        # 11 digits is beyond the maximum anyway (and int() of thousands of digits raises).
        if not (stripped.isascii() and stripped.isdigit()) or len(stripped) > 11:
            raise InvalidUsage(f"{key}={clip(value, 40)!r} is not a token count")
        value = int(stripped)
    elif not isinstance(value, int):
        raise InvalidUsage(f"{key} has an unsupported type {type(value).__name__}")
    if value < 0:
        raise InvalidUsage(f"{key}={value} is negative")
    if value > MAX_TOKENS_PER_SPAN:
        raise InvalidUsage(f"{key}={value} exceeds the plausible maximum of {MAX_TOKENS_PER_SPAN}")
    return value


def tokens(found: Found, name: str) -> int:
    entry = found.get(name)
    return 0 if entry is None else token_count(entry[2], entry[1])
