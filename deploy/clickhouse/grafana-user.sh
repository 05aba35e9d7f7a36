#!/bin/bash
# Runs once, when the ClickHouse volume is new: a user for Grafana that can read the
# spendgate database and nothing else (readonly = 2 still lets the plugin set query settings).
set -euo pipefail
# As a ClickHouse string literal: backslashes and quotes escaped.
password=${GRAFANA_CLICKHOUSE_PASSWORD//\\/\\\\}
password=${password//\'/\\\'}
clickhouse client --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" --multiquery <<SQL
CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY '${password}'
    SETTINGS readonly = 2;
GRANT SELECT ON ${CLICKHOUSE_DB}.* TO grafana;
SQL
