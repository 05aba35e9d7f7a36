"""Turn decoded OTLP spans into usage records, one per billable LLM call.

Reads every convention in :mod:`conventions`, applies each emitter's token
inclusion rules, validates token counts and collects attribution from span
and resource attributes. Spans that are not leaf model calls are counted and
dropped; spans with invalid usage are rejected with a reason while the rest
of the request is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import conventions as cv
from . import emitters
from .calls import call_key, one_per_call

MAX_TOKENS_PER_SPAN = 10**10  # far above any context window; larger is corrupt data
MAX_DIMENSION_CHARS = 256
MAX_NAME_CHARS = 512
_MAX_ERRORS_KEPT = 20

# Every attribute the normaliser reads, mapped to (field, priority): lower priority wins
# when a span carries several spellings of one field. One pass over a span's
# attributes then yields each field's winning value and the key it came from.
_TOKEN_FIELDS = {
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
            **{"attr:" + dim: keys for dim, keys in cv.ATTRIBUTION.items() if dim != "service"},
        }
    )


def _own_keys_first(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for k in keys if k.startswith("ai.")) + tuple(k for k in keys if not k.startswith("ai."))


_SPAN_FIELDS = _span_fields(_TOKEN_FIELDS)
# On the Vercel AI SDK's spans its own ai.usage.* counts win: the gen_ai.* copies that v5 adds
# repeat them, and the emitter's inclusion rule is stated for its own keys.
_VERCEL_SPAN_FIELDS = _span_fields({name: _own_keys_first(keys) for name, keys in _TOKEN_FIELDS.items()})
_RESOURCE_FIELDS = _field_table(
    {
        **{"attr:" + dim: keys for dim, keys in cv.ATTRIBUTION.items()},
        "sdk": ("telemetry.sdk.name",),
    }
)
_ATTRIBUTION_FIELDS = tuple(("attr:" + dim, dim) for dim in cv.ATTRIBUTION)
_STATUS = {0: "unset", 1: "ok", 2: "error"}
_UNREAD_KINDS = frozenset({"array_value", "kvlist_value", "bytes_value"})


class InvalidUsage(ValueError):
    """A span's usage attributes cannot be trusted."""


@dataclass(slots=True)
class UsageRecord:
    """One billable model call, before pricing."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    start_time_ns: int
    end_time_ns: int
    span_name: str
    status_code: str
    error_type: str
    emitter: str
    provider: str
    operation: str
    request_model: str
    response_model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    usage_estimated: bool
    attribution: dict[str, str]
    # The part of cache_write_tokens written with a one-hour lifetime (priced higher than 5 minutes).
    cache_write_1h_tokens: int = 0
    response_id: str = ""
    # The call's identity (see calls.call_key), shared by every span that reports the same call.
    call_key: bytes = b""

    @property
    def key(self) -> bytes:
        """Identity of the span: the same span is stored once."""
        return self.trace_id + self.span_id

    @property
    def model(self) -> str:
        return self.response_model or self.request_model


@dataclass
class NormalizeResult:
    records: list[UsageRecord] = field(default_factory=list)
    non_llm_spans: int = 0
    rejected_spans: int = 0
    # Reports of a call that another span of the request already describes (not billed again).
    duplicate_calls: int = 0
    errors: list[str] = field(default_factory=list)
    # Usage details that a child span carries for its model-call parent: (trace, span) -> fields.
    details: dict[bytes, dict[str, Any]] = field(default_factory=dict)

    def reject(self, message: str) -> None:
        self.rejected_spans += 1
        if len(self.errors) < _MAX_ERRORS_KEPT:
            self.errors.append(message)


def _text(value: str | bytes) -> str:
    # The lenient decoder hands out bytes for string fields with invalid UTF-8.
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


Found = dict[str, tuple[int, Any, str]]  # field -> (priority, value, attribute key)


def _collect(attributes: Iterable[Any], fields: dict[str, tuple[str, int]]) -> Found:
    """Each wanted field's best value among the attributes; empty strings count as absent."""
    found: Found = {}
    for kv in attributes:
        key = kv.key
        if type(key) is bytes:  # lenient decode: keys are bytes too
            key = _text(key)
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
                value = _text(value)
            if not value:
                continue
        name, priority = slot
        current = found.get(name)
        if current is None or priority < current[0]:
            found[name] = (priority, value, key)
    return found


def _value(found: Found, name: str) -> Any:
    entry = found.get(name)
    return None if entry is None else entry[1]


