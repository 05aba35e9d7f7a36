"""Load and validate ``otel-config.yaml``.

The file is shaped like an OpenTelemetry Collector config (receivers,
processors, exporters, service). ``${env:NAME}`` and ``${env:NAME:-default}``
are substituted before parsing. Every error names the key at fault.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator
from spendgate.collector.budget_config import (
    Alerts,
    BudgetsExtension,
    Email,
    Notifications,
    Threshold,
    Webhook,
)
from spendgate.collector.config_fields import Money, Seconds, Strict
from spendgate.collector.event_config import EventsExtension, EventWebhook
from spendgate.collector.report_config import Chargeback, Reports
from spendgate.collector.telemetry_config import MetricsTelemetry

from spendgate.pricing import overrides as shared

# The sections defined in budget_config and config_fields are part of this module's names too.
__all__ = [
    "Alerts",
    "ApiKey",
    "AuthExtension",
    "BatchProcessor",
    "BudgetsExtension",
    "ClickHouseExporter",
    "Chargeback",
    "Config",
    "ConfigError",
    "Email",
    "EventWebhook",
    "EventsExtension",
    "Exporters",
    "Extensions",
    "FallbackPrice",
    "GrpcProtocol",
    "HttpProtocol",
    "Logs",
    "MetricsTelemetry",
    "ModelPrice",
    "Money",
    "Notifications",
    "OtlpProtocols",
    "OtlpReceiver",
    "Pipeline",
    "PricingProcessor",
    "Processors",
    "Receivers",
    "Reports",
    "Retention",
    "Seconds",
    "Threshold",
    "Service",
    "Telemetry",
    "Webhook",
    "load_config",
    "parse_config",
    "resolve_dsn",
    "substitute_env",
]

_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A configuration problem, with the key and what is wrong."""


def _check_endpoint(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not host:port")
    return value


class GrpcProtocol(Strict):
    endpoint: str = "127.0.0.1:4317"
    max_recv_msg_size_mib: int = Field(default=16, gt=0, le=1024)
    _check = field_validator("endpoint")(classmethod(lambda cls, v: _check_endpoint(v)))


class HttpProtocol(Strict):
    endpoint: str = "127.0.0.1:4318"
    max_request_body_size_mib: int = Field(default=16, gt=0, le=1024)
    _check = field_validator("endpoint")(classmethod(lambda cls, v: _check_endpoint(v)))


class OtlpProtocols(Strict):
    grpc: GrpcProtocol | None = GrpcProtocol()
    http: HttpProtocol | None = HttpProtocol()


class OtlpReceiver(Strict):
    protocols: OtlpProtocols = OtlpProtocols()


class Receivers(Strict):
    otlp: OtlpReceiver = OtlpReceiver()


class BatchProcessor(Strict):
    send_batch_size: int = Field(default=20000, gt=0)
    timeout: Seconds = 0.2
    max_pending_spans: int = Field(default=500000, gt=0)
    ack_timeout: Seconds = 30.0
    # Processes that decode, normalise and price requests; 0 does it in the receiving process.
    workers: int = Field(default=2, ge=0, le=64)


class ModelPrice(Strict):
    """A custom price, per million tokens unless noted."""

    model: str
    provider: str | None = None
    input_per_mtok: Money = Decimal(0)
    output_per_mtok: Money = Decimal(0)
    cache_read_per_mtok: Money | None = None
    cache_write_per_mtok: Money | None = None
    per_request: Money = Decimal(0)


class FallbackPrice(Strict):
    input_per_mtok: Money
    output_per_mtok: Money
    # Embeddings calls of an unknown model: a chat rate would charge them ~100x their price.
    embeddings_input_per_mtok: Money = shared.DEFAULT_FALLBACK.embeddings_input_per_mtok


class PricingProcessor(Strict):
    models: list[ModelPrice] = []
    # Contract discount per provider, as a fraction: 0.1 takes 10 % off.
    discounts: dict[str, Annotated[Decimal, Field(ge=0, le=1)]] = {}
    # The defaults are the shared pricer's, which agents use before the first flag snapshot.
    local_providers: list[str] = list(shared.DEFAULT_LOCAL_PROVIDERS)
    # Fixed monthly infrastructure cost of local models (stored as daily spend, not per call).
    # Keys: a provider ("ollama") or provider/model ("ollama/llama3"); spread over each month's days
    # as spend (see ingest/fixed_costs.py), each day unattributed or split by the projects' tokens.
    local_monthly_cost: dict[str, Money] = {}
    local_monthly_cost_split: Literal["none", "project"] = "none"
    fallback: FallbackPrice | None = FallbackPrice(
        input_per_mtok=shared.DEFAULT_FALLBACK.input_per_mtok,
        output_per_mtok=shared.DEFAULT_FALLBACK.output_per_mtok,
    )

    def overrides(self) -> shared.PricingOverrides:
        """What the shared pricer (collector and agents) needs of this section."""
        fallback = self.fallback
        return shared.PricingOverrides(
            models=tuple(shared.CustomModel(**m.model_dump()) for m in self.models),
            discounts=tuple(sorted(self.discounts.items())),
            local_providers=tuple(self.local_providers),
            fallback=shared.Fallback(**fallback.model_dump()) if fallback else None,
        )


class Processors(Strict):
    batch: BatchProcessor = BatchProcessor()
    pricing: PricingProcessor = PricingProcessor()


class Retention(Strict):
    detailed_days: int = Field(default=90, gt=0)
    hourly_days: int = Field(default=400, gt=0)
    daily_days: int = Field(default=365, gt=0)


class ClickHouseExporter(Strict):
    endpoint: str = "chdb://./.spendgate/data"
    database: str = Field(default="spendgate", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    cluster: str | None = None
    retention: Retention = Retention()
    dedup_window: Seconds = 3600.0
    # Call ids kept in memory for dedup_window (32 bytes each: 160 MiB at the default); past it the
    # collector asks ClickHouse about resent calls instead, slower but as exact.
    dedup_max_ids: int = Field(default=5_000_000, gt=0)
    # Several collectors write to this database behind one endpoint: check every call id that is
    # new to this collector against ClickHouse too (a query per request), so a retry that lands
    # on another collector is not stored twice.
    dedup_shared: bool = False
    insert_timeout: Seconds = 30.0

    @field_validator("endpoint")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("chdb:", "http://", "https://")):
            raise ValueError(f"{value!r}: use chdb:///path, http://host:8123 or https://host:8443")
        return value


class Exporters(Strict):
    clickhouse: ClickHouseExporter = ClickHouseExporter()


class ApiKey(Strict):
    name: str
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")  # of the key; `spendgate api-key` makes both
    roles: list[str] = Field(min_length=1)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {"ingest", "read", "admin"})
        if unknown:
            raise ValueError(f"unknown role {unknown[0]!r} (known: ingest, read, admin)")
        return value


