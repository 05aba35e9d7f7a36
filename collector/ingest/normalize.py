"""Turn decoded OTLP spans into usage records, one per billable LLM call.

Reads every convention in :mod:`conventions`, applies each emitter's token
inclusion rules, validates token counts and collects attribution from span
and resource attributes. Spans that are not leaf model calls are counted and
dropped; spans with invalid usage are rejected with a reason while the rest
of the request is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from spendgate.collector.ingest import conventions as cv
from spendgate.collector.ingest import emitters
from spendgate.collector.ingest import span_fields as sf
from spendgate.collector.ingest.calls import one_per_call

_MAX_ERRORS_KEPT = 20
_STATUS = {0: "unset", 1: "ok", 2: "error"}


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
    # Start and end times this request's spans may have (Unix ns), from TimeBounds.
    accepted_ns: tuple[int, int] = (0, 2**64)

    def reject(self, message: str) -> None:
        self.rejected_spans += 1
        if len(self.errors) < _MAX_ERRORS_KEPT:
            self.errors.append(message)


def classify_operation(found: sf.Found) -> str | None:
    """The leaf operation of a model-call span, or None for any other span."""
    op = sf.value(found, "gen_ai.operation.name")
    if isinstance(op, str):
        op = op.lower()
        if op in cv.LEAF_OPERATIONS:
            return cv.LEAF_OPERATIONS[op]
        return None
    kind = sf.value(found, cv.TRACELOOP_KIND)
    if isinstance(kind, str) and kind.lower() in cv.ROLLUP_OPERATIONS:
        return None
    oi_kind = sf.value(found, cv.OPENINFERENCE_KIND)
    if isinstance(oi_kind, str):
        return cv.OPENINFERENCE_LEAF.get(oi_kind.upper())
    vercel_op = sf.value(found, cv.VERCEL_OPERATION)
    if isinstance(vercel_op, str):
        for suffix, operation in cv.VERCEL_LEAF_SUFFIXES.items():
            if vercel_op.endswith(suffix):
                return operation
        return None  # ai.generateText and friends repeat their children's usage
    legacy = sf.value(found, "llm.request.type")
    if isinstance(legacy, str):
        return cv.LEAF_OPERATIONS.get(legacy.lower())
    # No operation named: a span that carries a model and usage is a model call.
    has_usage = "input" in found or "output" in found
    return "chat" if has_usage and "request_model" in found else None


def _fill_from_json(found: sf.Found) -> None:
    """Usage that LiteLLM or Vercel keep only in a JSON string, where no plain key carries it."""
    for attribute in cv.USAGE_JSON_ATTRIBUTES:
        entry = found.get(attribute)
        if entry is None:
            continue
        for name, value in emitters.json_usage(
            attribute, entry[1], emitters.json_fields(attribute, found)
        ).items():
            found[name] = (len(cv.INPUT_TOKENS), value, f"{attribute}:{name}")


def _usage(found: sf.Found, provider: str, emitter: str, scope_name: str) -> tuple[int, ...]:
    """(input, output, cache read, cache write, one-hour cache write, reasoning) in convention terms."""
    input_tokens = sf.tokens(found, "input")
    output_tokens = sf.tokens(found, "output")
    cache_read = sf.tokens(found, "cache_read")
    cache_write = sf.tokens(found, "cache_write")
    cache_write_1h = sf.tokens(found, "cache_write_1h")
    reasoning = sf.tokens(found, "reasoning")
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


def _provider(found: sf.Found, model: str) -> str:
    provider = cv.normalize_provider(sf.clip(sf.value(found, "provider") or ""))
    if provider:
        return provider
    host = sf.value(found, "server_address")
    routed = sf.value(found, "routed_model")
    return emitters.infer_provider(
        routed if isinstance(routed, str) else model,
        host if isinstance(host, str) else "",
        sf.value(found, "server_port"),
    )


def _apply_details(result: NormalizeResult) -> None:
    for record in result.records:
        details = result.details.get(record.trace_id + record.span_id)
        if details and not record.cache_write_1h_tokens:
            try:
                one_hour = sf.token_count("cache_write_1h", details.get("cache_write_1h", 0))
            except sf.InvalidUsage:
                continue  # a detail we cannot read leaves the call as its own span reports it
            record.cache_write_1h_tokens = min(one_hour, record.cache_write_tokens)


@dataclass(frozen=True)
class TimeBounds:
    """Which start times a call may have. Older than the detailed retention, its row would expire
    from llm_spans at once while the rollups kept it (and a resend could not be recognised);
    far in the future it is a broken clock, and past 2106 it would overflow 32-bit times."""

    max_age_s: float = 90 * 86400.0
    max_ahead_s: float = 86400.0

    def window(self, now_ns: int) -> tuple[int, int]:
        return now_ns - int(self.max_age_s * 1e9), now_ns + int(self.max_ahead_s * 1e9)


def _when(ns: int) -> str:
    try:
        return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="seconds")
    except (OverflowError, ValueError, OSError):
        return f"{ns} ns"


def _time_problem(start_ns: int, end_ns: int, bounds: tuple[int, int]) -> str | None:
    earliest, latest = bounds
    if start_ns < earliest:
        return f"start time {_when(start_ns)} is older than the detailed retention allows"
    if start_ns > latest or end_ns > latest:
        return f"start or end time ({_when(start_ns)}, {_when(end_ns)}) is more than a day in the future"
    return None


def normalize_request(
    request: Any, bounds: TimeBounds | None = None, now_ns: int | None = None
) -> NormalizeResult:
    """Normalise an ExportTraceServiceRequest (strict or lenient message)."""
    result = NormalizeResult()
    if bounds is not None:
        result.accepted_ns = bounds.window(time.time_ns() if now_ns is None else now_ns)
    for resource_spans in request.resource_spans:
        resource = sf.collect(resource_spans.resource.attributes, sf.RESOURCE_FIELDS)
        sdk_name = str(sf.value(resource, "sdk") or "")
        resource_attribution = {
            dim: sf.clip(entry[1])
            for name, dim in sf.ATTRIBUTION_FIELDS
            if (entry := resource.get(name)) is not None
        }
        for scope_spans in resource_spans.scope_spans:
            scope_name = sf.text(scope_spans.scope.name)
            scope_emitter = emitters.from_scope(scope_name, sdk_name)
            for span in scope_spans.spans:
                _normalize_span(span, resource_attribution, scope_emitter, scope_name, result)
    if result.details:
        _apply_details(result)
    kept, result.duplicate_calls = one_per_call(result.records)
    result.records = [record for record, _ in kept]
    for record, key in kept:
        record.call_key = key
    return result


def _normalize_span(
    span: Any,
    resource_attribution: dict[str, str],
    scope_emitter: str | None,
    scope_name: str,
    result: NormalizeResult,
) -> None:
    fields = sf.VERCEL_SPAN_FIELDS if scope_emitter == emitters.VERCEL else sf.SPAN_FIELDS
    found = sf.collect(span.attributes, fields)
    operation = classify_operation(found)
    if operation is None:
        result.non_llm_spans += 1
        if scope_emitter == emitters.LITELLM and (details := emitters.provider_usage(span.attributes)):
            result.details[bytes(span.trace_id) + bytes(span.parent_span_id)] = details
        return
    trace_id, span_id = bytes(span.trace_id), bytes(span.span_id)
    if len(trace_id) != 16 or len(span_id) != 8 or not any(trace_id) or not any(span_id):
        result.reject(f"span {sf.clip(sf.text(span.name), 60)!r}: trace_id/span_id missing or malformed")
        return
    _fill_from_json(found)
    request_model = sf.clip(sf.value(found, "request_model") or "")
    response_model = sf.clip(sf.value(found, "response_model") or "")
    provider = _provider(found, response_model or request_model)
    input_entry = found.get("input")
    emitter = scope_emitter or emitters.from_keys(None if input_entry is None else input_entry[2])
    try:
        usage = _usage(found, provider, emitter, scope_name)
    except sf.InvalidUsage as exc:
        result.reject(f"span {span_id.hex()}: {exc}")
        return
    attribution = dict(resource_attribution)
    for name, dim in sf.ATTRIBUTION_FIELDS:
        entry = found.get(name)
        if entry is not None:
            attribution[dim] = sf.clip(entry[1])
    parent = bytes(span.parent_span_id)
    start_ns = span.start_time_unix_nano
    end_ns = max(span.end_time_unix_nano, start_ns)
    problem = _time_problem(start_ns, end_ns, result.accepted_ns)
    if problem is not None:
        result.reject(f"span {span_id.hex()}: {problem}")
        return
    estimated = sf.value(found, cv.USAGE_ESTIMATED)
    response_id = sf.value(found, "response_id")
    result.records.append(
        UsageRecord(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent if len(parent) == 8 else b"\0" * 8,
            start_time_ns=start_ns,
            end_time_ns=end_ns,
            span_name=sf.clip(sf.text(span.name), sf.MAX_NAME_CHARS),
            status_code=_STATUS.get(span.status.code, "unset"),
            error_type=sf.clip(sf.value(found, cv.ERROR_TYPE) or ""),
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
            response_id=sf.clip(response_id) if isinstance(response_id, str) else "",
        )
    )
