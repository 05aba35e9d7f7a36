"""``spendgate pause``, ``unpause`` and ``paused``: block a scope by hand, whatever its spend.

``spendgate pause agent triage --reason "runaway loop"``; ``spendgate pause global``
stops every agent. They talk to a running collector's HTTP API
(``/api/v1/scopes/...``), which pushes the pause to the agents at once.
"""

from __future__ import annotations

import argparse
import json

from spendgate.collector.cli.client import Client, CommandError, Json
from spendgate.collector.cli.table import text_table

from spendgate.dimensions import GLOBAL, SCOPE_TYPES


def _scope_path(args: argparse.Namespace) -> str:
    if args.scope_type == GLOBAL:
        if args.scope_id:
            raise CommandError("the global scope has no id")
        return "/api/v1/scopes/global"
    if not args.scope_id:
        raise CommandError(f"{args.command} {args.scope_type} needs the {args.scope_type}'s id")
    return f"/api/v1/scopes/{args.scope_type}/{args.scope_id}"


def _where(pause: Json) -> str:
    return pause["scope_type"] + (f" {pause['scope_id']}" if pause["scope_id"] else "")


def cmd_pause(args: argparse.Namespace) -> int:
    body: Json = {"reason": args.reason} if args.reason else {}
    pause = Client.from_args(args).post(_scope_path(args) + "/pause", body)
    if args.json:
        print(json.dumps(pause, indent=2))
    else:
        print(f"paused {_where(pause)} (by {pause['changed_by']})")
    return 0


def cmd_unpause(args: argparse.Namespace) -> int:
    answer = Client.from_args(args).post(_scope_path(args) + "/unpause")
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(f"unpaused {_where(answer)}" if "version" in answer else f"{_where(answer)} was not paused")
    return 0


def cmd_paused(args: argparse.Namespace) -> int:
    query = {"scope_type": args.scope_type} if args.scope_type else None
    paused = Client.from_args(args).get("/api/v1/scopes/paused", query)["paused"]
    if args.json:
        print(json.dumps(paused, indent=2))
        return 0
    if not paused:
        print("no scope is paused")
        return 0
    rows = [
        [p["scope_type"], p["scope_id"] or "-", p["changed_at"][:19], p["changed_by"], p["reason"]]
        for p in paused
    ]
    print(text_table(rows, ["SCOPE", "SCOPE ID", "SINCE", "BY", "REASON"]))
    return 0


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    """``pause``, ``unpause`` and ``paused``; ``api`` is the parent with the client's options."""
    for name, func, text in (
        ("pause", cmd_pause, "block a scope by hand, whatever its spend (agents stop at once)"),
        ("unpause", cmd_unpause, "lift a pause"),
    ):
        command = commands.add_parser(name, parents=[api], help=text)
        command.add_argument("scope_type", choices=SCOPE_TYPES)
        command.add_argument("scope_id", nargs="?", default="", help="the scope's id (none for global)")
        if name == "pause":
            command.add_argument("--reason", default="", help="why (shown to the agents and in status)")
        command.set_defaults(func=func)
    paused = commands.add_parser("paused", parents=[api], help="the scopes paused by hand: who, why, since")
    paused.add_argument("--scope-type", dest="scope_type", choices=SCOPE_TYPES)
    paused.set_defaults(func=cmd_paused)
