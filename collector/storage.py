"""ClickHouse access through clickhouse-connect: client and schema migrations.

``chdb:///path`` runs the engine in this process (one owner per path);
``http(s)://user:pass@host:port`` talks to a server or cluster with the same
code.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import clickhouse_connect

from spendgate import queries

from .config import ClickHouseExporter, resolve_dsn

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

    def rows(self, relative_path: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a .sql file of queries/ with bound parameters; one dict per row, by column name."""
        result = self.client.query(self.sql(relative_path), parameters=parameters)
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

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


def _redact(dsn: str) -> str:
    scheme, sep, rest = dsn.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


def migration_statements(options: queries.SchemaOptions) -> list[tuple[queries.Migration, list[str]]]:
    """The rendered DDL of every migration that applies to ``options``."""
    planned = []
    for migration in queries.migrations():
        if migration.cluster_only and not options.clustered:
            continue
        planned.append((migration, queries.split_statements(queries.render(migration.sql, options))))
    return planned


def migrate(storage: Storage) -> list[str]:
    """Apply pending migrations in order; returns the names applied now."""
    options = storage.options
    db = queries.quote_identifier(options.database)
    on_cluster = f" ON CLUSTER {queries.quote_identifier(options.cluster)}" if options.cluster else ""
    storage.client.command(f"CREATE DATABASE IF NOT EXISTS {db}{on_cluster}")
    planned = migration_statements(options)
    bootstrap, rest = planned[0], planned[1:]
    for statement in bootstrap[1]:
        storage.client.command(statement)
    applied = {
        row[0]: row[2]
        for row in storage.client.query(storage.sql("collector/applied_migrations.sql")).result_rows
    }
    done = []
    for migration, statements in rest:
        checksum = hashlib.sha256("\n".join(statements).encode()).hexdigest()[:16]
        if migration.version in applied:
            if applied[migration.version] != checksum:
                log.warning("migration %s changed after it was applied; not re-applying", migration.name)
            continue
        log.info("applying migration %s", migration.name)
        for statement in statements:
            storage.client.command(statement)
        storage.client.insert(
            f"{options.database}.schema_migrations",
            [[migration.version, migration.name, checksum]],
            column_names=["version", "name", "checksum"],
        )
        done.append(migration.name)
    return done
