"""One-call set-up: ``instrument()`` wires a tracer provider and every installed SDK patch.

If the application already configured OpenTelemetry, its tracer provider is
used as is. Otherwise a provider is created with an OTLP exporter that spools
to disk while the collector is unreachable (see :mod:`spool`). Standard
``OTEL_*`` variables fill in what the arguments leave out.
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.util.re import parse_env_headers

from . import enforcement, registry
from .budget_guard import BudgetGuard, WarnCallback
from .flags_client import FlagSubscriber, FlagTable
from .recorder import RECORDER
from .spool import OtlpSender, SpoolingSpanExporter

logger = logging.getLogger("spendgate.instrumentation")

DEFAULT_ENDPOINT = "http://localhost:4317"

_active: list[registry.SdkInstrumentor] = []
_owned_provider: TracerProvider | None = None
_subscriber: FlagSubscriber | None = None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _parse_headers(raw: str) -> dict[str, str]:
    # The SDK's own parser: values are URL-encoded (Bearer%20<key>), as the OTLP exporter spec says.
    return dict(parse_env_headers(raw, liberal=True))


def _default_spool_dir(service_name: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in service_name) or "agent"
    return Path(tempfile.gettempdir()) / f"spendgate-spool-{os.getuid()}" / safe


def make_tracer_provider(
    service_name: str | None = None,
    endpoint: str | None = None,
    headers: dict[str, str] | None = None,
    protocol: str | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
    spool_max_bytes: int = 256 << 20,
    schedule_delay_millis: int | None = None,
) -> TracerProvider:
    """A tracer provider exporting OTLP to the spendgate collector, spooling while it is down."""
    attributes: dict[str, Any] = {SERVICE_NAME: service_name} if service_name else {}
    resource = Resource.create(attributes)
    name = str(resource.attributes.get(SERVICE_NAME, "agent"))
    protocol = protocol or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    endpoint = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT
    if headers is None:
        headers = _parse_headers(os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", ""))
    exporter = SpoolingSpanExporter(
        OtlpSender(endpoint, protocol, headers),
        spool_dir or os.environ.get("SPENDGATE_SPOOL_DIR") or _default_spool_dir(name),
        max_bytes=spool_max_bytes,
    )
    provider = TracerProvider(resource=resource)
    # A short delay gets spend to the budget evaluator quickly; batches stay large under load.
    if schedule_delay_millis is None:
        schedule_delay_millis = int(os.environ.get("OTEL_BSP_SCHEDULE_DELAY") or 500)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=schedule_delay_millis))
    # atexit runs last-registered first: build pending spans before the provider shuts down.
    atexit.register(RECORDER.flush)
    return provider


def flags_endpoint_for(endpoint: str | None, protocol: str | None) -> str:
    """Where the budget flags are served: the collector's OTLP/gRPC endpoint."""
    explicit = os.environ.get("SPENDGATE_FLAGS_ENDPOINT")
    if explicit:
        return explicit
    endpoint = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT
    protocol = protocol or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    address = endpoint.split("://", 1)[-1].split("/", 1)[0]
    if protocol == "grpc":
        return address
    return address.rpartition(":")[0] + ":4317" if ":" in address else address + ":4317"


