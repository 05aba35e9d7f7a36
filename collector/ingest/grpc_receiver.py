"""OTLP/gRPC: ``TraceService/Export``.

Bodies are taken as bytes so the decoder can fall back to the lenient schema.
Storage trouble maps to UNAVAILABLE (down, or slower than the ack timeout) and
RESOURCE_EXHAUSTED (queue full), both of which OTLP exporters retry.

The size limit (``max_recv_msg_size_mib``) is checked here, so an over-size request is refused
(RESOURCE_EXHAUSTED, as grpcio would) and counted; grpcio itself only refuses messages beyond
twice the limit (:func:`transport_cap`), which never reach a handler.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from spendgate.collector.ingest import otlp
from spendgate.collector.ingest.pipeline import Refusal, TracesPipeline
from spendgate.collector.ingest.stored import wait_stored
from spendgate.collector.ingest.writer import Backpressure, StorageUnavailable

log = logging.getLogger(__name__)


def _retry_after(context: Any, seconds: int) -> None:
    # The OTLP spec's RetryInfo detail is optional; exporters back off without it.
    context.set_trailing_metadata((("retry-after", str(seconds)),))


_GRPC_MAX = 2**31 - 1  # grpcio's message size options are C ints


def transport_cap(max_message_bytes: int) -> int:
    """grpcio's own receive limit: a safety margin above the one the handler checks and counts."""
    return min(2 * max_message_bytes, _GRPC_MAX)


class TraceServiceHandler:
    def __init__(self, pipeline: TracesPipeline, ack_timeout: float, max_message_bytes: int) -> None:
        self.pipeline = pipeline
        self.ack_timeout = ack_timeout
        self.max_message_bytes = max_message_bytes

    def _refused(self, reason: Refusal) -> None:
        if (meter := self.pipeline.meter) is not None:
            meter.refused("grpc", reason)

    async def export(self, body: bytes, context: Any) -> Any:
        if len(body) > self.max_message_bytes:
            self._refused("too_large")
            message = f"message of {len(body)} bytes exceeds the limit of {self.max_message_bytes} bytes"
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)
        try:
            result = await self.pipeline.consume(body, "protobuf")
        except otlp.BadRequest as exc:
            self._refused("bad_request")
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except Backpressure as exc:
            self._refused("busy")
            _retry_after(context, exc.retry_after)
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"collector is busy: {exc}")
        except StorageUnavailable as exc:
            self._refused("unavailable")
            _retry_after(context, exc.retry_after)
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        if (meter := self.pipeline.meter) is not None:
            meter.consumed("grpc", result)
        try:
            await wait_stored(result.waits, self.ack_timeout)
        except (TimeoutError, StorageUnavailable) as exc:
            self._refused("not_stored")
            _retry_after(context, StorageUnavailable.retry_after)
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"spans not stored yet: {exc or 'timed out'}")
        return otlp.response(result.rejected_spans, result.errors)


def build_server(
    pipeline: TracesPipeline,
    endpoint: str,
    max_message_bytes: int,
    ack_timeout: float,
    interceptors: list[Any] | None = None,
) -> Any:
    handler = TraceServiceHandler(pipeline, ack_timeout, max_message_bytes)
    method = grpc.unary_unary_rpc_method_handler(
        handler.export,
        request_deserializer=None,  # raw bytes
        response_serializer=lambda message: message.SerializeToString(),
    )
    server = grpc.aio.server(
        interceptors=interceptors or None,
        options=[
            ("grpc.max_receive_message_length", transport_cap(max_message_bytes)),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ],
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(otlp.SERVICE_NAME, {"Export": method}),)
    )
    port = server.add_insecure_port(endpoint)
    if port == 0:
        raise OSError(f"cannot listen for OTLP/gRPC on {endpoint}")
    return server, port
