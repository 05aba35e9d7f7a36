"""Config errors name the key; migrations are idempotent; cluster DDL is right."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from spendgate.collector.config import ConfigError, load_config, parse_config, resolve_dsn
from spendgate.collector.storage import migration_statements

from spendgate import queries

from .conftest import REPO, RunningCollector


def test_shipped_config_parses_with_defaults() -> None:
    config = load_config(REPO / "otel-config.yaml")
    assert config.exporters.clickhouse.endpoint == "chdb://./.spendgate/data"
    assert config.processors.batch.timeout == 0.2
    assert config.processors.batch.workers == 2
    assert config.exporters.clickhouse.dedup_window == 3600


def test_env_substitution_with_default_and_missing_variable() -> None:
    text = "exporters:\n  clickhouse:\n    endpoint: ${env:DSN}\n    database: ${env:DB:-metering}\n"
    config = parse_config(text, environ={"DSN": "http://u:p@ch:8123"})
    assert config.exporters.clickhouse.endpoint == "http://u:p@ch:8123"
    assert config.exporters.clickhouse.database == "metering"
    with pytest.raises(ConfigError, match="DSN"):
        parse_config(text, environ={})


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: nowhere\n",
            "receivers.otlp.protocols.grpc.endpoint",
        ),
        ("processors:\n  batch:\n    timeout: soon\n", "processors.batch.timeout"),
        ("exporters:\n  clickhouse:\n    endpoint: mysql://x\n", "exporters.clickhouse.endpoint"),
        ("exporters:\n  clickhouse:\n    databse: x\n", "exporters.clickhouse.databse: unknown key"),
        ("processors:\n  pricing:\n    discounts: {openai: 1.5}\n", "processors.pricing.discounts.openai"),
        ("service:\n  pipelines:\n    traces:\n      exporters: [kafka]\n", "unknown component 'kafka'"),
        ("[1, 2", "not valid YAML"),
    ],
)
def test_config_errors_name_the_key(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text)
    assert needle in str(error.value)


def test_bad_config_exits_nonzero_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("processors:\n  batch:\n    send_batch_size: -1\n")
    run = subprocess.run(
        [sys.executable, "-m", "spendgate.collector", "collector", "--config", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    assert "processors.batch.send_batch_size" in run.stderr
    assert "Traceback" not in run.stderr


def test_relative_chdb_paths_resolve_against_the_config_dir(tmp_path: Path) -> None:
    assert resolve_dsn("chdb://./data", tmp_path) == f"chdb://{tmp_path.resolve()}/data"
    assert resolve_dsn("chdb:///abs/x") == "chdb:///abs/x"
    assert resolve_dsn("http://h:8123") == "http://h:8123"


def test_cluster_ddl_text() -> None:
    options = queries.SchemaOptions(database="metering", cluster="prod")
    ddl = {m.name: statements for m, statements in migration_statements(options)}
    spans = ddl["0001_llm_spans"][0]
    assert "CREATE TABLE IF NOT EXISTS `metering`.llm_spans_local ON CLUSTER `prod`" in spans
    assert "ENGINE = ReplicatedMergeTree()" in spans
    rollup, view = ddl["0002_spend_by_scope_hourly"]
    assert "ENGINE = ReplicatedSummingMergeTree()" in rollup
    assert "TO `metering`.spend_by_scope_hourly_local" in view and "FROM `metering`.llm_spans_local" in view
    distributed = ddl["0005_distributed"]
    assert len(distributed) == 4
    assert "ENGINE = Distributed('prod', `metering`, llm_spans_local, cityHash64(trace_id))" in distributed[0]
    savings = ddl["0010_cache_savings_distributed"]
    assert "ALTER TABLE `metering`.llm_spans ON CLUSTER `prod`" in savings[0]
    assert "ALTER TABLE `metering`.spend_daily_local ON CLUSTER `prod`" in ddl["0009_cache_savings"][1]
    ledger = ddl["0016_insert_ledger_distributed"]
    assert "ALTER TABLE `metering`.llm_spans ON CLUSTER `prod`" in ledger[0]
    assert "Distributed('prod', `metering`, insert_ledger_local, cityHash64(insert_id))" in ledger[1]
    single = {m.name: s for m, s in migration_statements(queries.SchemaOptions())}
    assert "0005_distributed" not in single
    assert (
        "ON CLUSTER" not in "".join(single["0001_llm_spans"])
        and "ENGINE = MergeTree()" in single["0001_llm_spans"][0]
    )


def test_identifiers_are_checked() -> None:
    with pytest.raises(ValueError, match="identifier"):
        queries.render("{db}", queries.SchemaOptions(database="x; DROP"))


def test_migrations_are_recorded_and_idempotent(running: RunningCollector) -> None:
    from spendgate.collector.storage import migrate

    assert running.collector.storage is not None
    assert migrate(running.collector.storage) == []
    versions = running.rows("SELECT version FROM {db}.schema_migrations FINAL ORDER BY version")
    # 5, 8, 10, 12, 14, 16, 18, 20, 22, 26, 28, 30: clusters only
    assert versions == [
        (1,), (2,), (3,), (4,), (6,), (7,), (9,), (11,), (13,), (15,), (17,), (19,), (21,), (23,), (25,), (27,),
        (29,),
    ]  # fmt: skip
    ttl = running.scalar(
        "SELECT create_table_query FROM system.tables WHERE database={d:String} AND name='llm_spans'",
        d=running.database,
    )
    assert "toIntervalDay(90)" in ttl and "toYYYYMM(start_time)" in ttl


def test_generated_flag_modules_match_the_proto(tmp_path: Path) -> None:
    from grpc_tools import protoc

    source = REPO / "spendgate" / "proto"
    tree = tmp_path / "spendgate" / "proto"
    tree.mkdir(parents=True)
    (tree / "flags.proto").write_text((source / "flags.proto").read_text())
    args = ["protoc", f"-I{tmp_path}", f"--python_out={tmp_path}", f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}", str(tree / "flags.proto")]  # fmt: skip
    assert protoc.main(args) == 0
    for name in ("flags_pb2.py", "flags_pb2.pyi", "flags_pb2_grpc.py"):
        assert (tree / name).read_text() == (source / name).read_text(), (
            f"run tools/gen_proto.sh: {name} is stale"
        )


def test_shipped_config_holds_the_seeded_budget_defaults() -> None:
    from spendgate.collector.config import Config

    shipped = load_config(REPO / "otel-config.yaml").extensions.budgets.defaults
    assert [b.model_dump() for b in shipped] == [b.model_dump() for b in Config().extensions.budgets.defaults]
    by_id = {b.id: b for b in shipped}
    assert (by_id["global-monthly"].limit, by_id["global-monthly"].period) == (500, "month")
    assert by_id["per-request-testing"].limit == Decimal("0.10")


def test_api_key_entries_are_checked() -> None:
    bad_role = "extensions:\n  auth:\n    api_keys: [{name: a, sha256: " + "a" * 64 + ", roles: [root]}]\n"
    with pytest.raises(
        ConfigError, match="extensions.auth.api_keys.0.roles: Value error, unknown role 'root'"
    ):
        parse_config(bad_role)
    clear_text = "extensions:\n  auth:\n    api_keys: [{name: a, sha256: my-secret, roles: [read]}]\n"
    with pytest.raises(ConfigError, match="extensions.auth.api_keys.0.sha256"):
        parse_config(clear_text)


def test_the_per_agent_monthly_default_takes_its_amount_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def agent_default(environ: dict[str, str], text: str = "") -> list[tuple[Decimal, bool, Decimal]]:
        for name in ("AGENT_MAX_MONTHLY_COST_USD", "SPENDGATE_AGENT_MAX_MONTHLY_COST_USD"):
            monkeypatch.delenv(name, raising=False)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        budgets = parse_config(text).extensions.budgets.defaults
        return [(b.limit, b.hard, b.grace_percent) for b in budgets if b.id == "agent-default-monthly"]

    # Seed 004: $50 a month per agent, paused at 110 %.
    assert agent_default({}) == [(Decimal(50), True, Decimal(10))]
    assert agent_default({"AGENT_MAX_MONTHLY_COST_USD": "75.50"}) == [(Decimal("75.50"), True, Decimal(10))]
    both = {"AGENT_MAX_MONTHLY_COST_USD": "75", "SPENDGATE_AGENT_MAX_MONTHLY_COST_USD": "20"}
    assert agent_default(both) == [(Decimal(20), True, Decimal(10))]
    for off in ("0", "off", "OFF", "0.00"):
        assert agent_default({"AGENT_MAX_MONTHLY_COST_USD": off}) == []
    # The shipped file lists it by id, so the variable applies there too; a config without it has none.
    shipped = (REPO / "otel-config.yaml").read_text()
    assert agent_default({"AGENT_MAX_MONTHLY_COST_USD": "12"}, shipped) == [(Decimal(12), True, Decimal(10))]
    assert (
        agent_default({"AGENT_MAX_MONTHLY_COST_USD": "12"}, "extensions:\n  budgets:\n    defaults: []\n")
        == []
    )
    for bad in ("lots", "-5", "NaN", "inf"):
        monkeypatch.setenv("AGENT_MAX_MONTHLY_COST_USD", bad)
        with pytest.raises(
            ConfigError, match=f"AGENT_MAX_MONTHLY_COST_USD={bad!r}: give a monthly limit in USD"
        ):
            parse_config("extensions:\n  budgets: {}\n")
