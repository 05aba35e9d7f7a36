"""Property tests for the decoders: no input escapes as an exception, valid spans are kept, and
rejected spans are counted exactly (OTLP/JSON and protobuf, through the collector's processing)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from spendgate.collector.ingest import otlp
from spendgate.collector.ingest.pricer import Pricer
from spendgate.collector.ingest.processing import process

from .conftest import chat_attributes, make_spans

PRICER = Pricer()
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values that are not what OTLP/JSON puts in a container's place.
JUNK = st.one_of(
    st.integers(-5, 5), st.booleans(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
    st.floats(allow_nan=True), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)  # fmt: skip
JUNK_SPANS = st.one_of(
    st.integers(), st.booleans(), st.none(), st.text(max_size=5),
    st.sampled_from([{"links": 5}, {"attributes": 7}, {"traceId": 5}, {"name": 5}, {"events": {}},
                     {"startTimeUnixNano": "soon"}, {"status": 3}]),
)  # fmt: skip


def _valid_span(n: int) -> dict[str, Any]:
    attributes = [
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
        {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
        {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(100 + n)}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "7"}},
    ]
    import time

    now = time.time_ns()
    return {"traceId": f"{n + 1:032x}", "spanId": f"{n + 1:016x}", "name": "chat gpt-4o",
            "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 1000), "attributes": attributes}  # fmt: skip


@st.composite
def json_requests(draw: Any) -> tuple[dict[str, Any], int, int]:
    """An OTLP/JSON document with junk in places, and the (kept, rejected) span counts it implies."""
    counter = iter(range(10**6))
    kept = rejected = 0
    resource_spans = []
    for _ in range(draw(st.integers(0, 3))):
        resource_ok = draw(st.sampled_from(["ok", "absent", "junk"]))
        scope_spans = []
        for _ in range(draw(st.integers(0, 3))):
            scope_ok = draw(st.sampled_from(["ok", "absent", "junk"]))
            spans: list[Any] = []
            good = 0
            for _ in range(draw(st.integers(0, 4))):
                if draw(st.booleans()):
                    spans.append(_valid_span(next(counter)))
                    good += 1
                else:
                    spans.append(draw(JUNK_SPANS))
            scope: dict[str, Any] = {"spans": spans}
            if scope_ok == "ok":
                scope["scope"] = {"name": "tests"}
            elif scope_ok == "junk":
                scope["scope"] = draw(JUNK.filter(lambda v: not isinstance(v, dict)))
            containers_ok = resource_ok != "junk" and scope_ok != "junk"
            kept += good if containers_ok else 0
            rejected += (len(spans) - good) if containers_ok else len(spans)
            scope_spans.append(scope)
        entry: dict[str, Any] = {"scopeSpans": scope_spans}
        if resource_ok == "ok":
            entry["resource"] = {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]}
        elif resource_ok == "junk":
            entry["resource"] = draw(JUNK.filter(lambda v: not isinstance(v, dict)))
        resource_spans.append(entry)
    return {"resourceSpans": resource_spans}, kept, rejected


@_SETTINGS
@given(json_requests())
def test_json_keeps_every_valid_span_and_counts_every_rejected_one(
    case: tuple[dict[str, Any], int, int],
) -> None:
    document, kept, rejected = case
    try:
        processed = process(json.dumps(document).encode(), "json", PRICER)
    except otlp.BadRequest as exc:
        # Only a request with nothing in it to keep or to count may be refused whole, by name.
        assert kept == 0 and rejected == 0 and str(exc)
        return
    assert (processed.accepted_spans, processed.rejected_spans) == (kept, rejected), processed.errors


@_SETTINGS
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["resourceSpans", "scopeSpans", "spans", "resource", "scope",
                                         "attributes", "links", "traceId", "value", "key"]), inner, max_size=3),
                    max_leaves=20))  # fmt: skip
def test_any_json_value_gets_an_answer_never_an_exception(document: Any) -> None:
    with contextlib.suppress(otlp.BadRequest):
        process(json.dumps(document).encode(), "json", PRICER)


def _valid_protobuf() -> bytes:
    spans = make_spans([{"attributes": chat_attributes()}, {"attributes": chat_attributes("gpt-4o-mini")}])
    return encode_spans(spans).SerializeToString()


@_SETTINGS
@given(st.binary(max_size=300) | st.builds(
    lambda body, at, byte: body[:at] + bytes([byte]) + body[at + 1 :],
    st.just(_valid_protobuf()), st.integers(0, 400), st.integers(0, 255),
))  # fmt: skip
def test_any_protobuf_body_gets_an_answer_never_an_exception(body: bytes) -> None:
    try:
        processed = process(body, "protobuf", PRICER)
    except otlp.BadRequest:
        return
    # Whatever survives decoding is consistent: one stored row per accepted call, one error per rejection.
    table = processed.table()
    assert (0 if table is None else table.num_rows) == processed.accepted_spans
    assert len(processed.errors) == min(processed.rejected_spans, 20)


@pytest.mark.parametrize("value", ["²", "1" * 5000, "12abc", "-1", "1.5", "NaN", "Infinity", ""])
def test_token_counts_that_are_not_counts_in_json_reject_one_span(value: str) -> None:
    bad = _valid_span(1)
    bad["attributes"][3] = {"key": "gen_ai.usage.input_tokens", "value": {"stringValue": value}}
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [bad, _valid_span(2)]}]}]}
    processed = process(json.dumps(document).encode(), "json", PRICER)
    expected_rejected = 0 if value == "" else 1  # an empty count is an absent one
    assert (processed.accepted_spans, processed.rejected_spans) == (2 - expected_rejected, expected_rejected)


@pytest.fixture(scope="module")
def server(chdb_dsn: str) -> Any:
    from .conftest import collector_running

    with collector_running(chdb_dsn) as running:
        yield running


_BODIES = st.one_of(
    json_requests().map(lambda case: ("application/json", json.dumps(case[0]).encode())),
    st.binary(max_size=200).map(lambda body: ("application/x-protobuf", body)),
    st.builds(lambda body, at, byte: ("application/x-protobuf", body[:at] + bytes([byte]) + body[at + 1 :]),
              st.just(_valid_protobuf()), st.integers(0, 400), st.integers(0, 255)),
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_BODIES)
def test_no_body_gets_a_server_error_over_http_or_grpc(server: Any, case: tuple[str, bytes]) -> None:
    import grpc
    import httpx

    content_type, body = case
    reply = httpx.post(server.http_url + "/v1/traces", content=body, headers={"content-type": content_type},
                       timeout=30)  # fmt: skip
    assert reply.status_code < 500, reply.text
    if content_type == "application/x-protobuf":
        with grpc.insecure_channel(server.grpc_endpoint) as channel:
            export = channel.unary_unary(f"/{otlp.SERVICE_NAME}/Export")
            try:
                export(body, timeout=30)
            except grpc.RpcError as exc:
                assert exc.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), exc.details()


def test_a_json_integer_of_thousands_of_digits_is_a_400_not_an_exception() -> None:
    with pytest.raises(otlp.BadRequest, match="not valid JSON"):
        process(b'{"resourceSpans":[],"x":' + b"1" * 5000 + b"}", "json", PRICER)
