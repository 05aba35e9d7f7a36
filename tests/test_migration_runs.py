"""One migration run: superseded view versions are skipped, the run is recorded in one insert, and a
crash anywhere before that insert is safe on restart (the run is applied again)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from spendgate.collector.config import ClickHouseExporter
from spendgate.collector.storage import (
    Storage,
    StorageError,
    effective_statements,
    migrate,
    migration_statements,
    open_storage,
)

from spendgate import queries


@pytest.fixture
def opened(chdb_dsn: str) -> Iterator[list[Storage]]:
    """Opens storages on new databases of the session's engine; drops them afterwards."""
    storages: list[Storage] = []
    yield storages
    for storage in storages:
        storage.client.command(f"DROP DATABASE IF EXISTS {storage.options.database} SYNC")
        storage.close()


def _open(dsn: str, storages: list[Storage]) -> Storage:
    storage = open_storage(ClickHouseExporter(endpoint=dsn, database="t_" + uuid.uuid4().hex[:10]))
    storages.append(storage)
    return storage


def _schema(storage: Storage) -> dict[str, str]:
    """name -> its CREATE statement, without the database's name."""
    database = storage.options.database
    rows = storage.client.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = {d:String}",
        parameters={"d": database},
    ).result_rows
    return {name: query.replace(database, "DB") for name, query in rows}


def _recorded(storage: Storage) -> list[int]:
    rows = storage.client.query(f"SELECT version FROM {storage.options.database}.schema_migrations FINAL")
    return sorted(version for (version,) in rows.result_rows)


def test_a_new_database_gets_the_schema_every_statement_in_turn_gives(
    chdb_dsn: str, opened: list[Storage]
) -> None:
    stepwise, run = _open(chdb_dsn, opened), _open(chdb_dsn, opened)
    stepwise.client.command(f"CREATE DATABASE {stepwise.options.database}")
    planned = migration_statements(stepwise.options)
    for _, statements in planned:
        for statement in statements:
            stepwise.client.command(statement)
    applied = migrate(run)
    assert applied == [migration.name for migration, _ in planned[1:]]
    assert _schema(run) == _schema(stepwise)
    assert _recorded(run) == [migration.version for migration, _ in planned[1:]]


def test_superseded_views_are_not_created_and_missing_ones_not_dropped() -> None:
    pending = migration_statements(queries.SchemaOptions(database="m"))[1:]
    every = [statement for _, statements in pending for statement in statements]
    kept = [statement for run in effective_statements(pending, set()) for statement in run]
    views = [s.split()[6] for s in kept if s.startswith("CREATE MATERIALIZED VIEW")]
    assert sorted(views) == ["`m`.spend_by_scope_hourly_mv", "`m`.spend_daily_mv", "`m`.spend_monthly_mv"]
    assert not [s for s in kept if s.startswith("DROP")]
    assert [s for s in every if "VIEW" not in s.split("\n")[0]] == [
        s for s in kept if "VIEW" not in s.split("\n")[0]
    ]
    # Views that exist are dropped once, then created in their last version only.
    existing = {"spend_by_scope_hourly_mv", "spend_daily_mv", "spend_monthly_mv"}
    kept = [statement for run in effective_statements(pending, existing) for statement in run]
    assert sorted(s.split()[-1] for s in kept if s.startswith("DROP")) == sorted(f"`m`.{v}" for v in existing)
    # On a cluster a view may be on some hosts only: every drop runs.
    clustered = migration_statements(queries.SchemaOptions(database="m", cluster="c"))[1:]
    kept = [statement for run in effective_statements(clustered, None) for statement in run]
    drops = [s for _, statements in clustered for s in statements if s.startswith("DROP")]
    assert [s for s in kept if s.startswith("DROP")] == drops


@pytest.mark.parametrize(
    "crash_after", ["0006_rollup_views_pre_aggregate", "0023_fixed_costs_are_not_calls", "last"]
)
def test_a_crash_before_the_run_is_recorded_is_applied_again_on_restart(
    chdb_dsn: str, opened: list[Storage], crash_after: str
) -> None:
    """The state a crash leaves: the run's statements applied up to a point (a view dropped and not
    yet created again, say), nothing of the run recorded. The restart applies the run again."""
    crashed, whole = _open(chdb_dsn, opened), _open(chdb_dsn, opened)
    migrate(whole)
    crashed.client.command(f"CREATE DATABASE {crashed.options.database}")
    planned = migration_statements(crashed.options)
    for statement in planned[0][1]:
        crashed.client.command(statement)
    runs = effective_statements(planned[1:], set())
    for (migration, _), statements in zip(planned[1:], runs, strict=True):
        for statement in statements:
            crashed.client.command(statement)
        if migration.name == crash_after:
            break
    if crash_after != "last":  # the run's later drop of this view has not been followed by its create
        crashed.client.command(f"DROP VIEW IF EXISTS {crashed.options.database}.spend_daily_mv")
        with pytest.raises(StorageError):  # the state is not whole before the restart
            from spendgate.collector.storage import check_schema

            check_schema(crashed, [s for _, group in planned for s in group])
    assert _recorded(crashed) == []
    assert migrate(crashed) == [migration.name for migration, _ in planned[1:]]
    assert _schema(crashed) == _schema(whole)
    assert _recorded(crashed) == _recorded(whole)
    assert migrate(crashed) == []  # recorded: the next start applies nothing
