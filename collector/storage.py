"""ClickHouse access through clickhouse-connect: the store and schema migrations.

``chdb:///path`` runs the engine in this process (one owner per path);
``http(s)://user:pass@host:port`` talks to a server or cluster with the same
code. This is the only module that touches the client: the rest of the
collector reads and writes through :class:`Storage`'s typed methods (records
of tables.py, Arrow blocks, key arrays), so swapping the store means
implementing those.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import clickhouse_connect
import numpy as np
import pyarrow as pa
from spendgate.collector.config import ClickHouseExporter, resolve_dsn
from spendgate.collector.tables import Columns, R, Table

from spendgate import queries

log = logging.getLogger(__name__)


class StorageError(Exception):
    """ClickHouse could not be opened or migrated."""


@dataclass(frozen=True)
class Storage:
    client: Any  # clickhouse_connect Client
    options: queries.SchemaOptions
    dsn: str

    def sql(self, relative_path: str) -> str:
        return queries.render(queries.read_sql(relative_path), self.options)

    def table(self, name: str) -> str:
        """A table of the collector's database, qualified."""
        return f"{self.options.database}.{name}"

    def rows(self, relative_path: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a .sql file of queries/ with bound parameters; one dict per row, by column name."""
        return self.named_rows(relative_path, parameters)[1]

    def named_rows(
        self, relative_path: str, parameters: dict[str, Any]
    ) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
        """:meth:`rows` with the query's column names, which an empty answer has too (a CSV header)."""
        result = self.client.query(self.sql(relative_path), parameters=parameters)
        names = tuple(result.column_names)
        if not names:  # chDB's answer to an empty result names no columns; its Arrow schema does
            names = tuple(self.query_arrow(relative_path, parameters).schema.names)
        return names, [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def records(
        self, columns: Columns[R], relative_path: str, parameters: Mapping[str, object] | None = None
    ) -> list[R]:
        """Run a .sql file of queries/ with bound parameters; one record per row, read by column name."""
        result = self.client.query(
            self.sql(relative_path), parameters=dict(parameters) if parameters else None
        )
        return [columns.read(row) for row in result.named_results()]

    def insert(self, table: Table[R], records: Sequence[R]) -> None:
        rows = [table.row(record) for record in records]
        self.client.insert(self.table(table.name), rows, column_names=list(table.names))

    def query_arrow(self, relative_path: str, parameters: Mapping[str, object]) -> pa.Table:
        return self.client.query_arrow(self.sql(relative_path), parameters=dict(parameters))

    def insert_arrow(self, table: str, block: pa.Table, settings: Mapping[str, object]) -> None:
        """Insert an Arrow block into ``table`` as one insert, with these insert settings."""
        self.client.insert_arrow(self.table(table), block, settings=dict(settings))

    def key_array(self, relative_path: str, parameters: Mapping[str, object], width: int = 24) -> np.ndarray:
        """The one FixedString(width) column of a .sql file's result, as a numpy array of dtype
        S<width> (millions of keys without a Python object each)."""
        table = self.query_arrow(relative_path, parameters)
        if table.num_rows == 0:
            return np.empty(0, dtype=f"S{width}")
        column = table.column(0).combine_chunks()
        data = column.buffers()[1 if pa.types.is_fixed_size_binary(column.type) else 2]
        return np.frombuffer(data, dtype=f"S{width}", count=len(column)).copy()

    def stored_keys(self, relative_path: str, keys: list[bytes], window_seconds: int) -> set[bytes]:
        parameters = {"keys": keys, "window_seconds": window_seconds}
        result = self.client.query(self.sql(relative_path), parameters=parameters)
        return {bytes(key) for (key,) in result.result_rows}

    def read_only(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run an operator's query with the engine refusing writes and DDL (``readonly=2``: reads
        only, settings may still be changed); unqualified table names are the configured
        database's. Raises StorageError with ClickHouse's one-line reason."""
        self.client.database = self.options.database
        try:
            result = self.client.query(sql.strip().rstrip(";"), settings={"readonly": 2})
        except Exception as exc:
            raise StorageError(_first_line(exc)) from None
        return list(result.column_names), [tuple(row) for row in result.result_rows]

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # closing must never mask the original problem
            log.debug("closing the ClickHouse client failed", exc_info=True)


def schema_options(config: ClickHouseExporter) -> queries.SchemaOptions:
    return queries.SchemaOptions(
        database=config.database,
        cluster=config.cluster or None,
        detailed_days=config.retention.detailed_days,
        hourly_days=config.retention.hourly_days,
        daily_days=config.retention.daily_days,
    )


def open_storage(config: ClickHouseExporter, base: Path | None = None) -> Storage:
    dsn = resolve_dsn(config.endpoint, base)
    if dsn.startswith("chdb://") and dsn != "chdb://memory":
        Path(dsn.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
    try:
        extra: dict[str, Any] = (
            {} if dsn.startswith("chdb:") else {"send_receive_timeout": max(1, int(config.insert_timeout))}
        )
        client = clickhouse_connect.get_client(dsn=dsn, **extra)
    except Exception as exc:
        text = str(exc)
        if "Cannot lock file" in text or "lock" in text.lower():
            raise StorageError(
                f"the embedded database at {dsn} is already open in another process; "
                "only one collector may own it (use the collector's API from other processes)"
            ) from None
        raise StorageError(
            f"cannot connect to ClickHouse at {_redact(dsn)}: {text.splitlines()[0]}"
        ) from None
    return Storage(client, schema_options(config), dsn)


def _first_line(exc: Exception) -> str:
    """ClickHouse's reason without its code prefix, stack or version suffix."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for marker in ("DB::Exception: ", "Exception: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
            break
    return text.split(" (version ")[0].split(". Stack trace")[0]


def _redact(dsn: str) -> str:
    scheme, sep, rest = dsn.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


Planned = tuple[queries.Migration, list[str]]  # a migration and its rendered statements


def migration_statements(options: queries.SchemaOptions) -> list[Planned]:
    """The rendered DDL of every migration that applies to ``options``."""
    planned = []
    for migration in queries.migrations():
        if migration.cluster_only and not options.clustered:
            continue
        planned.append((migration, queries.split_statements(queries.render(migration.sql, options))))
    return planned


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str  # of its statements at the default retention


_MIGRATIONS = Table("schema_migrations", AppliedMigration)


def migrate(storage: Storage, repair: bool = False) -> list[str]:
    """Apply pending migrations in order (``repair``: every migration again, which re-creates
    what is missing), check that the schema is whole, and apply the configured retention;
    returns the names applied now."""
    options = storage.options
    db = queries.quote_identifier(options.database)
    on_cluster = f" ON CLUSTER {queries.quote_identifier(options.cluster)}" if options.cluster else ""
    storage.client.command(f"CREATE DATABASE IF NOT EXISTS {db}{on_cluster}")
    planned = migration_statements(options)
    # Checksums are taken at the default retention: retention is applied on every start
    # (apply_retention), so changing it does not make a migration look edited.
    canonical = migration_statements(replace(options, detailed_days=90, hourly_days=400, daily_days=365))
    checksums = {
        migration.version: hashlib.sha256("\n".join(statements).encode()).hexdigest()[:16]
        for migration, statements in canonical
    }
    bootstrap, rest = planned[0], planned[1:]
    for statement in bootstrap[1]:
        storage.client.command(statement)
    applied = {
        row.version: row.checksum for row in storage.records(_MIGRATIONS, "collector/applied_migrations.sql")
    }
    pending = []
    for migration, statements in rest:
        if migration.version in applied and not repair:
            if applied[migration.version] != checksums[migration.version]:
                log.warning("migration %s changed after it was applied; not re-applying", migration.name)
            continue
        pending.append((migration, statements))
    if pending:
        # On a cluster a view may exist on some hosts only: every drop runs there.
        runs = effective_statements(pending, None if options.clustered else set(_tables(storage)))
        for (migration, _), statements in zip(pending, runs, strict=True):
            log.info("applying migration %s", migration.name)
            _apply(storage, migration.name, statements, planned)
        # One record insert for the whole run. A crash before it leaves them all unrecorded:
        # the next start applies them again, which every migration allows (IF [NOT] EXISTS
        # throughout; --repair-schema relies on the same).
        storage.insert(
            _MIGRATIONS,
            [AppliedMigration(m.version, m.name, checksums[m.version]) for m, _ in pending],
        )
    apply_retention(storage, check_schema(storage, [s for _, group in planned for s in group]))
    return [migration.name for migration, _ in pending]


_VIEW = re.compile(
    r"^\s*(CREATE MATERIALIZED VIEW IF NOT EXISTS|DROP VIEW IF EXISTS) (\S+?\.`?\w+`?)(?:[\s(;]|$)"
)


def effective_statements(pending: list[Planned], existing: set[str] | None) -> list[list[str]]:
    """The statements of ``pending`` (applied in order, in one run) that change something.

    A view the run drops again later is not created before that (it holds no data: its rows
    are in its target table), and dropping a view that does not exist is skipped; ``existing``
    names the database's tables and views before the run (None: unknown, every drop runs).
    On a new database this saves the superseded versions of the rollup views."""
    dropped_later: dict[str, int] = {}  # view -> the last migration of the run that drops it
    for index, (_, statements) in enumerate(pending):
        for statement in statements:
            match = _VIEW.match(statement)
            if match and match.group(1).startswith("DROP"):
                dropped_later[_short(match.group(2))] = index
    present = set(existing or ())
    runs = []
    for index, (_, statements) in enumerate(pending):
        run = []
        for statement in statements:
            match = _VIEW.match(statement)
            if match is None:
                run.append(statement)
                continue
            view = _short(match.group(2))
            if match.group(1).startswith("DROP"):
                if existing is None or view in present:
                    run.append(statement)
                    present.discard(view)
            elif dropped_later.get(view, -1) <= index:
                run.append(statement)
                present.add(view)
        runs.append(run)
    return runs


def _short(qualified: str) -> str:
    return qualified.rsplit(".", 1)[1].strip("`")


def _apply(storage: Storage, name: str, statements: list[str], planned: list[Planned]) -> None:
    try:
        for statement in statements:
            storage.client.command(statement)
    except Exception as exc:
        # A table dropped by hand is the likely cause: say so, and how to recover, if it is.
        earlier = planned[: [migration.name for migration, _ in planned].index(name)]
        check_schema(storage, [statement for _, group in earlier for statement in group])
        raise StorageError(f"migration {name} failed: {_first_line(exc)}") from None


_CREATED = re.compile(r"CREATE (?:TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS \S+?\.`?(\w+)`?[\s(]")


def _tables(storage: Storage) -> dict[str, str]:
    """name -> engine clause of every table and view in the collector's database."""
    rows = storage.rows("collector/schema_tables.sql", {"database": storage.options.database})
    return {row["name"]: row["engine_full"] for row in rows}


def check_schema(storage: Storage, statements: list[str]) -> dict[str, str]:
    """Raise StorageError naming what is missing when a table or view the migrations create is gone
    (dropped by hand, say), and how to recover; returns the tables (:func:`_tables`)."""
    expected = {match.group(1) for statement in statements for match in _CREATED.finditer(statement)}
    tables = _tables(storage)
    missing = sorted(expected - set(tables))
    if missing:
        names = ", ".join(missing)
        raise StorageError(
            f"the schema of database {storage.options.database!r} is damaged, missing: {names}. "
            "What was in them is gone (restore it from a backup if you have one); "
            "`spendgate collector --repair-schema` re-creates what is missing and starts"
        )
    return tables


_TTL_DAYS = re.compile(r"TTL .*?toIntervalDay\((\d+)\)")


def apply_retention(storage: Storage, tables: dict[str, str] | None = None) -> None:
    """Bring each table's TTL to the configured retention where they differ (``tables``: a
    fresh :func:`_tables`, read here when not given)."""
    options = storage.options
    wanted = {
        "llm_spans": options.detailed_days,
        "spend_by_scope_hourly": options.hourly_days,
        "spend_daily": options.daily_days,
    }
    tables = _tables(storage) if tables is None else tables
    statements = queries.split_statements(storage.sql("collector/retention.sql"))
    for (table, days), statement in zip(wanted.items(), statements, strict=True):
        match = _TTL_DAYS.search(tables.get(table + ("_local" if options.clustered else ""), ""))
        if match is None or int(match.group(1)) == days:
            continue
        log.info("retention of %s: %s days -> %d days", table, match.group(1), days)
        storage.client.command(statement)