class AuthExtension(Strict):
    """With keys configured, every request needs one (``Authorization: Bearer <key>``)."""

    api_keys: list[ApiKey] = []


class Extensions(Strict):
    budgets: BudgetsExtension = Field(default_factory=BudgetsExtension)  # env read per config
    auth: AuthExtension = AuthExtension()
    events: EventsExtension = EventsExtension()


class Pipeline(Strict):
    receivers: list[str] = ["otlp"]
    processors: list[str] = ["batch", "pricing"]
    exporters: list[str] = ["clickhouse"]


class Logs(Strict):
    level: str = Field(default="info", pattern=r"^(?i:debug|info|warning|error)$")


class Telemetry(Strict):
    logs: Logs = Logs()
    metrics: MetricsTelemetry = MetricsTelemetry()


class Service(Strict):
    pipelines: dict[str, Pipeline] = {"traces": Pipeline()}
    telemetry: Telemetry = Telemetry()


class Config(Strict):
    receivers: Receivers = Receivers()
    processors: Processors = Processors()
    exporters: Exporters = Exporters()
    extensions: Extensions = Field(default_factory=Extensions)
    service: Service = Service()
    reports: Reports = Reports()  # not an OpenTelemetry section: how spendgate's reports are made


def substitute_env(text: str, environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"environment variable {name} is referenced as ${{env:{name}}} but not set")

    return _ENV_REF.sub(replace, text)


def _format_errors(error: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def _substitute_tree(node: Any, environ: dict[str, str] | None) -> Any:
    # Substituting parsed values (not the raw text) keeps comments inert and
    # stops a variable's value from injecting YAML structure.
    if isinstance(node, str):
        return substitute_env(node, environ)
    if isinstance(node, list):
        return [_substitute_tree(item, environ) for item in node]
    if isinstance(node, dict):
        return {key: _substitute_tree(value, environ) for key, value in node.items()}
    return node


def parse_config(text: str, source: str = "<config>", environ: dict[str, str] | None = None) -> Config:
    try:
        data = _substitute_tree(yaml.safe_load(text), environ) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None
    _check_pipeline(config, source)
    return config


def _check_pipeline(config: Config, source: str) -> None:
    known = {"receivers": {"otlp"}, "processors": {"batch", "pricing"}, "exporters": {"clickhouse"}}
    for name, pipeline in config.service.pipelines.items():
        if name != "traces":
            raise ConfigError(f"{source}: service.pipelines.{name}: only the traces pipeline exists")
        for part, allowed in known.items():
            for component in getattr(pipeline, part):
                if component not in allowed:
                    raise ConfigError(
                        f"{source}: service.pipelines.traces.{part}: unknown component {component!r} "
                        f"(known: {', '.join(sorted(allowed))})"
                    )


def load_config(path: str | Path | None) -> Config:
    """Read a config file; None means the built-in defaults."""
    if path is None:
        return Config()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {file}: {exc.strerror}") from None
    return parse_config(text, str(file))


def resolve_dsn(endpoint: str, base: Path | None = None) -> str:
    """Make a chdb:// location absolute (relative paths are against ``base``)."""
    if not endpoint.startswith("chdb:"):
        return endpoint
    location = endpoint.removeprefix("chdb:").removeprefix("//")
    if location in ("", "memory") or location.startswith(":memory:"):
        return "chdb://memory"
    path = Path(location)
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return "chdb://" + str(path.resolve())
