"""Bad input gets a defined response, the server keeps serving, valid spans are kept."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.sdk.trace.export import SpanExportResult
from spendgate.collector.ingest.otlp import decode_protobuf

from .conftest import RunningCollector, chat_attributes, collector_running, make_spans

PROTO = {"content-type": "application/x-protobuf"}


@pytest.fixture(scope="module")
def shared(chdb_dsn: str) -> Iterator[RunningCollector]:
    """One collector for the many cases of one kind; each case marks its spans with its own project."""
    with collector_running(chdb_dsn) as running:
        yield running


def _post(running: RunningCollector, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(running.http_url + "/v1/traces", content=body, headers=headers, timeout=30)


def _healthy(running: RunningCollector) -> None:
    good = encode_spans(make_spans([{"attributes": chat_attributes()}])).SerializeToString()
    assert _post(running, good, PROTO).status_code == 200


def _count(running: RunningCollector) -> int:
    return int(running.scalar("SELECT count() FROM {db}.llm_spans"))


def test_truncated_and_garbage_protobuf(running: RunningCollector) -> None:
    body = encode_spans(make_spans([{"attributes": chat_attributes()}])).SerializeToString()
    for bad in (body[: len(body) // 2], b"\xff\xff\xff\xff garbage", b"\x0a\xff\xff\xff\xff\x0f"):
        reply = _post(running, bad, PROTO)
        assert reply.status_code == 400
        assert reply.headers["content-type"] == "application/x-protobuf"
    _healthy(running)
    assert _count(running) == 1


def test_invalid_json_and_wrong_shapes(shared: RunningCollector) -> None:
    for bad in (b"{not json", b"[1,2,3]", b'"text"'):
        reply = _post(shared, bad, {"content-type": "application/json"})
        assert reply.status_code == 400
        assert "JSON" in reply.json()["message"]
    _healthy(shared)


def test_wrong_content_type_and_encoding(shared: RunningCollector) -> None:
    assert _post(shared, b"x", {"content-type": "text/plain"}).status_code == 415
    assert _post(shared, b"x", {}).status_code == 415
    reply = _post(shared, b"x", {"content-type": "application/x-protobuf", "content-encoding": "br"})
    assert reply.status_code == 415
    _healthy(shared)


def test_gzip_body_and_gzip_bomb(running: RunningCollector) -> None:
    body = encode_spans(make_spans([{"attributes": chat_attributes()} for _ in range(3)])).SerializeToString()
    assert _post(running, gzip.compress(body), {**PROTO, "content-encoding": "gzip"}).status_code == 200
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KiB
    reply = _post(running, bomb, {**PROTO, "content-encoding": "gzip"})
    assert reply.status_code == 413
    assert _post(running, b"not gzip", {**PROTO, "content-encoding": "gzip"}).status_code == 400
    assert _count(running) == 3
    _healthy(running)


def test_oversized_body_is_413(shared: RunningCollector) -> None:
    reply = _post(shared, b"\0" * (5 * 1024 * 1024), PROTO)  # limit is 4 MiB in the test config
    assert reply.status_code == 413
    assert "limit" in reply.text
    _healthy(shared)


def test_huge_attribute_values_are_clipped(running: RunningCollector) -> None:
    huge = "x" * (10 * 1000 * 1000)  # 10 MB, under the 16 MiB gRPC message limit
    spans = make_spans([{"attributes": chat_attributes(**{"spendgate.project": huge})}])
    exporter = GrpcExporter(endpoint=running.grpc_endpoint, insecure=True)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert running.scalar("SELECT max(length(project)) FROM {db}.llm_spans") == 256


@pytest.mark.parametrize(
    ("value", "reason"),
    [(-5, "negative"), (12.5, "whole number"), ("lots", "not a token count"), (10**15, "plausible maximum")],
)
def test_bad_token_counts_reject_only_that_span(shared: RunningCollector, value: object, reason: str) -> None:
    project = {"spendgate.project": f"tokens-{reason}"}
    spans = make_spans(
        [
            {"attributes": chat_attributes(**{"gen_ai.usage.input_tokens": value}, **project)},
            {"attributes": chat_attributes("gpt-4o-mini", **project)},
        ]
    )
    reply = _post(shared, encode_spans(spans).SerializeToString(), PROTO)
    assert reply.status_code == 200
    answer = trace_service_pb2.ExportTraceServiceResponse.FromString(reply.content)
    assert answer.partial_success.rejected_spans == 1
    assert reason in answer.partial_success.error_message
    stored = shared.rows(
        "SELECT request_model FROM {db}.llm_spans WHERE project = {p:String}", p=f"tokens-{reason}"
    )
    assert stored == [("gpt-4o-mini",)]


def test_string_and_integral_float_counts_are_accepted(running: RunningCollector) -> None:
    spans = make_spans([{"attributes": chat_attributes(**{"gen_ai.usage.input_tokens": 300.0})}])
    request = encode_spans(spans)
    # A string-typed count, as some emitters send.
    for kv in request.resource_spans[0].scope_spans[0].spans[0].attributes:
        if kv.key == "gen_ai.usage.output_tokens":
            kv.value.CopyFrom(common_pb2.AnyValue(string_value="77"))
    assert _post(running, request.SerializeToString(), PROTO).status_code == 200
    assert running.rows("SELECT input_tokens, output_tokens FROM {db}.llm_spans") == [(300, 77)]


def test_missing_model_and_unknown_provider_are_stored_with_fallback_price(running: RunningCollector) -> None:
    attributes = chat_attributes("", "made-up-cloud")
    del attributes["gen_ai.request.model"]
    attributes["gen_ai.operation.name"] = "chat"
    spans = make_spans([{"attributes": attributes}])
    assert _post(running, encode_spans(spans).SerializeToString(), PROTO).status_code == 200
    row = running.rows("SELECT provider, request_model, pricing_status, total_cost > 0 FROM {db}.llm_spans")
    assert row == [("made-up-cloud", "", "fallback", True)]


def test_non_utf8_strings_keep_the_request(running: RunningCollector) -> None:
    spans = make_spans(
        [{"attributes": chat_attributes(**{"spendgate.agent": "AGENT-MARK"})} for _ in range(2)]
    )
    body = encode_spans(spans).SerializeToString().replace(b"AGENT-MARK", b"AGENT\xff\xfeARK")
    with pytest.raises(Exception):  # noqa: B017 - proving the strict parser refuses it
        trace_service_pb2.ExportTraceServiceRequest.FromString(body)
    assert decode_protobuf(body).resource_spans  # the lenient twin reads it
    assert _post(running, body, PROTO).status_code == 200
    assert running.rows("SELECT DISTINCT agent FROM {db}.llm_spans") == [("AGENT\ufffd\ufffdARK",)]


def test_sql_looking_strings_are_plain_data(running: RunningCollector) -> None:
    hostile = "x'); DROP TABLE llm_spans; -- {db} ${env:HOME} \\' \" `"
    spans = make_spans([{"attributes": chat_attributes(hostile, **{"spendgate.project": hostile})}])
    assert _post(running, encode_spans(spans).SerializeToString(), PROTO).status_code == 200
    assert running.rows("SELECT project, request_model FROM {db}.llm_spans") == [(hostile, hostile)]


def test_json_span_with_wrong_types_is_rejected_alone(running: RunningCollector) -> None:
    good = make_spans([{"attributes": chat_attributes()}])[0]
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "scopeSpans": [
                    {
                        "spans": [
                            {"traceId": "zz", "spanId": "01" * 8, "name": "chat", "startTimeUnixNano": "abc"},
                            {
                                "traceId": format(good.context.trace_id, "032x"),
                                "spanId": format(good.context.span_id, "016x"),
                                "name": "chat gpt-4o",
                                "startTimeUnixNano": str(good.start_time),
                                "endTimeUnixNano": str(good.end_time),
                                "attributes": [
                                    {
                                        "key": k,
                                        "value": {"intValue": str(v)}
                                        if isinstance(v, int)
                                        else {"stringValue": v},
                                    }
                                    for k, v in chat_attributes().items()
                                ],
                            },
                        ]
                    }
                ],
            }
        ]
    }
    reply = _post(running, json.dumps(document).encode(), {"content-type": "application/json"})
    assert reply.status_code == 200
    assert reply.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert _count(running) == 1


_DAY_NS = 86400 * 10**9


@pytest.mark.parametrize(
    "start_ns",
    [
        0,
        1,
        86400 * 10**9,  # 1970-01-02
        "91 days ago",
        2_147_483_648 * 10**9,  # 2038-01-19, past int32 seconds
        4_294_967_296 * 10**9,  # 2106-02-07, past uint32 seconds
        4_323_283_200 * 10**9,  # 2107: read as 1971 by a 32-bit overflow
        9_223_372_036 * 10**9,  # 2262, past int64 nanoseconds from 1970
        2**64 - 1,
    ],
)
def test_span_times_outside_retention_are_rejected_not_stored(
    shared: RunningCollector, start_ns: Any
) -> None:
    import time

    project = f"times-{start_ns}".replace(" ", "-")
    if start_ns == "91 days ago":
        start_ns = time.time_ns() - 91 * _DAY_NS
    marked = {"spendgate.project": project}
    spans = make_spans(
        [{"attributes": chat_attributes(**marked)}, {"attributes": chat_attributes("gpt-4o-mini", **marked)}]
    )
    request = encode_spans(spans)
    odd = request.resource_spans[0].scope_spans[0].spans[0]
    odd.start_time_unix_nano = start_ns
    odd.end_time_unix_nano = min(start_ns + 10**9, 2**64 - 1)
    reply = _post(shared, request.SerializeToString(), PROTO)
    assert reply.status_code == 200
    answer = trace_service_pb2.ExportTraceServiceResponse.FromString(reply.content)
    assert answer.partial_success.rejected_spans == 1
    assert (
        "retention" in answer.partial_success.error_message
        or "future" in answer.partial_success.error_message
    )
    mine = {"p": project}
    stored = shared.rows("SELECT request_model FROM {db}.llm_spans WHERE project = {p:String}", **mine)
    assert stored == [("gpt-4o-mini",)]
    hourly = shared.scalar(
        "SELECT sum(calls) FROM {db}.spend_by_scope_hourly WHERE scope_type = 'project' AND scope_id = {p:String}",
        **mine,
    )
    daily = shared.scalar("SELECT sum(calls) FROM {db}.spend_daily WHERE project = {p:String}", **mine)
    assert hourly == 1 and daily == 1


def test_a_span_ending_far_in_the_future_is_rejected(running: RunningCollector) -> None:
    import time

    request = encode_spans(make_spans([{"attributes": chat_attributes()}]))
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.start_time_unix_nano = time.time_ns()
    span.end_time_unix_nano = 2**64 - 1
    reply = trace_service_pb2.ExportTraceServiceResponse.FromString(
        _post(running, request.SerializeToString(), PROTO).content
    )
    assert reply.partial_success.rejected_spans == 1 and _count(running) == 0


def _raw_status(running: RunningCollector, head: bytes) -> tuple[int, bytes]:
    """Send a request head as bytes (clients refuse to build such requests) and read the reply."""
    import socket

    port = running.collector.http_port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ", 2)[1]), reply


def test_huge_query_strings_and_headers_get_414_and_431(shared: RunningCollector) -> None:
    huge = b"a" * (1 << 20)
    status, reply = _raw_status(
        shared, b"GET /api/v1/costs/records?task=" + huge + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert status == 414 and b"query string" in reply
    status, reply = _raw_status(
        shared, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + huge + b"\r\n\r\n"
    )
    assert status == 431 and b"headers" in reply
    _healthy(shared)


def test_attribute_values_nested_to_any_depth_fail_nothing(running: RunningCollector) -> None:
    from google.protobuf.internal.encoder import _VarintBytes

    def field(number: int, payload: bytes) -> bytes:  # a length-delimited protobuf field
        return _VarintBytes(number << 3 | 2) + _VarintBytes(len(payload)) + payload

    value = common_pb2.AnyValue(string_value="leaf").SerializeToString()
    for _ in range(200):  # kvlist_value { values { key: "k" value: ... } }, far past parsers' depth limits
        value = field(6, field(1, field(1, b"k") + field(2, value)))
    request = encode_spans(
        make_spans([{"attributes": chat_attributes()}, {"attributes": chat_attributes("gpt-4o-mini")}])
    )
    deep_span = request.resource_spans[0].scope_spans[0].spans[0].SerializeToString() + field(
        9, field(1, b"deep") + field(2, value)
    )
    del request.resource_spans[0].scope_spans[0].spans[0]
    scope = request.resource_spans[0].scope_spans[0].SerializeToString() + field(2, deep_span)
    resource = request.resource_spans[0].resource.SerializeToString()
    body = field(1, field(1, resource) + field(2, scope))
    reply = _post(running, body, PROTO)
    assert reply.status_code == 200
    assert sorted(r[0] for r in running.rows("SELECT request_model FROM {db}.llm_spans")) == [
        "gpt-4o",
        "gpt-4o-mini",
    ]
