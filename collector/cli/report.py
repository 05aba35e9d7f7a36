"""``spendgate report``: the seeds' "Usage & Costs" view in the terminal (or ``--json``).

The layout follows the terminal's width (``shutil.get_terminal_size``; 80 columns when the output
is piped and ``COLUMNS`` is unset): bars and name columns grow and shrink with it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import UTC, datetime
from decimal import Decimal

from spendgate.collector.cli.client import ApiError, Client, Json
from spendgate.collector.cli.money import usd

_FULL, _EMPTY = "█", "░"
_GLOBAL_MONTHLY = ("global", "month", "cost", True)  # scope type, period, metric, active
_RANKED = 8  # rows a ranking shows before "+N more"
_SCOPES = ("ticket", "phase")  # cost by scope, as in seed 001
_PIPED_COLUMNS = 80


def _tokens(count: int) -> str:
    for size, unit in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if count >= size:
            return f"{count / size:.1f}{unit}"
    return str(count)


def bar(share: Decimal, width: int) -> str:
    filled = max(0, min(width, int(round(share * width))))
    return _FULL * filled + _EMPTY * (width - filled)


class Layout:
    """Column widths from the terminal's width."""

    def __init__(self, columns: int) -> None:
        self.columns = max(40, min(columns, 200))
        self.label = max(8, min(32, self.columns // 4))
        # name, two spaces, the bar, two spaces, the money (10), the share "  (100%)"
        self.bar = max(10, self.columns - self.label - 26)

    @classmethod
    def of_terminal(cls) -> Layout:
        return cls(shutil.get_terminal_size((_PIPED_COLUMNS, 24)).columns)


def _ranking(title: str, items: list[Json], key: str, layout: Layout) -> list[str]:
    lines = [title, "─" * len(title)]
    if not items:
        return [*lines, "  (no spend)", ""]
    total = sum((Decimal(i["total_cost"]) for i in items), Decimal(0)) or Decimal(1)
    unnamed = f"(no {key.replace('_', ' ')})"  # spend without a value of the key
    width = min(max(len(str(i[key]) or unnamed) for i in items), layout.label)
    for item in items[:_RANKED]:
        cost = Decimal(item["total_cost"])
        share = cost / total
        name = (str(item[key]) or unnamed)[:width]
        lines.append(f"  {name:<{width}}  {bar(share, layout.bar)}  {usd(cost):>10}  ({share * 100:.0f}%)")
    if len(items) > _RANKED:
        rest = sum((Decimal(i["total_cost"]) for i in items[_RANKED:]), Decimal(0))
        lines.append(f"  +{len(items) - _RANKED} more ({usd(rest)})")
    return [*lines, ""]


def _daily(days: list[Json], layout: Layout) -> list[str]:
    lines = ["Daily cost", "──────────"]
    if not days:
        return [*lines, "  (no spend)", ""]
    peak = max(Decimal(d["total_cost"]) for d in days) or Decimal(1)
    for d in days:
        cost = Decimal(d["total_cost"])
        lines.append(f"  {d['day']}  {bar(cost / peak, layout.bar)}  {usd(cost):>10}")
    return [*lines, ""]


def budget_used(budgets: list[Json], month_cost: Decimal) -> tuple[str, Decimal | None]:
    """The global monthly budget's use; else the most used budget that has a flag. With the share
    used (1 = the limit), None without a budget."""
    for budget in budgets:
        if (budget["scope_type"], budget["period"], budget["metric"], budget["active"]) == _GLOBAL_MONTHLY:
            used = month_cost / Decimal(budget["limit"])
            return f"{used * 100:.0f}% of {usd(budget['limit'])}", used
    flags = [(Decimal(f["utilization"]), f, b) for b in budgets for f in b["flags"] if b["metric"] == "cost"]
    if not flags:
        return "no global monthly budget", None
    used, flag, budget = max(flags, key=lambda item: item[0])
    where = "global" if flag["scope_type"] == "global" else f"{flag['scope_type']} {flag['scope_id']}"
    return f"{used:.0f}% of {usd(budget['limit'])} ({where}, {budget['period']})", used / 100


def _by_scope(client: Client, scope: str, period: str) -> Json:
    """Usage by one scope; an older collector without the route answers 404."""
    try:
        return client.get(f"/api/v1/usage/by-{scope}", {"period": period})
    except ApiError as exc:
        if ": 404 " not in str(exc):
            raise
        return {scope + "s": [], "missing": True}


def collect(client: Client, period: str) -> Json:
    """The API answers the report is made of (``--json`` prints them)."""
    return {
        "period": period,
        "summary": client.get("/api/v1/costs/summary", {"period": period}),
        "today": client.get("/api/v1/costs/summary", {"period": "day"}),
        "month": client.get("/api/v1/costs/summary", {"period": "month"}),
        "daily": client.get("/api/v1/usage/daily", {"period": period if period != "all" else "month"}),
        "by_agent": client.get("/api/v1/usage/by-agent", {"period": period}),
        **{f"by_{scope}": _by_scope(client, scope, period) for scope in _SCOPES},
        "budgets": client.get("/api/v1/costs/budgets"),
    }


def _cards(data: Json, layout: Layout) -> list[str]:
    totals = data["summary"]["totals"]
    used, share = budget_used(data["budgets"], Decimal(data["month"]["totals"]["total_cost"]))
    cards = [
        ("Total cost", usd(totals["total_cost"])),
        ("Tokens", _tokens(int(totals["input_tokens"]) + int(totals["output_tokens"]))),
        ("Agent runs", f"{int(totals['runs']):,}"),
        ("Today", usd(data["today"]["totals"]["total_cost"])),
    ]
    budget = f"Budget used: {used}" + (f"  {bar(share, min(layout.bar, 30))}" if share is not None else "")
    return [
        *_wrapped([f"{name}: {value}" for name, value in cards], layout.columns),
        budget,
        f"{totals['calls']:,} calls; {totals['calls_not_catalogue_priced']:,} priced by fallback or unpriced",
        "",
    ]


def _wrapped(cells: list[str], columns: int) -> list[str]:
    """Cells two spaces apart, on as many lines as ``columns`` needs."""
    lines = [""]
    for text in cells:
        joined = f"{lines[-1]}  {text}" if lines[-1] else text
        if len(joined) > columns and lines[-1]:
            lines.append(text)
        else:
            lines[-1] = joined
    return lines


def render(data: Json, layout: Layout) -> str:
    summary, period = data["summary"], data["period"]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Usage & Costs — this {period} ({now})", "", *_cards(data, layout)]
    lines += _daily(data["daily"]["days"], layout)
    lines += _ranking("Cost by agent", data["by_agent"]["agents"], "agent", layout)
    for scope in _SCOPES:
        answer = data[f"by_{scope}"]
        if answer.get("missing"):
            lines += [f"Cost by {scope}: not in this collector's API", ""]
        else:
            lines += _ranking(f"Cost by {scope}", answer[scope + "s"], scope, layout)
    lines += _ranking("Cost by model", summary["by_model"], "model", layout)
    lines += _ranking("Cost by provider", summary["by_provider"], "provider", layout)
    return "\n".join(lines).rstrip()


def show_report(client: Client, period: str, as_json: bool = False) -> None:
    print(f"spendgate report ({period}) from {client.url} ...", file=sys.stderr)
    data = collect(client, period)
    print(json.dumps(data, indent=2) if as_json else render(data, Layout.of_terminal()))


def cmd_report(args: argparse.Namespace) -> int:
    show_report(Client.from_args(args), args.period, args.json)
    return 0


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    """``report``; ``api`` is the parent with the client's options (``--json`` among them)."""
    report = commands.add_parser(
        "report", parents=[api], help="spend in the terminal: cards, daily, rankings (or --json)"
    )
    report.add_argument("--period", choices=["day", "week", "month", "year", "all"], default="month")
    report.set_defaults(func=cmd_report)
