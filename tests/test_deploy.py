"""deploy/: the compose file, the collector image and the ClickHouse init script fit the repository.

No container runs here; these check what would break a `docker compose up` silently: a mount of a
path that does not exist, a variable Grafana's provisioning reads but compose never sets, a collector
config that does not parse with the compose environment, a password the init script would mangle.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest
import yaml
from spendgate.collector.config import parse_config

from .conftest import REPO

DEPLOY = REPO / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
# Values for the ${NAME:?...} references, as deploy/.env would give them.
ENV_EXAMPLE = dict(
    line.split("=", 1)
    for line in (DEPLOY / "env.example").read_text("utf-8").splitlines()
    if line and not line.startswith("#")
)


def _compose_env(service: str) -> dict[str, str]:
    def expand(value: str) -> str:
        return re.sub(r"\$\{(\w+)(?::\?[^}]*)?\}", lambda m: ENV_EXAMPLE[m.group(1)], value)

    return {name: expand(str(value)) for name, value in SERVICES[service]["environment"].items()}


def test_every_variable_compose_needs_is_in_the_example_env() -> None:
    text = (DEPLOY / "compose.yaml").read_text("utf-8")
    assert set(re.findall(r"\$\{(\w+)", text)) == set(ENV_EXAMPLE)
    assert (REPO / ".gitignore").read_text("utf-8").count("deploy/.env") == 1  # secrets stay out of git


def test_bind_mounts_exist_and_match_the_provisioning() -> None:
    targets = {}
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                assert (DEPLOY / source).resolve().exists(), f"{name}: {source}"
                targets[target] = (DEPLOY / source).resolve()
    provider = yaml.safe_load(
        (REPO / "queries/grafana/provisioning/dashboards/spendgate.yaml").read_text("utf-8")
    )
    dashboards = targets[provider["providers"][0]["options"]["path"]]
    assert dashboards == REPO / "queries/grafana/dashboards"
    home = _compose_env("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (dashboards / Path(home).name).is_file()
    assert "grafana-clickhouse-datasource" in _compose_env("grafana")["GF_PLUGINS_PREINSTALL_SYNC"]


def test_grafana_gets_every_variable_its_data_source_reads() -> None:
    text = (REPO / "queries/grafana/provisioning/datasources/spendgate.yaml").read_text("utf-8")
    needed = set(re.findall(r"^\s+\w+: \$(\w+)", text, re.MULTILINE))
    assert len(needed) == 4
    env = _compose_env("grafana")
    assert needed <= set(env), needed - set(env)
    assert env["SPENDGATE_CLICKHOUSE_HOST"] == "clickhouse" and env["SPENDGATE_CLICKHOUSE_USER"] == "grafana"
    assert env["SPENDGATE_DATABASE"] == _compose_env("clickhouse")["CLICKHOUSE_DB"]


def test_the_collector_config_parses_with_the_compose_environment() -> None:
    env = _compose_env("collector")
    config = parse_config((REPO / "otel-config.yaml").read_text("utf-8"), environ=env)
    exporter = config.exporters.clickhouse
    password = ENV_EXAMPLE["SPENDGATE_CLICKHOUSE_PASSWORD"]
    assert exporter.endpoint == f"http://spendgate:{password}@clickhouse:8123"
    assert exporter.database == _compose_env("clickhouse")["CLICKHOUSE_DB"]
    protocols = config.receivers.otlp.protocols
    assert (protocols.grpc.endpoint, protocols.http.endpoint) == ("0.0.0.0:4317", "0.0.0.0:4318")
    assert {p.split(":")[0] for p in SERVICES["collector"]["ports"]} == {"4317", "4318"}


def test_the_image_copies_every_package_directory() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text("utf-8")
    copied = {
        src for line in dockerfile.splitlines() if line.startswith("COPY ") for src in line.split()[1:-1]
    }
    pyproject = (REPO / "pyproject.toml").read_text("utf-8")
    package_dirs = set(re.findall(r'"spendgate(?:\.\w+)?" = "(\w+)"', pyproject))
    assert package_dirs == {"spendgate", "collector", "instrumentation", "queries"}
    assert package_dirs | {"pyproject.toml", "README.md", "otel-config.yaml"} <= copied
    for source in copied:
        assert (REPO / source).exists(), source


@pytest.mark.parametrize("password", ["plain", "it's", "back\\slash", "'; DROP USER spendgate; --"])
def test_the_init_script_quotes_the_grafana_password(tmp_path: Path, chdb_dsn: str, password: str) -> None:
    stub = tmp_path / "clickhouse"
    stub.write_text("#!/bin/sh\ncat\n")  # prints the SQL the script sends
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "CLICKHOUSE_USER": "spendgate",
           "CLICKHOUSE_PASSWORD": "x", "CLICKHOUSE_DB": "spendgate", "GRAFANA_CLICKHOUSE_PASSWORD": password}  # fmt: skip
    sql = subprocess.run(["bash", str(DEPLOY / "clickhouse/grafana-user.sh")], env=env, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    literal = re.search(r"BY ('(?:[^'\\]|\\.)*')\s+SETTINGS readonly = 2;", sql)
    assert literal, sql
    # ClickHouse reads the literal back as the password, whatever it holds.
    client = clickhouse_connect.get_client(dsn=chdb_dsn)
    assert client.query(f"SELECT {literal.group(1)}").result_rows == [(password,)]
    assert "GRANT SELECT ON spendgate.* TO grafana;" in sql
