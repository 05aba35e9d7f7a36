"""The collector's own metrics: one set of OpenTelemetry instruments, two ways out.

The instruments live on a MeterProvider of this collector's own (never the global one: tests run
several collectors in one process). A Prometheus reader on a registry of its own backs
``GET /metrics``; periodic readers push the same instruments over OTLP when configured
(``service.telemetry.metrics``). Names follow the OpenTelemetry conventions (dotted, unit in
``unit``); the Prometheus exporter turns them into ``spendgate_spans_received_total``,
``spendgate_insert_duration_seconds`` and so on.

Hot paths pay one counter add per export request or insert, never per span; what the components
count already (the writer's stats, the board's watchers, webhook deliveries) is read only when
metrics are collected, through observable instruments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, start_http_server
from spendgate.collector.api.auth import AuthRefusal
from spendgate.collector.budgets.model import Evaluation
from spendgate.collector.ingest.pipeline import ConsumeResult, Refusal, Transport
from spendgate.collector.telemetry_config import MetricsTelemetry, OtlpMetricExporter

from spendgate import __version__

# The classic text format every Prometheus version scrapes (the names need none of 1.0.0's escaping).
PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Seconds: an insert or an evaluation takes milliseconds to tens of seconds.
_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Per budget metric: the Prometheus name's unit suffix and the OpenTelemetry (UCUM annotation) unit.
_BUDGET_UNITS = {"cost": ("usd", "{USD}"), "tokens": ("tokens", "{token}"), "calls": ("calls", "{call}")}


class WriterState(Protocol):
    """What the writer already counts (collector/ingest/writer.py)."""

    stats: dict[str, int]

    @property
    def queued_spans(self) -> int: ...


@dataclass(frozen=True)
class _Scope:
    """One budget scope as the evaluator last saw it, ready to observe."""

    attributes: Mapping[str, str]
    metric: str
    spend: float
    limit: float
    utilization: float  # a ratio: 1.0 is the whole limit


def _scope(evaluation: Evaluation) -> _Scope:
    budget = evaluation.budget
    attributes = {
        "budget_id": budget.id,
        "scope_type": budget.scope_type,
        "scope_id": evaluation.scope_id,
        "metric": budget.metric,
        "period": budget.period,
    }
    # Prometheus samples are float64: the Decimal amounts become floats only here, at the edge.
    ratio = float(evaluation.utilization) / 100
    return _Scope(attributes, budget.metric, float(evaluation.spend), float(budget.limit), ratio)


def _otlp_exporter(settings: OtlpMetricExporter) -> MetricExporter:
    headers = dict(settings.headers)
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Grpc

        insecure = settings.endpoint.startswith("http://")
        return Grpc(endpoint=settings.endpoint, insecure=insecure, headers=headers, timeout=settings.timeout)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as Http

    # As the OpenTelemetry Collector's otlphttp exporter: the endpoint is the base, /v1/metrics is added.
    url = settings.endpoint.rstrip("/")
    url = url if url.endswith("/v1/metrics") else url + "/v1/metrics"
    return Http(endpoint=url, headers=headers, timeout=settings.timeout)


class Telemetry:
    """The instruments; components are handed this (as their meter protocols) by collector/app.py,
    or by ``spendgate evaluator`` (collector/cli/budgets.py) under ``service`` spendgate-evaluator."""

    def __init__(self, settings: MetricsTelemetry, service: str = "spendgate-collector") -> None:
        self.settings = settings
        self.registry = CollectorRegistry(auto_describe=False)
        self._listener: Any = None  # spendgate evaluator's own /metrics server (serve_prometheus)
        readers: list[MetricReader] = []
        if settings.prometheus:
            readers.append(PrometheusMetricReader(registry=self.registry, scope_info_enabled=False))
        for periodic in settings.periodic:
            exporter = _otlp_exporter(periodic.exporter.otlp)
            readers.append(
                PeriodicExportingMetricReader(exporter, export_interval_millis=periodic.interval * 1e3)
            )
        resource = Resource.create({"service.name": service, "service.version": __version__})
        self._provider = MeterProvider(metric_readers=readers, resource=resource)
        self._meter = self._provider.get_meter("spendgate.collector", __version__)
        self._scopes: tuple[_Scope, ...] = ()
        self._ingest_instruments()
        self._budget_instruments()

    # -- ingest: receivers and the writer ------------------------------------
    def _ingest_instruments(self) -> None:
        meter = self._meter
        self._received = meter.create_counter(
            "spendgate.spans.received", "{span}", "Spans in the export requests the receivers decoded"
        )
        self._rejected = meter.create_counter(
            "spendgate.spans.rejected", "{span}", "Spans refused as invalid (OTLP partial success)"
        )
        self._dropped = meter.create_counter(
            "spendgate.spans.dropped",
            "{span}",
            "Spans not stored by design: not an LLM call (not_llm) or another report of a call (merged)",
        )
        self._requests_rejected = meter.create_counter(
            "spendgate.requests.rejected", "{request}", "Export requests refused whole, by reason"
        )
        self._api_refused = meter.create_counter(
            "spendgate.api.requests.refused",
            "{request}",
            "Requests other than exports (API, flag stream) refused for their API key, by reason",
        )
        self._insert_duration = meter.create_histogram(
            "spendgate.insert.duration",
            "s",
            "Time of one insert into llm_spans (each attempt)",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )

    def consumed(self, transport: Transport, result: ConsumeResult) -> None:
        """One export request decoded (the receivers' IngestMeter)."""
        attributes = {"transport": transport}
        dropped = result.non_llm_spans + result.duplicate_calls
        self._received.add(result.accepted_spans + result.rejected_spans + dropped, attributes)
        if result.rejected_spans:
            self._rejected.add(result.rejected_spans, {"transport": transport, "reason": "invalid"})
        if result.non_llm_spans:
            self._dropped.add(result.non_llm_spans, {"transport": transport, "reason": "not_llm"})
        if result.duplicate_calls:
            self._dropped.add(result.duplicate_calls, {"transport": transport, "reason": "merged"})

    def refused(self, transport: Transport, reason: Refusal) -> None:
        """One export request refused whole (bad_request, too_large, unsupported, busy, unavailable)."""
        self._requests_rejected.add(1, {"transport": transport, "reason": reason})

    def auth_refused(self, transport: Transport, reason: AuthRefusal, export: bool) -> None:
        """One request refused for its key (the auth middleware's and interceptor's AuthMeter)."""
        if export:
            self._requests_rejected.add(1, {"transport": transport, "reason": reason})
        else:
            self._api_refused.add(1, {"transport": transport, "reason": reason})

    def insert_took(self, seconds: float, ok: bool) -> None:
        """One insert attempt (the writer's InsertMeter)."""
        self._insert_duration.record(seconds, {"outcome": "ok" if ok else "failed"})

    def watch_writer(self, writer: WriterState) -> None:
        stats = writer.stats

        def stored(options: CallbackOptions) -> Iterable[Observation]:
            yield Observation(stats["inserted_spans"])

        def deduplicated(options: CallbackOptions) -> Iterable[Observation]:
            yield Observation(stats["duplicate_spans"])

        def inserts(options: CallbackOptions) -> Iterable[Observation]:
            yield Observation(stats["inserts"], {"outcome": "ok"})
            yield Observation(stats["insert_failures"], {"outcome": "failed"})

        def queued(options: CallbackOptions) -> Iterable[Observation]:
            yield Observation(writer.queued_spans)

        meter = self._meter
        meter.create_observable_counter(
            "spendgate.spans.stored", [stored], "{span}", "LLM call rows inserted into llm_spans"
        )
        meter.create_observable_counter(
            "spendgate.spans.deduplicated",
            [deduplicated],
            "{span}",
            "Calls skipped as stored already (resent)",
        )
        meter.create_observable_counter(
            "spendgate.writer.inserts", [inserts], "{insert}", "Insert attempts into llm_spans, by outcome"
        )
        meter.create_observable_up_down_counter(
            "spendgate.writer.queue.size", [queued], "{span}", "Spans waiting for their insert"
        )

    # -- budgets: the evaluator and the flag stream --------------------------
    def _budget_instruments(self) -> None:
        meter = self._meter
        self._evaluations = meter.create_counter(
            "spendgate.evaluator.runs", "{run}", "Budget evaluations, by outcome"
        )
        self._evaluation_duration = meter.create_histogram(
            "spendgate.evaluator.duration",
            "s",
            "Time of one budget evaluation",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        if self.settings.level != "normal":
            return
        for metric, (suffix, unit) in _BUDGET_UNITS.items():
            meter.create_observable_gauge(
                f"spendgate.budget.spend_{suffix}",
                [self._observe(metric, lambda scope: scope.spend)],
                unit,
                f"What each budget scope counted ({metric}) in its current period, at the last evaluation",
            )
            meter.create_observable_gauge(
                f"spendgate.budget.limit_{suffix}",
                [self._observe(metric, lambda scope: scope.limit)],
                unit,
                f"Each budget's limit ({metric})",
            )
        meter.create_observable_gauge(
            "spendgate.budget.utilization_ratio",
            [self._observe(None, lambda scope: scope.utilization)],
            "1",
            "Spend over limit of each budget scope (1 is the whole limit)",
        )

    def _observe(
        self, metric: str | None, value: Callable[[_Scope], float]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            for scope in self._scopes:  # one tuple, replaced whole by each evaluation
                if metric is None or scope.metric == metric:
                    yield Observation(value(scope), scope.attributes)

        return callback

    def evaluated(self, evaluations: list[Evaluation], seconds: float) -> None:
        """One evaluation finished (the evaluator's RunMeter)."""
        self._evaluations.add(1, {"outcome": "ok"})
        self._evaluation_duration.record(seconds, {"outcome": "ok"})
        if self.settings.level == "normal":
            self._scopes = tuple(_scope(e) for e in evaluations)

    def evaluation_failed(self, seconds: float) -> None:
        self._evaluations.add(1, {"outcome": "failed"})
        self._evaluation_duration.record(seconds, {"outcome": "failed"})

    def watch_flags(self, watchers: Callable[[], int]) -> None:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            yield Observation(watchers())

        self._meter.create_observable_up_down_counter(
            "spendgate.flag.watchers", [observe], "{watcher}", "Agents connected to the budget flag stream"
        )

    def watch_deliveries(self, deliveries: Callable[[], Iterable[Mapping[str, int]]]) -> None:
        """Webhook deliveries (collector/events/webhooks.py stats): events delivered, failed posts."""

        def delivered(options: CallbackOptions) -> Iterable[Observation]:
            yield Observation(sum(stats["events"] for stats in deliveries()))

        def posts(options: CallbackOptions) -> Iterable[Observation]:
            all_stats = list(deliveries())
            yield Observation(sum(stats["posts"] for stats in all_stats), {"outcome": "ok"})
            yield Observation(sum(stats["failures"] for stats in all_stats), {"outcome": "failed"})

        meter = self._meter
        meter.create_observable_counter(
            "spendgate.events.delivered", [delivered], "{event}", "Events delivered to webhooks"
        )
        meter.create_observable_counter(
            "spendgate.webhook.posts", [posts], "{post}", "Webhook posts, by outcome"
        )

    # -- out ------------------------------------------------------------------
    def scrape(self) -> bytes:
        """The Prometheus text exposition of every instrument."""
        return generate_latest(self.registry)

    def serve_prometheus(self) -> str | None:
        """Serve :meth:`scrape` on a listener of its own at the pull exporter's host and port (for
        ``spendgate evaluator``, which has no HTTP port); its URL, or None without a pull reader."""
        exporter = self.settings.listener
        if exporter is None:
            return None
        try:
            self._listener, _ = start_http_server(exporter.port, exporter.host, self.registry)
        except OSError as exc:
            where = f"{exporter.host}:{exporter.port}"
            raise OSError(
                f"cannot serve metrics on {where} (the prometheus exporter's host, port): {exc}"
            ) from None
        host, port = self._listener.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/metrics"

    def shutdown(self) -> None:
        if self._listener is not None:
            self._listener.shutdown()
            self._listener.server_close()
        self._provider.shutdown(timeout_millis=5_000)
