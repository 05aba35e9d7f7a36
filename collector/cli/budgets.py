"""``spendgate budgets``, ``flags``, ``alerts``, ``api-key`` and ``evaluator``.

Budget commands talk to a running collector's HTTP API (through
:class:`~spendgate.collector.cli.client.Client`); ``evaluator`` runs the budget
evaluator on its own for deployments with several collectors.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from spendgate.collector.budgets.model import Metric, Period
from spendgate.collector.cli.budget_history import show_history
from spendgate.collector.cli.client import Client, CommandError, Json
from spendgate.collector.cli.money import quantity
from spendgate.collector.cli.table import text_table as _table
from spendgate.collector.config import Config

if TYPE_CHECKING:
    from spendgate.collector.budgets.evaluator import RunMeter

_BUDGET_FIELDS = (
    "id",
    "name",
    "scope_type",
    "scope_id",
    "metric",
    "limit",
    "period",
    "timezone",
    "rolling_hours",
    "rolling_seconds",
    "starts_at",
    "ends_at",
    "grace_percent",
)


def _print_budgets(budgets: list[Json]) -> None:
    rows = []
    for b in budgets:
        flag = b["flags"][0] if len(b["flags"]) == 1 else None
        state = flag["state"] if flag else (f"{len(b['flags'])} flags" if b["flags"] else "ok")
        period = b["period"]
        if period == "rolling":
            hours, seconds = b.get("rolling_hours"), b.get("rolling_seconds")
            period = f"{hours}h rolling" if hours else f"{seconds}s rolling"
        kind = "hard" if b["hard"] else "soft"
        status = "active" if b["active"] else "disabled"
        limit = quantity(b["limit"], b["metric"], exact=True)
        rows.append([b["id"], b["scope_type"], b["scope_id"] or "-", period, limit, kind, status, state])
    print(_table(rows, ["ID", "SCOPE", "SCOPE ID", "PERIOD", "LIMIT", "KIND", "STATUS", "STATE"]))


def _print_status(body: Json) -> None:
    for pause in body.get("paused", []):
        where = f"{pause['scope_type']} {pause['scope_id']}".rstrip()
        since, by, why = pause["changed_at"][:19], pause["changed_by"], pause["reason"] or "-"
        print(f"PAUSED {where} since {since} by {by}: {why}")
    scopes = body["scopes"]
    if not scopes:
        print("no budget scope evaluated yet")
        return
    print(f"evaluated at {body['evaluated_at']}")
    rows = [
        [
            s["state"].upper(),
            s["scope_type"],
            s["scope_id"] or "-",
            s["budget_id"],
            s["period"],
            quantity(s["spend"], s["metric"]),
            quantity(s["limit_amount"], s["metric"], exact=True),
            f"{s['utilization']}%",
            s["period_end"][:19],
        ]
        for s in scopes
    ]
    headers = ["STATE", "SCOPE", "SCOPE ID", "BUDGET", "PERIOD", "SPEND", "LIMIT", "USED", "PERIOD END"]
    print(_table(rows, headers))


def _status(args: argparse.Namespace, client: Client) -> None:
    query = {k: v for k, v in (("scope_type", args.scope_type), ("scope_id", args.scope_id)) if v}
    body = client.get("/api/v1/costs/budgets/status", query)
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        _print_status(body)


def _list(args: argparse.Namespace, client: Client) -> None:
    budgets = client.get("/api/v1/costs/budgets")
    if args.json:
        print(json.dumps(budgets, indent=2))
    else:
        _print_budgets(budgets)


def _fields(args: argparse.Namespace) -> Json:
    """The budget fields given on the command line."""
    fields: Json = {key: getattr(args, key) for key in _BUDGET_FIELDS if getattr(args, key) is not None}
    if args.thresholds:
        fields["thresholds"] = [int(t) for t in args.thresholds.split(",")]
    if args.soft:
        fields["hard"] = False
    return fields


def _create(args: argparse.Namespace, client: Client) -> None:
    budget = client.post("/api/v1/costs/budgets", _fields(args))
    print(f"created budget {budget['id']}")


def _update(args: argparse.Namespace, client: Client) -> None:
    budget = client.put(f"/api/v1/costs/budgets/{_budget_id(args)}", _fields(args))
    print(f"updated budget {budget['id']}")


def _delete(args: argparse.Namespace, client: Client) -> None:
    client.delete(f"/api/v1/costs/budgets/{_budget_id(args)}")
    print(f"deleted budget {_budget_id(args)}")


def _override(args: argparse.Namespace, client: Client) -> None:
    override: Json = {}
    if args.unblock_for is not None:
        override["unblock_for_minutes"] = args.unblock_for
    if args.limit is not None:
        override["limit"] = args.limit
    budget = client.post(f"/api/v1/costs/budgets/{_budget_id(args)}/override", override)
    until = budget["unblocked_until"] or "-"
    limit = quantity(budget["limit"], budget["metric"], exact=True)
    print(f"budget {budget['id']}: limit {limit}, unblocked until {until}")


def _act(args: argparse.Namespace, client: Client) -> None:
    """disable, enable or reset."""
    budget_id = _budget_id(args)
    client.post(f"/api/v1/costs/budgets/{budget_id}/{args.action}")
    print(f"budget {budget_id}: {args.action} done")


def _history(args: argparse.Namespace, client: Client) -> None:
    show_history(args, client, _budget_id(args))


def _budget_id(args: argparse.Namespace) -> str:
    """The budget an action is about: ``--id`` or the argument after the action."""
    budget_id = args.id or args.budget
    if not budget_id:
        raise CommandError(f"{args.action} needs a budget id (ID or --id)")
    args.id = budget_id
    return str(budget_id)


_ACTIONS = {
    "list": _list,
    "status": _status,
    "create": _create,
    "update": _update,
    "disable": _act,  # never blocks (was "pause"; a pause is now a scope's: spendgate pause)
    "enable": _act,
    "delete": _delete,
    "reset": _act,
    "override": _override,
    "history": _history,
}


def cmd_budgets(args: argparse.Namespace) -> int:
    _ACTIONS[args.action](args, Client.from_args(args))
    return 0


def cmd_flags(args: argparse.Namespace) -> int:
    body = Client.from_args(args).get("/v1/flags")
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    print(f"flags version {body['version']}, evaluated at {body['evaluated_at'] or '-'}")
    if body.get("evaluation_error"):
        print(f"last evaluation failed: {body['evaluation_error']}")
    rows = [
        [
            f["state"].upper(),
            f["scope_type"],
            f["scope_id"] or "-",
            f["budget_id"],
            quantity(f["spend"], f["metric"]),
            quantity(f["limit"], f["metric"], exact=True),
            f"{f['utilization']}%",
            f["reason"],
        ]
        for f in body["flags"]
    ]
    if rows:
        print(_table(rows, ["STATE", "SCOPE", "SCOPE ID", "BUDGET", "SPEND", "LIMIT", "USED", "REASON"]))
    else:
        print("every budget is ok")
    return 0


def show_alerts(client: Client, limit: int, as_json: bool = False) -> None:
    body = client.get("/api/v1/alerts", {"limit": str(limit)})
    if as_json:
        print(json.dumps(body["alerts"], indent=2))
        return
    rows = [[a["at"][:19], a["level"], a["kind"], a["message"]] for a in body["alerts"]]
    print(_table(rows, ["AT", "LEVEL", "KIND", "MESSAGE"]) if rows else "no alerts")


def cmd_alerts(args: argparse.Namespace) -> int:
    show_alerts(Client.from_args(args), args.limit, args.json)
    return 0


def cmd_evaluator(config: Config, base_dir: Path | None) -> int:
    """Evaluate budgets until SIGINT or SIGTERM, measured as the collector is (service.telemetry.metrics):
    Prometheus on a listener of its own (the pull exporter's host and port), OTLP push as configured."""
    from spendgate.collector.telemetry import Telemetry

    metrics = config.service.telemetry.metrics
    telemetry = Telemetry(metrics, "spendgate-evaluator") if metrics.level != "none" else None
    url = None
    if telemetry is not None:
        try:
            url = telemetry.serve_prometheus()
        except OSError as exc:
            print(f"spendgate evaluator: {exc}", file=sys.stderr)
            telemetry.shutdown()
            return 2
    try:
        _evaluate_until_stopped(config, base_dir, telemetry, url)
    finally:
        if telemetry is not None:
            telemetry.shutdown()
    return 0


def _evaluate_until_stopped(
    config: Config, base_dir: Path | None, meter: RunMeter | None, url: str | None
) -> None:
    import signal

    from spendgate.collector.budgets.runtime import BudgetRuntime
    from spendgate.collector.storage import migrate, open_storage

    storage = open_storage(config.exporters.clickhouse, base_dir)
    migrate(storage)
    settings = config.extensions.budgets.model_copy(update={"evaluator": "embedded"})
    runtime = BudgetRuntime(storage, settings, fast_path=False)
    runtime.meter = meter
    runtime.open()
    runtime.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    metrics = f" metrics={url}" if url else ""
    print(
        f"spendgate evaluator ready: every {settings.evaluate_every:g}s on {storage.dsn}{metrics}", flush=True
    )
    stop.wait()
    runtime.close()
    storage.close()


def cmd_api_key(args: argparse.Namespace) -> int:
    import secrets

    from spendgate.collector.api.auth import digest

    key = "sg_" + secrets.token_urlsafe(32)
    print(f"key (give it to the client; it is not stored anywhere): {key}")
    print("config (extensions.auth.api_keys in otel-config.yaml):")
    print(f"  - name: {args.name}\n    sha256: {digest(key)}\n    roles: [{', '.join(args.role)}]")
    return 0


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    """``budgets``, ``flags``, ``alerts`` and ``api-key``; ``api`` is the parent with the client's options."""
    budgets = commands.add_parser(
        "budgets",
        parents=[api],
        help="list, create, change, disable or delete budgets; status: each scope's use (--scope-type agent)",
    )
    budgets.add_argument("action", choices=list(_ACTIONS))
    budgets.add_argument("budget", nargs="?", metavar="ID", help="the budget (as --id)")
    budgets.add_argument("--id")
    budgets.add_argument("--name")
    budgets.add_argument("--scope-type", dest="scope_type")
    budgets.add_argument("--scope-id", dest="scope_id", help="an id, or * for every id of the scope type")
    budgets.add_argument("--metric", choices=get_args(Metric))
    budgets.add_argument("--limit", help="USD (or tokens, or calls); with override: the new limit")
    budgets.add_argument("--period", choices=get_args(Period))
    budgets.add_argument("--timezone")
    budgets.add_argument("--rolling-hours", dest="rolling_hours", type=int)
    budgets.add_argument(
        "--rolling-seconds", dest="rolling_seconds", type=int, help="a shorter rolling window (rate limits)"
    )
    budgets.add_argument("--starts-at", dest="starts_at")
    budgets.add_argument("--ends-at", dest="ends_at")
    budgets.add_argument("--grace", dest="grace_percent", help="percent over the limit before blocking")
    budgets.add_argument("--thresholds", help="alert thresholds in percent, e.g. 50,80,95,100")
    budgets.add_argument("--soft", action="store_true", help="warn only, never block")
    budgets.add_argument(
        "--unblock-for", dest="unblock_for", type=int, help="override: minutes without blocking"
    )
    budgets.set_defaults(func=cmd_budgets)
    flags = commands.add_parser("flags", parents=[api], help="the enforcement flags agents receive")
    flags.set_defaults(func=cmd_flags)
    alerts = commands.add_parser("alerts", parents=[api], help="recent budget alerts")
    alerts.add_argument("--limit", type=int, default=50)
    alerts.set_defaults(func=cmd_alerts)
    api_key = commands.add_parser("api-key", help="make an API key and the config entry with its digest")
    api_key.add_argument("--name", required=True)
    api_key.add_argument("--role", action="append", required=True, choices=["ingest", "read", "admin"])
    api_key.set_defaults(func=cmd_api_key)
