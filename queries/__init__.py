"""All of spendgate's SQL: migrations, rollups, runtime queries and dashboards.

SQL files are templates with a few named placeholders (``{db}``,
``{on_cluster}``, ``{local}``, ``{engine_<Engine>}``, retention days) that
:func:`render` fills in. ClickHouse query parameters (``{name:Type}``) are
left alone for the client to bind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

_PLACEHOLDER = re.compile(
    r"\{(db|on_cluster|local|cluster|detailed_days|hourly_days|daily_days|engine_[A-Za-z]+)\}"
)


@dataclass(frozen=True)
class SchemaOptions:
    """What the DDL templates depend on."""

    database: str = "spendgate"
    cluster: str | None = None
    detailed_days: int = 90
    hourly_days: int = 400
    daily_days: int = 365

    @property
    def clustered(self) -> bool:
        return bool(self.cluster)


def _root() -> Path:
    return Path(str(resources.files(__name__)))


def read_sql(relative_path: str) -> str:
    """The text of a .sql file in this package, e.g. ``collector/recent_span_keys.sql``."""
    path = _root() / relative_path
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {relative_path!r} in spendgate.queries")
    return path.read_text(encoding="utf-8")


def _engine(name: str, options: SchemaOptions) -> str:
    if not options.clustered:
        return f"{name}()"
    # Replicated engines without arguments use the server's default_replica_path
    # and default_replica_name, which already contain {uuid}/{shard}/{replica}.
    return f"Replicated{name}()"


def render(sql: str, options: SchemaOptions) -> str:
    """Fill in the schema placeholders of ``sql``."""

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "db":
            return quote_identifier(options.database)
        if key == "on_cluster":
            return f"ON CLUSTER {quote_identifier(options.cluster)}" if options.cluster else ""
        if key == "cluster":
            return quote_literal(options.cluster or "")
        if key == "local":
            return "_local" if options.clustered else ""
        if key.startswith("engine_"):
            return _engine(key.removeprefix("engine_"), options)
        return str(int(getattr(options, key)))

    return _PLACEHOLDER.sub(substitute, sql)


def split_statements(sql: str) -> list[str]:
    """Split a migration file into statements at semicolons ending a line."""
    statements = []
    for chunk in re.split(r";\s*(?:\n|$)", sql):
        lines = [line for line in chunk.splitlines() if not line.strip().startswith("--")]
        text = "\n".join(lines).strip()
        if text:
            statements.append(text)
    return statements


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    cluster_only: bool


def migrations() -> list[Migration]:
    """Migration files in version order."""
    found = []
    for path in sorted((_root() / "migrations").glob("*.sql")):
        stem = path.name.removesuffix(".sql")
        version_text = stem.partition("_")[0]
        found.append(
            Migration(
                version=int(version_text),
                name=stem.removesuffix(".cluster"),
                sql=path.read_text(encoding="utf-8"),
                cluster_only=stem.endswith(".cluster"),
            )
        )
    return found


def quote_identifier(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"invalid ClickHouse identifier {name!r}: use letters, digits and underscores")
    return f"`{name}`"


def quote_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
