"""Who changed a budget, and its history: over HTTP with API keys, through the CLI, from the config."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from spendgate.collector.api.auth import digest

from .conftest import RunningCollector, collector_running

ADMIN, READ = "sg_ops_secret", "sg_read_secret"
KEYS = (
    "extensions:\n  budgets:\n    defaults: [{id: seeded, scope_type: global, limit: 9, period: month}]\n"
    "  auth:\n    api_keys:\n"
    f"      - {{name: ops-key, sha256: {digest(ADMIN)}, roles: [admin]}}\n"
    f"      - {{name: viewer, sha256: {digest(READ)}, roles: [read]}}\n"
)
BUDGETS = "/api/v1/costs/budgets"


@pytest.fixture(scope="module")
def guarded(chdb_dsn: str) -> Iterator[RunningCollector]:
    with collector_running(chdb_dsn, KEYS) as running:
        yield running


def _api(running: RunningCollector, key: str | None = ADMIN) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=running.http_url, headers=headers, timeout=30)


def _cli(running: RunningCollector, *args: str, key: str | None = ADMIN) -> subprocess.CompletedProcess[str]:
    auth = ["--api-key", key] if key else []
    return subprocess.run([sys.executable, "-m", "spendgate", *args, "--url", running.http_url, *auth],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def _history(running: RunningCollector, budget_id: str) -> list[dict[str, Any]]:
    answer = _api(running, READ).get(f"{BUDGETS}/{budget_id}/history")
    assert answer.status_code == 200, answer.text
    versions: list[dict[str, Any]] = answer.json()["versions"]
    return versions


def test_every_change_records_who_made_it_and_the_history_shows_what_changed(
    guarded: RunningCollector,
) -> None:
    api = _api(guarded)
    body = {"id": "team", "scope_type": "project", "scope_id": "web", "limit": "20", "period": "month"}
    assert api.post(BUDGETS, json=body).status_code == 200
    assert api.put(f"{BUDGETS}/team", json={"limit": "25", "grace_percent": 5}).status_code == 200
    assert _cli(guarded, "budgets", "disable", "team").returncode == 0
    assert api.post(f"{BUDGETS}/team/override", json={"limit": "30"}).status_code == 200
    assert api.post(f"{BUDGETS}/team/reset").status_code == 200
    updated = _cli(guarded, "budgets", "update", "--id", "team", "--limit", "40")
    assert updated.returncode == 0, updated.stderr
    assert api.delete(f"{BUDGETS}/team").status_code == 204
    assert api.get(f"{BUDGETS}/team").status_code == 404

    versions = _history(guarded, "team")  # a deleted budget's history is still served
    assert [(v["version"], v["changed_by"], v["action"]) for v in versions] == [
        (1, "ops-key", "created"),
        (2, "ops-key", "updated"),
        (3, "ops-key (cli)", "updated"),
        (4, "ops-key", "updated"),
        (5, "ops-key", "updated"),
        (6, "ops-key (cli)", "updated"),
        (7, "ops-key", "deleted"),
    ]
    assert versions[1]["changed"] == ["grace_percent", "limit"]
    assert versions[2]["changed"] == ["active"] and versions[2]["budget"]["active"] is False
    assert versions[3]["changed"] == ["limit"] and versions[3]["budget"]["limit"] == "30"
    assert "reset_at" in versions[4]["changed"]
    assert versions[6]["deleted"] and versions[6]["changed"] == []
    assert versions[0]["budget"]["limit"] == "20" and "scope_type" in versions[0]["changed"]
    stamps = [v["changed_at"] for v in versions]
    assert stamps == sorted(stamps)


def test_config_budgets_are_by_config_and_unknown_ids_are_404(guarded: RunningCollector) -> None:
    [seeded] = _history(guarded, "seeded")
    assert (seeded["changed_by"], seeded["action"], seeded["budget"]["limit"]) == ("config", "created", "9")
    unknown = _api(guarded, READ).get(f"{BUDGETS}/never-was/history")
    assert unknown.status_code == 404 and "never-was" in unknown.json()["detail"]
    assert _api(guarded, None).get(f"{BUDGETS}/seeded/history").status_code == 401


def test_the_cli_prints_the_history_as_a_table_and_as_json(guarded: RunningCollector) -> None:
    api = _api(guarded)
    body = {"id": "cli-shown", "scope_type": "agent", "scope_id": "bot", "limit": "2", "period": "day"}
    assert api.post(BUDGETS, json=body).status_code == 200
    assert api.put(f"{BUDGETS}/cli-shown", json={"limit": "3"}).status_code == 200
    shown = _cli(guarded, "budgets", "history", "cli-shown", key=READ)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["VERSION", "CHANGED", "AT", "BY", "CHANGE"]
    assert lines[1].split()[0] == "1" and lines[1].split()[-2:] == ["ops-key", "created"]
    assert lines[2].split()[0] == "2" and lines[2].split()[-2:] == ["ops-key", 'limit="3"']
    as_json = _cli(guarded, "budgets", "history", "cli-shown", "--json", key=READ)
    assert [v["version"] for v in json.loads(as_json.stdout)["versions"]] == [1, 2]
    missing = _cli(guarded, "budgets", "history", "nope", key=READ)
    assert missing.returncode == 1 and "404" in missing.stderr


def test_without_keys_changes_are_by_api_or_by_cli(running: RunningCollector) -> None:
    body = {"id": "open", "scope_type": "global", "limit": "5", "period": "day"}
    assert httpx.post(running.http_url + BUDGETS, json=body).status_code == 200
    assert _cli(running, "budgets", "enable", "--id", "open", key=None).returncode == 0
    answer = httpx.get(f"{running.http_url}{BUDGETS}/open/history").json()
    assert [v["changed_by"] for v in answer["versions"]] == ["api", "cli"]
