"""All of spendgate's SQL: migrations, rollups, runtime queries and dashboards.

SQL files are templates with a few named placeholders (``{db}``,
``{on_cluster}``, ``{local}``, ``{engine_<Engine>}``, retention days) that
:func:`render` fills in. ClickHouse query parameters (``{name:Type}``) are
left alone for the client to bind.

Runtime queries also name the lists of :mod:`spendgate.dimensions`, so that a
new dimension needs no SQL edit: ``{attribution_columns}``,
``{scope_columns}``, ``{records_filters}``, ``{usage_filters}`` and the
``multiIf`` cases ``{scope_id_of(T)}`` / ``{scope_id_of(T, alias)}`` (the id
of an llm_spans row in scope type ``T``) and ``{daily_key_of(T)}`` (a
spend_daily row's value of API dimension ``T``; ``{spans_key_of(T)}``: an llm_spans
row's). Migrations may not: their
rendered text is checksummed once applied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from spendgate import dimensions as dims

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


# The dimension lists: each name -> its SQL, from spendgate.dimensions.
def _filter(parameter: str, columns: Iterable[str]) -> str:
    """A WHERE condition: the String parameter is empty (no filter) or one of the columns equals it."""
    bound = f"{{{parameter}:String}}"
    return f"AND ({bound} = '' OR " + " OR ".join(f"{column} = {bound}" for column in columns) + ")"


_DIMENSION_LISTS = {
    "attribution_columns": ", ".join(d.column for d in dims.ATTRIBUTED),
    "scope_columns": ", ".join(dims.SCOPE_COLUMNS.values()),
    "records_filters": "\n  ".join(
        _filter(d.name, (d.column, *d.also_matches)) for d in dims.RECORDS_FILTERS
    ),
    "usage_filters": "\n  ".join(_filter(name, (name,)) for name in dims.USAGE_ROUTES),  # spend_daily
}
# The cases: each name -> {value of T: column}, for multiIf(T = 'value', [alias.]column, ..., '').
_DIMENSION_CASES = {
    "scope_id_of": dims.SCOPE_COLUMNS,  # llm_spans; '' for global
    "daily_key_of": {name: name for name in dims.GROUP_BY},  # spend_daily
    "spans_key_of": dims.USAGE_COLUMNS,  # llm_spans, the usage routes' dimensions
}
_DIMENSION_LIST = re.compile(r"\{(" + "|".join(_DIMENSION_LISTS) + r")\}")
_DIMENSION_CASE = re.compile(
    r"\{(" + "|".join(_DIMENSION_CASES) + r")\(([A-Za-z_][\w.]*)(?:, *([A-Za-z_]\w*))?\)\}"
)


def _dimension_case(match: re.Match[str]) -> str:
    name, of, alias = match.groups()
    prefix = f"{alias}." if alias else ""
    cases = "".join(
        f"{of} = {quote_literal(value)}, {prefix}{column}, "
        for value, column in _DIMENSION_CASES[name].items()
    )
    return f"multiIf({cases}'')"


def _fill_dimensions(sql: str) -> str:
    sql = _DIMENSION_LIST.sub(lambda match: _DIMENSION_LISTS[match.group(1)], sql)
    return _DIMENSION_CASE.sub(_dimension_case, sql)


def render(sql: str, options: SchemaOptions) -> str:
    """Fill in the schema placeholders of ``sql`` and the dimension lists."""

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

    return _fill_dimensions(_PLACEHOLDER.sub(substitute, sql))


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
        sql = path.read_text(encoding="utf-8")
        if _DIMENSION_LIST.search(sql) or _DIMENSION_CASE.search(sql):
            # A list that grows with spendgate.dimensions would change an applied migration.
            raise ValueError(f"migration {path.name} names a dimension list: write the columns out")
        version_text = stem.partition("_")[0]
        found.append(
            Migration(
                version=int(version_text),
                name=stem.removesuffix(".cluster"),
                sql=sql,
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
