"""Decode OTLP trace export requests (protobuf and JSON) and build responses.

Protobuf is parsed with the generated message classes (upb). A request whose
string fields hold invalid UTF-8 is re-parsed with a lenient twin of the
schema in which those fields are bytes, so the valid spans in it are kept.
JSON follows the OTLP encoding: hex trace and span ids, int64 as strings;
a span that does not parse is rejected alone.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

ExportRequest = trace_service_pb2.ExportTraceServiceRequest
ExportResponse = trace_service_pb2.ExportTraceServiceResponse
SERVICE_NAME = "opentelemetry.proto.collector.trace.v1.TraceService"
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class BadRequest(ValueError):
    """The request body cannot be decoded at all."""


_DecodeErrorTypes = (
    json_format.ParseError,
    BadRequest,
    RecursionError,
    TypeError,
    ValueError,
    AttributeError,
)


def _twin_request_class(strings_as_bytes: bool) -> Any:
    """ExportTraceServiceRequest whose nested attribute values (arrays, key-value lists) stay raw
    bytes, so no depth of nesting can fail a request; ``strings_as_bytes`` reads every string
    field as bytes too, for bodies with invalid UTF-8. The normaliser reads neither."""
    pool = descriptor_pool.DescriptorPool()
    seen: set[str] = set()
    any_value = common_pb2.AnyValue.DESCRIPTOR.full_name.rsplit(".", 1)[-1]

    def add(file_descriptor: Any) -> None:
        if file_descriptor.name in seen:
            return
        for dependency in file_descriptor.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file_descriptor.CopyToProto(proto)
        for message in _all_messages(proto.message_type):
            for fld in message.field:
                nested = message.name == any_value and fld.name in ("array_value", "kvlist_value")
                if nested or (
                    strings_as_bytes and fld.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING
                ):
                    fld.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
                    fld.ClearField("type_name")
        pool.Add(proto)
        seen.add(file_descriptor.name)

    add(ExportRequest.DESCRIPTOR.file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(ExportRequest.DESCRIPTOR.full_name))


def _all_messages(messages: Any) -> Any:
    for message in messages:
        yield message
        yield from _all_messages(message.nested_type)


_FlatRequest = _twin_request_class(strings_as_bytes=False)
_LenientRequest = _twin_request_class(strings_as_bytes=True)


def decode_protobuf(body: bytes) -> Any:
    try:
        return _FlatRequest.FromString(body)
    except DecodeError:
        pass
    try:
        return _LenientRequest.FromString(body)
    except DecodeError:
        raise BadRequest(
            "the body is not a valid OTLP ExportTraceServiceRequest (truncated or not protobuf)"
        ) from None


def _hex_ids_to_base64(node: dict[str, Any]) -> None:
    for name in _ID_FIELDS:
        value = node.get(name)
        if isinstance(value, str) and value:
            try:
                node[name] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                node[name] = ""  # the span is then rejected for its malformed id
    links = node.get("links")
    if isinstance(links, list):
        for link in links:
            if isinstance(link, dict):
                _hex_ids_to_base64(link)


def _parse_span(span_json: Any) -> Any:
    span = trace_pb2.Span()
    if not isinstance(span_json, dict):
        raise BadRequest("not a JSON object")
    _hex_ids_to_base64(span_json)
    json_format.ParseDict(span_json, span, ignore_unknown_fields=True)
    return span


@dataclass
class JsonDecoded:
    """A request decoded as far as it is valid, with what was not (OTLP/JSON only: a protobuf
    body decodes whole or not at all)."""

    request: Any
    errors: list[str] = field(default_factory=list)
    rejected_spans: int = 0  # spans that were present but could not be decoded

    def reject(self, message: str, spans: int) -> None:
        self.errors.append(message)
        self.rejected_spans += spans


def decode_json(body: bytes) -> JsonDecoded:
    """Parse an OTLP/JSON body; a malformed part rejects the spans it holds, and only those.

    Raises BadRequest when nothing in the body is an OTLP/JSON request.
    """
    try:
        document = json.loads(body.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError) as exc:  # ValueError: JSONDecodeError, or an int of 4,300+ digits
        raise BadRequest(f"the body is not valid JSON: {_short(exc)}") from None
    if not isinstance(document, dict):
        raise BadRequest("an OTLP/JSON body must be a JSON object with resourceSpans")
    decoded = JsonDecoded(ExportRequest())
    entries = _list(document, decoded, "resourceSpans", "resource_spans")
    for index, rs_json in enumerate(entries):
        _resource_spans(rs_json, f"resourceSpans[{index}]", decoded)
    if decoded.errors and not decoded.rejected_spans and not _has_spans(decoded.request):
        # Nothing decoded and no span to name as rejected: the request as a whole is malformed.
        raise BadRequest("; ".join(decoded.errors)[:2000])
    return decoded


def _has_spans(request: Any) -> bool:
    return any(ss.spans for rs in request.resource_spans for ss in rs.scope_spans)


def _resource_spans(rs_json: Any, path: str, decoded: JsonDecoded) -> None:
    if not isinstance(rs_json, dict):
        decoded.reject(f"{path} is not an object", 0)
        return
    scope_entries = _list(rs_json, decoded, "scopeSpans", "scope_spans", path=path)
    resource_json = rs_json.get("resource")
    resource = trace_pb2.ResourceSpans().resource
    try:
        if resource_json is not None:
            if not isinstance(resource_json, dict):
                raise BadRequest("not an object")
            json_format.ParseDict(resource_json, resource, ignore_unknown_fields=True)
    except _DecodeErrorTypes as exc:
        count = sum(_span_count(ss) for ss in scope_entries)
        decoded.reject(f"{path}.resource: {_short(exc)} ({count} spans rejected)", count)
        return
    resource_spans = decoded.request.resource_spans.add()
    resource_spans.resource.CopyFrom(resource)
    for index, ss_json in enumerate(scope_entries):
        _scope_spans(ss_json, f"{path}.scopeSpans[{index}]", resource_spans, decoded)


def _span_count(ss_json: Any) -> int:
    spans = ss_json.get("spans") if isinstance(ss_json, dict) else None
    return len(spans) if isinstance(spans, list) else 0


def _scope_spans(ss_json: Any, path: str, resource_spans: Any, decoded: JsonDecoded) -> None:
    if not isinstance(ss_json, dict):
        decoded.reject(f"{path} is not an object", 0)
        return
    spans = _list(ss_json, decoded, "spans", path=path)
    scope = resource_spans.scope_spans.add()
    scope_json = ss_json.get("scope")
    try:
        if scope_json is not None:
            if not isinstance(scope_json, dict):
                raise BadRequest("not an object")
            json_format.ParseDict(scope_json, scope.scope, ignore_unknown_fields=True)
    except _DecodeErrorTypes as exc:
        del resource_spans.scope_spans[-1]
        decoded.reject(f"{path}.scope: {_short(exc)} ({len(spans)} spans rejected)", len(spans))
        return
    for index, span_json in enumerate(spans):
        try:
            scope.spans.append(_parse_span(span_json))
        except _DecodeErrorTypes as exc:
            decoded.reject(f"{path}.spans[{index}] rejected: {_short(exc)}", 1)


def _list(node: dict[str, Any], decoded: JsonDecoded, *names: str, path: str = "") -> list[Any]:
    """The list under the first of ``names`` present; anything else there is reported."""
    for name in names:
        if name not in node:
            continue
        value = node[name]
        if isinstance(value, list):
            return value
        if value is not None:
            where = f"{path}.{name}" if path else name
            decoded.reject(f"{where} must be a list, not {type(value).__name__}", 0)
        return []
    return []


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."


def response(rejected: int, errors: list[str]) -> Any:
    reply = ExportResponse()
    if rejected or errors:
        reply.partial_success.rejected_spans = rejected
        reply.partial_success.error_message = "; ".join(errors)[:2000]
    return reply


def response_json(rejected: int, errors: list[str]) -> dict[str, Any]:
    if not (rejected or errors):
        return {}
    # int64 fields are strings in OTLP/JSON.
    return {"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": "; ".join(errors)[:2000]}}
