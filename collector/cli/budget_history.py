"""``spendgate budgets history ID``: who changed a budget, when, and what."""

from __future__ import annotations

import argparse
import json

from spendgate.collector.cli.client import Client, Json
from spendgate.collector.cli.table import text_table


def _what(version: Json) -> str:
    if version["action"] != "updated":
        return version["action"]
    budget = version["budget"]
    return ", ".join(f"{field}={json.dumps(budget.get(field))}" for field in version["changed"]) or "-"


def show_history(args: argparse.Namespace, client: Client, budget_id: str) -> None:
    body = client.get(f"/api/v1/costs/budgets/{budget_id}/history")
    if args.json:
        print(json.dumps(body, indent=2))
        return
    rows = [[str(v["version"]), v["changed_at"][:19], v["changed_by"], _what(v)] for v in body["versions"]]
    print(text_table(rows, ["VERSION", "CHANGED AT", "BY", "CHANGE"]))
