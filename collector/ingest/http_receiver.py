"""OTLP/HTTP: ``POST /v1/traces`` with protobuf or JSON bodies, gzip or not.

Bodies are read with a size cap (413 beyond it, also after decompression, so a
gzip bomb costs nothing). Responses follow the OTLP spec: 200 with
partial_success, 400 for undecodable bodies, 415 for other content types,
429/503 with Retry-After when storage is behind or down.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from spendgate.collector.ingest import otlp
from spendgate.collector.ingest.pipeline import Refusal, TracesPipeline
from spendgate.collector.ingest.stored import wait_stored
from spendgate.collector.ingest.writer import Backpressure, StorageUnavailable

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class _TooLarge(Exception):
    pass


def _reply(status: int, content_type: str, message: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    if content_type == PROTOBUF:
        from google.rpc import status_pb2  # the OTLP error body is a google.rpc.Status

        body = status_pb2.Status(code=status, message=message).SerializeToString()
        return Response(body, status_code=status, media_type=PROTOBUF, headers=headers)
    return Response(json.dumps({"code": status, "message": message}), status, headers, media_type=JSON)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(f"body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _gunzip(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise otlp.BadRequest(f"the gzip body is corrupt: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise _TooLarge(f"decompressed body exceeds the limit of {limit} bytes")
    return out


def build_router(pipeline: TracesPipeline, max_body_bytes: int, ack_timeout: float) -> APIRouter:
    router = APIRouter()

    def refused(reason: Refusal, response: Response) -> Response:
        if (meter := pipeline.meter) is not None:
            meter.refused("http", reason)
        return response

    @router.post("/v1/traces", include_in_schema=False)
    async def export_traces(request: Request) -> Any:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        reply_type = PROTOBUF if content_type == PROTOBUF else JSON
        if content_type not in (PROTOBUF, JSON):
            message = f"unsupported content type {content_type or '(none)'!r}: use {PROTOBUF} or {JSON}"
            return refused("unsupported", _reply(415, JSON, message))
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", ""):
            message = f"unsupported content encoding {encoding!r}: use gzip or none"
            return refused("unsupported", _reply(415, reply_type, message))
        try:
            body = await _read_body(request, max_body_bytes)
            if encoding == "gzip":
                body = _gunzip(body, max_body_bytes)
            result = await pipeline.consume(body, "protobuf" if content_type == PROTOBUF else "json")
        except _TooLarge as exc:
            return refused("too_large", _reply(413, reply_type, str(exc)))
        except otlp.BadRequest as exc:
            return refused("bad_request", _reply(400, reply_type, str(exc)))
        except Backpressure as exc:
            return refused("busy", _reply(429, reply_type, f"collector is busy: {exc}", exc.retry_after))
        except StorageUnavailable as exc:
            return refused("unavailable", _reply(503, reply_type, str(exc), exc.retry_after))
        if (meter := pipeline.meter) is not None:
            meter.consumed("http", result)
        try:
            await wait_stored(result.waits, ack_timeout)
        except (TimeoutError, StorageUnavailable) as exc:
            message = f"spans not stored yet: {exc or 'timed out'}"
            return refused("not_stored", _reply(503, reply_type, message, StorageUnavailable.retry_after))
        if reply_type == PROTOBUF:
            body_out = otlp.response(result.rejected_spans, result.errors).SerializeToString()
            return Response(body_out, media_type=PROTOBUF)
        return Response(json.dumps(otlp.response_json(result.rejected_spans, result.errors)), media_type=JSON)

    return router
