"""``spendgate budgets``, ``flags``, ``alerts`` and ``evaluator``.

Budget commands talk to a running collector's HTTP API (the embedded database
belongs to the collector); ``evaluator`` runs the budget evaluator on its own
for deployments with several collectors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import Any
from urllib.parse import urlencode

import requests

DEFAULT_URL = "http://127.0.0.1:4318"
_BUDGET_FIELDS = ("id", "name", "scope_type", "scope_id", "metric", "limit", "period", "timezone",
                  "rolling_hours", "starts_at", "ends_at", "grace_percent")  # fmt: skip


class ApiError(Exception):
    """The collector refused a request, or could not be reached."""


def _call(args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = args.url.rstrip("/") + path
    try:
        key = getattr(args, "api_key", None)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = requests.request(method, url, json=body, headers=headers, timeout=30)
    except requests.ConnectionError:
        raise ApiError(
            f"cannot reach the collector at {args.url}: is `spendgate collector` running?"
        ) from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        raise ApiError(f"{method} {path}: {response.status_code} {detail}")
    return response.json() if response.content else None


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)) for row in
             [headers, *rows]]  # fmt: skip
    return "\n".join(line.rstrip() for line in lines)


def _print_budgets(budgets: list[dict[str, Any]]) -> None:
    rows = []
    for b in budgets:
        flag = b["flags"][0] if len(b["flags"]) == 1 else None
        state = flag["state"] if flag else (f"{len(b['flags'])} flags" if b["flags"] else "ok")
        period = f"{b['rolling_hours']}h rolling" if b["period"] == "rolling" else b["period"]
        unit = "$" if b["metric"] == "cost" else "tok "
        kind = "hard" if b["hard"] else "soft"
        status = "active" if b["active"] else "paused"
        limit = f"{unit}{b['limit']}"
        rows.append([b["id"], b["scope_type"], b["scope_id"] or "-", period, limit, kind, status, state])
    print(_table(rows, ["ID", "SCOPE", "SCOPE ID", "PERIOD", "LIMIT", "KIND", "STATUS", "STATE"]))


def _print_status(body: dict[str, Any]) -> None:
    scopes = body["scopes"]
    if not scopes:
        print("no budget scope evaluated yet")
        return
    print(f"evaluated at {body['evaluated_at']}")
    rows = [[s["state"].upper(), s["scope_type"], s["scope_id"] or "-", s["budget_id"], s["period"],
             s["spend"], s["limit_amount"], f"{s['utilization']}%", s["period_end"][:19]]
            for s in scopes]  # fmt: skip
    headers = ["STATE", "SCOPE", "SCOPE ID", "BUDGET", "PERIOD", "SPEND", "LIMIT", "USED", "PERIOD END"]
    print(_table(rows, headers))


def cmd_budgets(args: argparse.Namespace) -> int:
    action = args.action
    if action == "status":
        query = {k: v for k, v in (("scope_type", args.scope_type), ("scope_id", args.scope_id)) if v}
        path = "/api/v1/costs/budgets/status" + (f"?{urlencode(query)}" if query else "")
        body = _call(args, "GET", path)
        if args.json:
            print(json.dumps(body, indent=2))
        else:
            _print_status(body)
        return 0
    if action == "list":
        body = _call(args, "GET", "/api/v1/costs/budgets")
        if args.json:
            print(json.dumps(body["budgets"], indent=2))
        else:
            _print_budgets(body["budgets"])
        return 0
    if action in ("create", "update"):
        fields = {key: getattr(args, key) for key in _BUDGET_FIELDS if getattr(args, key) is not None}
        if args.thresholds:
            fields["thresholds"] = [int(t) for t in args.thresholds.split(",")]
        if args.soft:
            fields["hard"] = False
        if action == "create":
            budget = _call(args, "POST", "/api/v1/costs/budgets", fields)
            print(f"created budget {budget['id']}")
        else:
            if not args.id:
                raise ApiError("update needs --id")
            budget = _call(args, "PUT", f"/api/v1/costs/budgets/{args.id}", fields)
            print(f"updated budget {budget['id']}")
        return 0
    if not args.id:
        raise ApiError(f"{action} needs --id")
    path = f"/api/v1/costs/budgets/{args.id}"
    if action == "delete":
        _call(args, "DELETE", path)
        print(f"deleted budget {args.id}")
    elif action == "override":
        override: dict[str, Any] = {}
        if args.unblock_for is not None:
            override["unblock_for_minutes"] = args.unblock_for
        if args.limit is not None:
            override["limit"] = args.limit
        budget = _call(args, "POST", path + "/override", override)
        print(
            f"budget {args.id}: limit {budget['limit']}, unblocked until {budget['unblocked_until'] or '-'}"
        )
    else:  # pause, resume, reset
        _call(args, "POST", f"{path}/{action}")
        print(f"budget {args.id}: {action} done")
    return 0


def cmd_flags(args: argparse.Namespace) -> int:
    body = _call(args, "GET", "/v1/flags")
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    print(f"flags version {body['version']}, evaluated at {body['evaluated_at'] or '-'}")
    if body.get("evaluation_error"):
        print(f"last evaluation failed: {body['evaluation_error']}")
    rows = [[f["state"].upper(), f["scope_type"], f["scope_id"] or "-", f["budget_id"], f["spend"][:12],
             f["limit"], f"{f['utilization']}%", f["reason"]] for f in body["flags"]]  # fmt: skip
    if rows:
        print(_table(rows, ["STATE", "SCOPE", "SCOPE ID", "BUDGET", "SPEND", "LIMIT", "USED", "REASON"]))
    else:
        print("every budget is ok")
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    body = _call(args, "GET", f"/api/v1/alerts?limit={args.limit}")
    if args.json:
        print(json.dumps(body["alerts"], indent=2))
        return 0
    rows = [[a["at"][:19], a["level"], a["kind"], a["message"]] for a in body["alerts"]]
    print(_table(rows, ["AT", "LEVEL", "KIND", "MESSAGE"]) if rows else "no alerts")
    return 0


def cmd_evaluator(args: argparse.Namespace, config: Any, base_dir: Any) -> int:
    import signal

    from spendgate.collector.budgets.runtime import BudgetRuntime
    from spendgate.collector.storage import migrate, open_storage

    storage = open_storage(config.exporters.clickhouse, base_dir)
    migrate(storage)
    settings = config.extensions.budgets.model_copy(update={"evaluator": "embedded"})
    runtime = BudgetRuntime(storage, settings, fast_path=False)
    runtime.open()
    runtime.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"spendgate evaluator ready: every {settings.evaluate_every:g}s on {storage.dsn}", flush=True)
    stop.wait()
    runtime.close()
    storage.close()
    return 0


def add_commands(commands: Any) -> None:
    url = argparse.ArgumentParser(add_help=False)
    url.add_argument(
        "--url",
        default=os.environ.get("SPENDGATE_URL", DEFAULT_URL),
        help=f"the collector's HTTP address (default: $SPENDGATE_URL or {DEFAULT_URL})",
    )
    url.add_argument(
        "--api-key",
        default=os.environ.get("SPENDGATE_API_KEY"),
        help="when the collector has API keys: a read (or, to change budgets, admin) key; $SPENDGATE_API_KEY",
    )
    url.add_argument("--json", action="store_true", help="print JSON")
    budgets = commands.add_parser(
        "budgets",
        parents=[url],
        help="list, create, change, pause or delete budgets; status: every scope's use (--scope-type agent)",
    )
    budgets.add_argument("action", choices=["list", "status", "create", "update", "pause", "resume", "delete",
                                            "reset", "override"])  # fmt: skip
    budgets.add_argument("--id")
    budgets.add_argument("--name")
    budgets.add_argument("--scope-type", dest="scope_type")
    budgets.add_argument("--scope-id", dest="scope_id", help="an id, or * for every id of the scope type")
    budgets.add_argument("--metric", choices=["cost", "tokens"])
    budgets.add_argument("--limit", help="USD (or tokens); with override: the new limit")
    budgets.add_argument("--period", choices=["day", "week", "month", "rolling", "fixed", "request", "run"])
    budgets.add_argument("--timezone")
    budgets.add_argument("--rolling-hours", dest="rolling_hours", type=int)
    budgets.add_argument("--starts-at", dest="starts_at")
    budgets.add_argument("--ends-at", dest="ends_at")
    budgets.add_argument("--grace", dest="grace_percent", help="percent over the limit before blocking")
    budgets.add_argument("--thresholds", help="alert thresholds in percent, e.g. 50,80,95,100")
    budgets.add_argument("--soft", action="store_true", help="warn only, never block")
    budgets.add_argument(
        "--unblock-for", dest="unblock_for", type=int, help="override: minutes without blocking"
    )
    budgets.set_defaults(func=cmd_budgets)
    flags = commands.add_parser("flags", parents=[url], help="the enforcement flags agents receive")
    flags.set_defaults(func=cmd_flags)
    alerts = commands.add_parser("alerts", parents=[url], help="recent budget alerts")
    alerts.add_argument("--limit", type=int, default=50)
    alerts.set_defaults(func=cmd_alerts)
    api_key = commands.add_parser("api-key", help="make an API key and the config entry with its digest")
    api_key.add_argument("--name", required=True)
    api_key.add_argument("--role", action="append", required=True, choices=["ingest", "read", "admin"])
    api_key.set_defaults(func=cmd_api_key)
    from spendgate.collector.cli.report import add_commands as add_report_commands

    add_report_commands(commands, url)


def cmd_api_key(args: argparse.Namespace) -> int:
    import secrets

    from spendgate.collector.api.auth import digest

    key = "sg_" + secrets.token_urlsafe(32)
    print(f"key (give it to the client; it is not stored anywhere): {key}")
    print("config (extensions.auth.api_keys in otel-config.yaml):")
    print(f"  - name: {args.name}\n    sha256: {digest(key)}\n    roles: [{', '.join(args.role)}]")
    return 0


def report_api_error(exc: ApiError) -> int:
    print(f"spendgate: {exc}", file=sys.stderr)
    return 1
