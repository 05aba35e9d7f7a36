"""``spendgate chargeback``: a month's spend per project or team, shared spend allocated."""

from __future__ import annotations

import argparse
import json
import sys
from typing import get_args

from spendgate.collector.cli.client import Client, Json
from spendgate.collector.cli.money import usd
from spendgate.collector.cli.table import text_table
from spendgate.collector.report_config import SharedRule


def _table(report: Json) -> str:
    by = report["by"]
    rows = [
        [
            line[by] or "(unallocated)",
            f"{line['calls']:,}",
            usd(line["direct_cost"]),
            usd(line["ticket_cost"]),
            usd(line["allocated_cost"]),
            usd(line["total_cost"]),
            f"{line['share_percent']}%",
        ]
        for line in report["lines"]
    ]
    rows.append(["total", "", "", "", "", usd(report["total_cost"]), ""])
    headers = [by, "calls", "own", "by ticket", "allocated", "total", "share"]
    title = (
        f"Chargeback {report['month']} by {by}: shared spend {usd(report['shared_cost'])}, "
        f"rule {report['rule']}"
    )
    return f"{title}\n\n{text_table(rows, headers)}"


def cmd_chargeback(args: argparse.Namespace) -> int:
    client = Client.from_args(args)
    query = {"by": args.by} | {key: value for key in ("month", "shared") if (value := getattr(args, key))}
    fmt = "json" if args.json else args.format
    if fmt == "csv":
        for line in client.lines("/api/v1/costs/chargeback", query | {"format": "csv"}):
            sys.stdout.write(line)
        return 0
    report = client.get("/api/v1/costs/chargeback", query)
    print(json.dumps(report, indent=2) if fmt == "json" else _table(report))
    return 0


def add_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    """``chargeback``; ``api`` is the parent with the client's options."""
    chargeback = commands.add_parser(
        "chargeback", parents=[api], help="a month's spend per project or team, shared spend allocated"
    )
    chargeback.add_argument("--month", help="YYYY-MM (UTC; default: this month)")
    chargeback.add_argument("--by", choices=["project", "team"], default="project")
    chargeback.add_argument(
        "--shared", choices=get_args(SharedRule), help="the allocation rule (default: the collector's)"
    )
    chargeback.add_argument("--format", choices=["table", "csv", "json"], default="table")
    chargeback.set_defaults(func=cmd_chargeback)
