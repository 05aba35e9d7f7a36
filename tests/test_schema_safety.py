"""Operators' commands cannot destroy data; a damaged schema is named with the way out; retention
changes apply on restart."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .collector_process import collector_sql, start_collector_process
from .conftest import collector_yaml, free_port


def _config(tmp_path: Path, detailed_days: int = 90) -> Path:
    extra = f"    retention: {{detailed_days: {detailed_days}}}\n"
    text = collector_yaml("chdb://" + str(tmp_path / "data"), "spendgate", free_port(), free_port())
    config = tmp_path / "otel-config.yaml"
    config.write_text(text.rstrip("\n") + "\n" + extra)
    return config


def _run_once(config: Path, log: Path) -> None:
    process = start_collector_process(config, log)
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spendgate.collector", *args], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


@pytest.fixture
def config(tmp_path: Path) -> Path:
    config = _config(tmp_path)
    _run_once(config, tmp_path / "collector.log")
    return config


def test_sql_refuses_writes_at_the_engine_and_reads_the_configured_database(config: Path) -> None:
    for statement in ("DROP TABLE spendgate.llm_spans", "TRUNCATE TABLE llm_spans",
                      "INSERT INTO llm_spans (project) VALUES ('x')", "ALTER TABLE llm_spans DELETE WHERE 1",
                      "SELECT 1; DROP TABLE llm_spans", "CREATE TABLE t (a Int8) ENGINE = Memory"):  # fmt: skip
        done = _cli("sql", "--config", str(config), statement)
        assert done.returncode == 2, statement
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert collector_sql(config, "SELECT count() FROM llm_spans") == [[0]]  # unqualified, still there
    assert "read-only" in _cli("sql", "--config", str(config), "DROP TABLE llm_spans").stderr


def test_a_damaged_schema_is_named_with_the_way_to_recover(config: Path, tmp_path: Path) -> None:
    drop = ("import clickhouse_connect, sys; c = clickhouse_connect.get_client(dsn=sys.argv[1]);"
            " c.command('DROP TABLE spendgate.llm_spans')")  # fmt: skip
    subprocess.run([sys.executable, "-c", drop, "chdb://" + str(tmp_path / "data")], check=True, timeout=120)
    done = _cli("collector", "--config", str(config))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "damaged" in done.stderr and "llm_spans" in done.stderr and "--repair-schema" in done.stderr
    process = start_collector_process(config, tmp_path / "repair.log", "--repair-schema")
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    assert collector_sql(config, "SELECT count() FROM llm_spans") == [[0]]


def test_retention_changes_apply_on_restart(config: Path, tmp_path: Path) -> None:
    shorter = _config(tmp_path, detailed_days=30)
    log = tmp_path / "restart.log"
    _run_once(shorter, log)
    engine = collector_sql(shorter, "SELECT engine_full FROM system.tables WHERE database = 'spendgate' "
                                    "AND name = 'llm_spans'")[0][0]  # fmt: skip
    assert "toIntervalDay(30)" in str(engine)
    text = log.read_text()
    assert "retention of llm_spans: 90 days -> 30 days" in text and "changed after it was applied" not in text