def enforce_budgets(
    endpoint: str,
    *,
    fail_closed: bool = False,
    stale_after: float = 30.0,
    on_warn: WarnCallback | None = None,
    strict: bool = False,
    agent: str = "",
    wait_seconds: float = 0.0,
    headers: dict[str, str] | None = None,
) -> BudgetGuard:
    """Subscribe to the collector's budget flags and check every instrumented call against them.

    ``fail_closed`` refuses calls while the collector has been unreachable for
    ``stale_after`` seconds (default: let them through). ``strict`` reserves each
    call's worst-case cost at the collector first. ``wait_seconds`` waits for the
    first snapshot of flags. ``headers`` (default: ``OTEL_EXPORTER_OTLP_HEADERS``) carry the
    collector's API key, e.g. ``{"authorization": "Bearer <key>"}``.
    """
    global _subscriber
    if _subscriber is not None:
        _subscriber.stop()
    table = FlagTable()
    if headers is None:
        headers = _parse_headers(os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", ""))
    _subscriber = FlagSubscriber(endpoint, table, agent, headers).start()
    guard = BudgetGuard(
        table,
        fail_closed=fail_closed,
        stale_after=stale_after,
        on_warn=on_warn,
        strict=strict,
        stub=_subscriber.stub,
        metadata=_subscriber.metadata,
    )
    enforcement.install_guard(guard)
    if wait_seconds and not _subscriber.wait_synced(wait_seconds):
        logger.warning("spendgate: no budget flags from %s yet", endpoint)
    return guard


def flag_subscriber() -> FlagSubscriber | None:
    """The subscriber :func:`enforce_budgets` started, if any: its channel also carries run slots."""
    return _subscriber


def stop_enforcing() -> None:
    global _subscriber
    enforcement.install_guard(None)
    if _subscriber is not None:
        _subscriber.stop()
        _subscriber = None


def instrument(
    service_name: str | None = None,
    endpoint: str | None = None,
    headers: dict[str, str] | None = None,
    *,
    protocol: str | None = None,
    tracer_provider: TracerProvider | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
    sdks: list[str] | None = None,
    budgets: bool | None = None,
    fail_closed: bool = False,
    strict: bool = False,
    on_warn: WarnCallback | None = None,
) -> trace.TracerProvider:
    """Meter every LLM call of the installed SDKs; returns the tracer provider in use.

    ``endpoint`` is the collector's OTLP endpoint (gRPC by default,
    ``protocol="http/protobuf"`` for HTTP). ``sdks`` limits which SDKs are
    instrumented (import names, e.g. ``"openai"``, ``"google.genai"``, ``"botocore"``). ``budgets``
    (default on; ``SPENDGATE_BUDGETS=off`` turns it off) subscribes to the
    collector's budget flags: see :func:`enforce_budgets`.
    """
    global _owned_provider
    enforcement.configured_explicitly = True
    provider: trace.TracerProvider
    if tracer_provider is not None:
        provider = tracer_provider
    else:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            provider = current  # the application's own set-up wins
        else:
            _owned_provider = make_tracer_provider(service_name, endpoint, headers, protocol, spool_dir)
            trace.set_tracer_provider(_owned_provider)
            provider = _owned_provider
    _instrument_sdks(provider, sdks)
    if budgets is None:
        budgets = os.environ.get("SPENDGATE_BUDGETS", "on").lower() not in ("off", "0", "false", "no")
    if budgets:
        enforce_budgets(
            flags_endpoint_for(endpoint, protocol),
            fail_closed=fail_closed,
            strict=strict,
            on_warn=on_warn,
            agent=service_name or "",
            headers=headers,
        )
    return provider


def _instrumentor_classes() -> Iterator[type[registry.SdkInstrumentor]]:
    for entry in registry.entry_points():
        try:
            loaded: type[registry.SdkInstrumentor] = entry.load()
        except Exception:
            logger.warning("spendgate: could not load the instrumentor %s", entry.value, exc_info=True)
            continue
        yield loaded


def _instrument_sdks(provider: trace.TracerProvider, sdks: list[str] | None) -> None:
    """Instrument every installed SDK (of ``sdks``, when given) that is not instrumented yet."""
    for instrumentor_class in _instrumentor_classes():
        sdk = instrumentor_class.sdk
        if (sdks is not None and sdk not in sdks) or not _installed(sdk):
            continue
        instrumentor = instrumentor_class()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
            _active.append(instrumentor)


def uninstrument() -> None:
    """Restore every original SDK method patched by :func:`instrument`, and stop checking budgets."""
    stop_enforcing()
    while _active:
        _active.pop().uninstrument()


def flush(timeout_millis: int = 30000) -> bool:
    """Build pending spans and push them to the exporter now (e.g. before a short script exits)."""
    RECORDER.flush()
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    return bool(force_flush(timeout_millis)) if force_flush is not None else True