def _clip(value: Any, limit: int = MAX_DIMENSION_CHARS) -> str:
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
            raise InvalidUsage(f"{key}={_clip(value, 40)!r} is not a token count")
        value = int(stripped)
    elif not isinstance(value, int):
        raise InvalidUsage(f"{key} has an unsupported type {type(value).__name__}")
    if value < 0:
        raise InvalidUsage(f"{key}={value} is negative")
    if value > MAX_TOKENS_PER_SPAN:
        raise InvalidUsage(f"{key}={value} exceeds the plausible maximum of {MAX_TOKENS_PER_SPAN}")
    return value


def _tokens(found: Found, name: str) -> int:
    entry = found.get(name)
    return 0 if entry is None else token_count(entry[2], entry[1])


def classify_operation(found: Found) -> str | None:
    """The leaf operation of a model-call span, or None for any other span."""
    op = _value(found, "gen_ai.operation.name")
    if isinstance(op, str):
        op = op.lower()
        if op in cv.LEAF_OPERATIONS:
            return cv.LEAF_OPERATIONS[op]
        return None
    kind = _value(found, cv.TRACELOOP_KIND)
    if isinstance(kind, str) and kind.lower() in cv.ROLLUP_OPERATIONS:
        return None
    oi_kind = _value(found, cv.OPENINFERENCE_KIND)
    if isinstance(oi_kind, str):
        return cv.OPENINFERENCE_LEAF.get(oi_kind.upper())
    vercel_op = _value(found, cv.VERCEL_OPERATION)
    if isinstance(vercel_op, str):
        for suffix, operation in cv.VERCEL_LEAF_SUFFIXES.items():
            if vercel_op.endswith(suffix):
                return operation
        return None  # ai.generateText and friends repeat their children's usage
    legacy = _value(found, "llm.request.type")
    if isinstance(legacy, str):
        return cv.LEAF_OPERATIONS.get(legacy.lower())
    # No operation named: a span that carries a model and usage is a model call.
    has_usage = "input" in found or "output" in found
    return "chat" if has_usage and "request_model" in found else None


_JSON_FILLABLE = frozenset(_TOKEN_FIELDS)


def _fill_from_json(found: Found) -> None:
    """Usage that LiteLLM or Vercel keep only in a JSON string, where no plain key carries it."""
    for attribute in cv.USAGE_JSON_ATTRIBUTES:
        entry = found.get(attribute)
        if entry is None:
            continue
        missing = {name for name in _JSON_FILLABLE if name not in found}
        for name, value in emitters.json_usage(attribute, entry[1], missing).items():
            found[name] = (len(cv.INPUT_TOKENS), value, f"{attribute}:{name}")


def _usage(found: Found, provider: str, emitter: str, scope_name: str) -> tuple[int, ...]:
    """(input, output, cache read, cache write, one-hour cache write, reasoning) in convention terms."""
    input_tokens = _tokens(found, "input")
    output_tokens = _tokens(found, "output")
    cache_read = _tokens(found, "cache_read")
    cache_write = _tokens(found, "cache_write")
    cache_write_1h = _tokens(found, "cache_write_1h")
    reasoning = _tokens(found, "reasoning")
    if cache_write_1h and not cache_write:
        cache_write = cache_write_1h  # only the one-hour part named: it is all the writes there are
    cache_write_1h = min(cache_write_1h, cache_write)
    input_entry = found.get("input")
    input_key = None if input_entry is None else input_entry[2]
    split_reported = cv.VERCEL_UNCACHED_INPUT in found
    if (
        emitters.input_excludes_cache(emitter, provider, input_key, split_reported)
        or cache_read + cache_write > input_tokens
    ):
        # The emitter reports the provider's raw input, which leaves cache reads and writes
        # out; the convention (and pricing) counts them in.
        input_tokens += cache_read + cache_write
    if reasoning and emitters.output_excludes_reasoning(emitter, scope_name):
        output_tokens += reasoning
    if reasoning > output_tokens:
        output_tokens += reasoning
    return input_tokens, output_tokens, cache_read, cache_write, cache_write_1h, reasoning


def _provider(found: Found, model: str) -> str:
    provider = cv.normalize_provider(_clip(_value(found, "provider") or ""))
    if provider:
        return provider
    host = _value(found, "server_address")
    routed = _value(found, "routed_model")
    return emitters.infer_provider(
        routed if isinstance(routed, str) else model,
        host if isinstance(host, str) else "",
        _value(found, "server_port"),
    )


