"""An OTLP span exporter that keeps spans on disk while the collector is unreachable.

Each export is encoded once into an OTLP ``ExportTraceServiceRequest``. If the
collector takes it, done; otherwise the request goes to a bounded on-disk
queue (one file per request, written atomically) and a background thread
replays the queue in order, with capped exponential backoff, once the
collector answers again. While the queue is not empty new requests join its
tail, so order is kept. The collector deduplicates spans by trace and span
id, so a request replayed after a lost acknowledgement is still counted once.

A directory holds numbered slots; a process locks the first free slot, so
several agents can share one directory, and a restarted agent replays what
a crashed one left behind.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import grpc
import requests
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

logger = logging.getLogger("spendgate.instrumentation")

_GRPC_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_RETRYABLE_HTTP = frozenset({408, 429, 502, 503, 504})
_MAX_SLOTS = 64


class SendError(Exception):
    """The collector did not take the request; ``retryable`` says whether to keep it."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class OtlpSender:
    """Sends already-encoded OTLP trace requests over gRPC or HTTP/protobuf."""

    def __init__(
        self,
        endpoint: str,
        protocol: str = "grpc",
        headers: dict[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.protocol = protocol
        self.timeout_s = timeout_s
        self.headers = dict(headers or {})
        if protocol == "grpc":
            target = endpoint.split("://", 1)[-1].rstrip("/")
            # Reconnect quickly after an outage; gRPC's default backoff grows to two minutes.
            options = [("grpc.initial_reconnect_backoff_ms", 250), ("grpc.max_reconnect_backoff_ms", 5000)]
            if endpoint.startswith("https://"):
                self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(), options)
            else:
                self._channel = grpc.insecure_channel(target, options)
            self._export = self._channel.unary_unary(_GRPC_METHOD)
            self._metadata = tuple((key.lower(), value) for key, value in self.headers.items())
        elif protocol == "http/protobuf":
            base = endpoint.rstrip("/")
            self.url = base if base.endswith("/v1/traces") else base + "/v1/traces"
            self._session = requests.Session()
            self._session.headers.update({"Content-Type": "application/x-protobuf", **self.headers})
        else:
            raise ValueError(f"unsupported OTLP protocol {protocol!r}; use 'grpc' or 'http/protobuf'")

    def send(self, body: bytes) -> None:
        if self.protocol == "grpc":
            try:
                self._export(body, timeout=self.timeout_s, metadata=self._metadata)
            except grpc.RpcError as exc:
                code = exc.code() if hasattr(exc, "code") else None
                retryable = code in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    grpc.StatusCode.ABORTED,
                    grpc.StatusCode.CANCELLED,
                )
                raise SendError(f"gRPC export failed: {code}", retryable) from None
            return
        try:
            response = self._session.post(self.url, data=body, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise SendError(f"HTTP export failed: {type(exc).__name__}", retryable=True) from None
        if response.status_code >= 300:
            retryable = response.status_code in _RETRYABLE_HTTP
            raise SendError(f"HTTP export failed: {response.status_code}", retryable)

    def close(self) -> None:
        if self.protocol == "grpc":
            self._channel.close()
        else:
            self._session.close()


class SpoolingSpanExporter(SpanExporter):
    """Export to the collector; spool to disk and replay in order while it is away."""

    def __init__(
        self,
        sender: OtlpSender,
        directory: str | os.PathLike[str],
        max_bytes: int = 256 << 20,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.sender = sender
        self.max_bytes = max_bytes
        self.max_backoff_s = max_backoff_s
        self.dropped_requests = 0
        self._lock = threading.Lock()  # guards the queue's list and byte count
        self._sending = threading.Lock()  # one replayer at a time keeps the order
        self._wake = threading.Event()
        self._stopping = False
        self.directory, self._lock_file = _claim_slot(Path(directory))
        self._files = sorted(self.directory.glob("*.otlp"))
        self._bytes = sum(path.stat().st_size for path in self._files)
        self._next = int(self._files[-1].stem) + 1 if self._files else 0
        self._thread = threading.Thread(target=self._replay_loop, name="spendgate-spool", daemon=True)
        self._thread.start()
        if self._files:
            logger.info(
                "spendgate: replaying %d spooled span requests from %s", len(self._files), self.directory
            )
            self._wake.set()

    @property
    def pending(self) -> int:
        """Requests waiting on disk."""
        return len(self._files)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        body = encode_spans(spans).SerializeToString()
        with self._lock:
            if not self._files:
                try:
                    self.sender.send(body)
                    return SpanExportResult.SUCCESS
                except SendError as exc:
                    if not exc.retryable:
                        logger.warning("spendgate: the collector refused %d spans: %s", len(spans), exc)
                        return SpanExportResult.FAILURE
            return self._spool(body)

    def _spool(self, body: bytes) -> SpanExportResult:
        if self._bytes + len(body) > self.max_bytes:
            self.dropped_requests += 1
            logger.warning(
                "spendgate: span spool %s is full (%d bytes); dropping a request",
                self.directory,
                self.max_bytes,
            )
            return SpanExportResult.FAILURE
        path = self.directory / f"{self._next:020d}.otlp"
        self._next += 1
        temporary = path.with_suffix(".tmp")
        with temporary.open("wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)  # a crash leaves a whole file or none
        self._files.append(path)
        self._bytes += len(body)
        self._wake.set()
        return SpanExportResult.SUCCESS

    def _replay_loop(self) -> None:
        backoff = 0.5
        while not self._stopping:
            self._wake.wait(backoff if self._files else None)
            self._wake.clear()
            if self._stopping:
                return
            backoff = 0.5 if self._replay() else min(backoff * 2, self.max_backoff_s)

    def _replay(self, deadline: float | None = None) -> bool:
        """Send spooled requests oldest first; False when the collector is still away."""
        with self._sending:
            return self._replay_locked(deadline)

    def _replay_locked(self, deadline: float | None) -> bool:
        while self._files:
            if deadline is not None and time.monotonic() > deadline:
                return False
            path = self._files[0]
            body = path.read_bytes()
            try:
                self.sender.send(body)
            except SendError as exc:
                if exc.retryable:
                    return False
                logger.warning("spendgate: the collector refused a spooled request (%s); discarding it", exc)
            with self._lock:
                self._files.pop(0)
                self._bytes -= len(body)
                path.unlink(missing_ok=True)
        return True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._replay(time.monotonic() + timeout_millis / 1000)

    def shutdown(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=15)
        # Whatever cannot be sent now stays on disk for the next start.
        self._replay(time.monotonic() + 2.0)
        self.sender.close()
        self._lock_file.close()


def _claim_slot(directory: Path) -> tuple[Path, IO[bytes]]:
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(_MAX_SLOTS):
        slot = directory / f"slot-{number}"
        slot.mkdir(exist_ok=True)
        lock_file = (slot / ".lock").open("ab")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock_file.close()
            continue
        for stale in slot.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        return slot, lock_file
    raise RuntimeError(f"all {_MAX_SLOTS} spool slots under {directory} are in use")
