"""``service.telemetry.metrics``: the collector's own metrics, configured like the OpenTelemetry Collector's.

Readers as in the OpenTelemetry Collector's ``service.telemetry.metrics.readers``: a ``pull`` reader
with the ``prometheus`` exporter serves ``GET /metrics`` on the collector's OTLP/HTTP port (there is no
second port to open) and, for ``spendgate evaluator``, which has no HTTP port, on its own listener at
the exporter's ``host`` and ``port``; a ``periodic`` reader pushes over OTLP. ``level`` bounds what is
measured.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from spendgate.collector.config_fields import Seconds, Strict


class PrometheusExporter(Strict):
    """The collector serves ``/metrics`` on the HTTP receiver's endpoint, behind the API keys (read role),
    and ignores ``host`` and ``port``; ``spendgate evaluator`` listens there (``port: 0``: any free port)."""

    host: str = Field(default="localhost", min_length=1)
    port: int = Field(default=8888, ge=0, le=65535)


class PullExporter(Strict):
    prometheus: PrometheusExporter


class PullReader(Strict):
    exporter: PullExporter


class OtlpMetricExporter(Strict):
    endpoint: str = Field(examples=["http://otel-collector:4317"])
    protocol: Literal["grpc", "http/protobuf"] = "grpc"
    headers: dict[str, str] = {}
    timeout: Seconds = 10.0


class PeriodicExporter(Strict):
    otlp: OtlpMetricExporter


class PeriodicReader(Strict):
    exporter: PeriodicExporter
    interval: Seconds = Field(default=60.0, gt=0)


class MetricReader(Strict):
    pull: PullReader | None = None
    periodic: PeriodicReader | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> MetricReader:
        if (self.pull is None) == (self.periodic is None):
            raise ValueError("a reader is either pull (prometheus) or periodic (otlp)")
        return self


_PROMETHEUS = MetricReader(pull=PullReader(exporter=PullExporter(prometheus=PrometheusExporter())))


class MetricsTelemetry(Strict):
    # none: no metrics at all; basic: the collector's health; normal: also every budget scope's spend.
    level: Literal["none", "basic", "normal"] = "normal"
    readers: list[MetricReader] = [_PROMETHEUS]

    @property
    def prometheus(self) -> bool:
        """Whether ``/metrics`` is served."""
        return self.listener is not None

    @property
    def listener(self) -> PrometheusExporter | None:
        """The first pull reader's exporter (where ``spendgate evaluator`` listens), when metrics are on."""
        pulls = [r.pull.exporter.prometheus for r in self.readers if r.pull is not None]
        return pulls[0] if pulls and self.level != "none" else None

    @property
    def periodic(self) -> list[PeriodicReader]:
        return [] if self.level == "none" else [r.periodic for r in self.readers if r.periodic is not None]