def _apply_details(result: NormalizeResult) -> None:
    for record in result.records:
        details = result.details.get(record.trace_id + record.span_id)
        if details and not record.cache_write_1h_tokens:
            try:
                one_hour = token_count("cache_write_1h", details.get("cache_write_1h", 0))
            except InvalidUsage:
                continue  # a detail we cannot read leaves the call as its own span reports it
            record.cache_write_1h_tokens = min(one_hour, record.cache_write_tokens)


def normalize_request(request: Any) -> NormalizeResult:
    """Normalise an ExportTraceServiceRequest (strict or lenient message)."""
    result = NormalizeResult()
    for resource_spans in request.resource_spans:
        resource = _collect(resource_spans.resource.attributes, _RESOURCE_FIELDS)
        sdk_name = str(_value(resource, "sdk") or "")
        resource_attribution = {
            dim: _clip(entry[1])
            for name, dim in _ATTRIBUTION_FIELDS
            if (entry := resource.get(name)) is not None
        }
        for scope_spans in resource_spans.scope_spans:
            scope_name = _text(scope_spans.scope.name)
            scope_emitter = emitters.from_scope(scope_name, sdk_name)
            for span in scope_spans.spans:
                _normalize_span(span, resource_attribution, scope_emitter, scope_name, result)
    if result.details:
        _apply_details(result)
    if len(result.records) > 1:
        kept, dropped = one_per_call(result.records)
        result.records = [record for record, _ in kept]
        for record, key in kept:
            record.call_key = key
        result.duplicate_calls = dropped
    elif result.records:
        record = result.records[0]
        record.call_key = call_key(record)
    return result


def _normalize_span(
    span: Any, resource_attribution: dict[str, str], scope_emitter: str | None, scope_name: str,
    result: NormalizeResult,
) -> None:  # fmt: skip
    fields = _VERCEL_SPAN_FIELDS if scope_emitter == emitters.VERCEL else _SPAN_FIELDS
    found = _collect(span.attributes, fields)
    operation = classify_operation(found)
    if operation is None:
        result.non_llm_spans += 1
        if scope_emitter == emitters.LITELLM and (details := emitters.provider_usage(span.attributes)):
            result.details[bytes(span.trace_id) + bytes(span.parent_span_id)] = details
        return
    trace_id, span_id = bytes(span.trace_id), bytes(span.span_id)
    if len(trace_id) != 16 or len(span_id) != 8 or not any(trace_id) or not any(span_id):
        result.reject(f"span {_clip(_text(span.name), 60)!r}: trace_id/span_id missing or malformed")
        return
    _fill_from_json(found)
    request_model = _clip(_value(found, "request_model") or "")
    response_model = _clip(_value(found, "response_model") or "")
    provider = _provider(found, response_model or request_model)
    input_entry = found.get("input")
    emitter = scope_emitter or emitters.from_keys(None if input_entry is None else input_entry[2])
    try:
        usage = _usage(found, provider, emitter, scope_name)
    except InvalidUsage as exc:
        result.reject(f"span {span_id.hex()}: {exc}")
        return
    attribution = dict(resource_attribution)
    for name, dim in _ATTRIBUTION_FIELDS:
        entry = found.get(name)
        if entry is not None:
            attribution[dim] = _clip(entry[1])
    parent = bytes(span.parent_span_id)
    start_ns = span.start_time_unix_nano
    end_ns = span.end_time_unix_nano or start_ns
    estimated = _value(found, cv.USAGE_ESTIMATED)
    response_id = _value(found, "response_id")
    result.records.append(
        UsageRecord(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent if len(parent) == 8 else b"\0" * 8,
            start_time_ns=start_ns,
            end_time_ns=max(end_ns, start_ns),
            span_name=_clip(_text(span.name), MAX_NAME_CHARS),
            status_code=_STATUS.get(span.status.code, "unset"),
            error_type=_clip(_value(found, cv.ERROR_TYPE) or ""),
            emitter=emitter,
            provider=provider,
            operation=operation,
            request_model=request_model,
            response_model=response_model,
            input_tokens=usage[0],
            output_tokens=usage[1],
            cache_read_tokens=usage[2],
            cache_write_tokens=usage[3],
            cache_write_1h_tokens=usage[4],
            reasoning_tokens=usage[5],
            usage_estimated=estimated is True or estimated == "true",
            attribution=attribution,
            response_id=_clip(response_id) if isinstance(response_id, str) else "",
        )
    )
