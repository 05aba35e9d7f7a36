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
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

ExportRequest = trace_service_pb2.ExportTraceServiceRequest
ExportResponse = trace_service_pb2.ExportTraceServiceResponse
SERVICE_NAME = "opentelemetry.proto.collector.trace.v1.TraceService"
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class BadRequest(ValueError):
    """The request body cannot be decoded at all."""


def _lenient_request_class() -> Any:
    """ExportTraceServiceRequest with every string field read as bytes."""
    pool = descriptor_pool.DescriptorPool()
    seen: set[str] = set()

    def add(file_descriptor: Any) -> None:
        if file_descriptor.name in seen:
            return
        for dependency in file_descriptor.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file_descriptor.CopyToProto(proto)
        for message in _all_messages(proto.message_type):
            for fld in message.field:
                if fld.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
                    fld.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
        pool.Add(proto)
        seen.add(file_descriptor.name)

    add(ExportRequest.DESCRIPTOR.file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(ExportRequest.DESCRIPTOR.full_name))


def _all_messages(messages: Any) -> Any:
    for message in messages:
        yield message
        yield from _all_messages(message.nested_type)


_LenientRequest = _lenient_request_class()


def decode_protobuf(body: bytes) -> Any:
    try:
        return ExportRequest.FromString(body)
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
    for link in node.get("links") or ():
        if isinstance(link, dict):
            _hex_ids_to_base64(link)


def _parse_span(span_json: Any) -> Any:
    span = trace_pb2.Span()
    if not isinstance(span_json, dict):
        raise BadRequest("a span is not a JSON object")
    _hex_ids_to_base64(span_json)
    json_format.ParseDict(span_json, span, ignore_unknown_fields=True)
    return span


def decode_json(body: bytes) -> tuple[Any, list[str]]:
    """Parse an OTLP/JSON body; returns the request and per-span errors."""
    try:
        document = json.loads(body.decode("utf-8", errors="replace"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadRequest("an OTLP/JSON body must be a JSON object with resourceSpans")
    request = ExportRequest()
    errors: list[str] = []
    for rs_json in _list(document, "resourceSpans", "resource_spans"):
        if not isinstance(rs_json, dict):
            errors.append("a resourceSpans entry is not an object")
            continue
        resource_spans = request.resource_spans.add()
        try:
            json_format.ParseDict(
                rs_json.get("resource") or {}, resource_spans.resource, ignore_unknown_fields=True
            )
        except json_format.ParseError as exc:
            errors.append(f"resource: {_short(exc)}")
        for ss_json in _list(rs_json, "scopeSpans", "scope_spans"):
            if not isinstance(ss_json, dict):
                errors.append("a scopeSpans entry is not an object")
                continue
            scope_spans = resource_spans.scope_spans.add()
            try:
                json_format.ParseDict(
                    ss_json.get("scope") or {}, scope_spans.scope, ignore_unknown_fields=True
                )
            except json_format.ParseError as exc:
                errors.append(f"scope: {_short(exc)}")
            for span_json in _list(ss_json, "spans"):
                try:
                    scope_spans.spans.append(_parse_span(span_json))
                except (json_format.ParseError, BadRequest, RecursionError) as exc:
                    errors.append(f"span rejected: {_short(exc)}")
    return request, errors


def _list(node: dict[str, Any], *names: str) -> list[Any]:
    for name in names:
        value = node.get(name)
        if isinstance(value, list):
            return value
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
