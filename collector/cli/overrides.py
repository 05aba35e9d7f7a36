"""``spendgate overrides``: ask for more room in a blocked budget, list, approve and deny requests.

``request BUDGET --amount --reason [--scope-id]``, ``list [--status] [--budget]``,
``show RID`` (with its history), ``approve RID [--amount] [--note]``, ``deny RID --note``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from spendgate.collector.cli.client import Client, CommandError, Json

_COLUMNS = (
    "id",
    "status",
    "budget_id",
    "scope_id",
    "amount",
    "granted",
    "requested_by",
    "decided_by",
    "reason",
)


def _print(requests: list[Json]) -> None:
    rows = [
        [str(item.get(column) if item.get(column) is not None else "-") for column in _COLUMNS]
        for item in requests
    ]
    widths = [max([len(column)] + [len(row[i]) for row in rows]) for i, column in enumerate(_COLUMNS)]
    for row in [list(_COLUMNS), *rows]:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


def _show(args: argparse.Namespace, item: Json) -> None:
    if args.json:
        print(json.dumps(item, indent=2))
        return
    _print([item])
    for version in item.get("history", []):
        who = version["decided_by"] or version["requested_by"]
        note = f": {version['note']}" if version["note"] else ""
        print(f"  v{version['version']} {version['changed_at']} {version['status']} by {who}{note}")


def _request(args: argparse.Namespace, client: Client) -> None:
    body: Json = {"amount": args.amount, "reason": args.reason}
    if args.scope_id:
        body["scope_id"] = args.scope_id
    if args.requested_by:
        body["requested_by"] = args.requested_by
    _show(args, client.post(f"/api/v1/costs/budgets/{args.target}/override-requests", body))


def _list(args: argparse.Namespace, client: Client) -> None:
    query = {name: value for name, value in (("status", args.status), ("budget_id", args.budget)) if value}
    requests = client.get("/api/v1/costs/override-requests", query)["override_requests"]
    if args.json:
        print(json.dumps(requests, indent=2))
    else:
        _print(requests)


def _read(args: argparse.Namespace, client: Client) -> None:
    _show(args, client.get(f"/api/v1/costs/override-requests/{args.target}"))


def _approve(args: argparse.Namespace, client: Client) -> None:
    body: Json = {"note": args.note or ""}
    if args.amount:
        body["amount"] = args.amount
    _show(args, client.post(f"/api/v1/costs/override-requests/{args.target}/approve", body))


def _deny(args: argparse.Namespace, client: Client) -> None:
    if not args.note:
        raise CommandError("deny needs --note (why)")
    _show(args, client.post(f"/api/v1/costs/override-requests/{args.target}/deny", {"note": args.note}))


_ACTIONS: dict[str, Callable[[argparse.Namespace, Client], None]] = {
    "request": _request,
    "list": _list,
    "show": _read,
    "approve": _approve,
    "deny": _deny,
}


def cmd_overrides(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.target:
        name = "BUDGET" if args.action == "request" else "RID"
        raise CommandError(f"overrides {args.action} needs {name}")
    if args.action == "request" and not (args.amount and args.reason):
        raise CommandError("overrides request needs --amount and --reason")
    _ACTIONS[args.action](args, Client.from_args(args))
    return 0


def add_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    parser = commands.add_parser(
        "overrides", parents=[api], help="override requests: ask for more room in a budget, approve or deny"
    )
    parser.add_argument("action", choices=list(_ACTIONS))
    parser.add_argument(
        "target", nargs="?", help="request: the budget id; show, approve, deny: the request id"
    )
    parser.add_argument("--amount", help="request: USD (or tokens) more; approve: grant this instead")
    parser.add_argument("--reason", help="request: why")
    parser.add_argument("--scope-id", dest="scope_id", help="request: the scope, for a default (*) budget")
    parser.add_argument("--requested-by", dest="requested_by")
    parser.add_argument("--note", help="approve, deny: the admin's note")
    parser.add_argument("--status", choices=["pending", "approved", "denied"], help="list: only these")
    parser.add_argument("--budget", help="list: only this budget's")
    parser.set_defaults(func=cmd_overrides)
