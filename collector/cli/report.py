"""``spendgate report``: the seeds' "Usage & Costs" view in the terminal."""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import UTC, datetime
from decimal import Decimal

from spendgate.collector.cli.client import Client, Json

_FULL, _EMPTY = "█", "░"
_GLOBAL_MONTHLY = ("global", "month", "cost", True)  # scope type, period, metric, active


def _money(value: Decimal | str) -> str:
    amount = Decimal(value)
    return f"${amount:,.2f}" if amount >= Decimal("0.01") or amount == 0 else f"${amount:.4f}"


def _tokens(count: int) -> str:
    for size, unit in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if count >= size:
            return f"{count / size:.1f}{unit}"
    return str(count)


def bar(share: Decimal, width: int) -> str:
    filled = int(round(share * width))
    return _FULL * filled + _EMPTY * (width - filled)


def _ranking(title: str, items: list[Json], key: str, width: int) -> list[str]:
    lines = [title, "─" * len(title)]
    if not items:
        return [*lines, "  (no spend)", ""]
    total = sum((Decimal(i["total_cost"]) for i in items), Decimal(0)) or Decimal(1)
    label_width = min(max(len(str(i[key]) or "-") for i in items), 24)
    for item in items[:8]:
        cost = Decimal(item["total_cost"])
        share = cost / total
        name = (str(item[key]) or "(none)")[:label_width]
        lines.append(
            f"  {name:<{label_width}}  {bar(share, width)}  {_money(cost):>10}  ({share * 100:.0f}%)"
        )
    return [*lines, ""]


def _daily(days: list[Json], width: int) -> list[str]:
    lines = ["Daily cost", "──────────"]
    if not days:
        return [*lines, "  (no spend)", ""]
    peak = max(Decimal(d["total_cost"]) for d in days) or Decimal(1)
    for d in days:
        cost = Decimal(d["total_cost"])
        lines.append(f"  {d['day']}  {bar(cost / peak, width)}  {_money(cost):>10}")
    return [*lines, ""]


def _budget_used(budgets: list[Json], month_cost: Decimal) -> str:
    """The global monthly budget's use; else the most used budget that has a flag."""
    for budget in budgets:
        if (budget["scope_type"], budget["period"], budget["metric"], budget["active"]) == _GLOBAL_MONTHLY:
            used = month_cost / Decimal(budget["limit"]) * 100
            return f"{used:.0f}% of {_money(budget['limit'])}"
    flags = [(Decimal(f["utilization"]), f, b) for b in budgets for f in b["flags"] if b["metric"] == "cost"]
    if not flags:
        return "no global monthly budget"
    used, flag, budget = max(flags, key=lambda item: item[0])
    where = "global" if flag["scope_type"] == "global" else f"{flag['scope_type']} {flag['scope_id']}"
    return f"{used:.0f}% of {_money(budget['limit'])} ({where}, {budget['period']})"


def show_report(client: Client, period: str) -> None:
    width = max(10, min(40, shutil.get_terminal_size((100, 20)).columns - 50))
    print(f"spendgate report ({period}) from {client.url} ...", file=sys.stderr)
    summary = client.get("/api/v1/costs/summary", {"period": period})
    today = client.get("/api/v1/costs/summary", {"period": "day"})
    month = client.get("/api/v1/costs/summary", {"period": "month"})
    daily = client.get("/api/v1/usage/daily", {"period": period if period != "all" else "month"})
    agents = client.get("/api/v1/usage/by-agent", {"period": period})
    budgets = client.get("/api/v1/costs/budgets")["budgets"]
    totals = summary["totals"]
    cards = [
        ("Total cost", _money(totals["total_cost"])),
        ("Tokens", _tokens(int(totals["input_tokens"]) + int(totals["output_tokens"]))),
        ("Agent runs", f"{int(totals['runs']):,}"),
        ("Today", _money(today["totals"]["total_cost"])),
        ("Budget used", _budget_used(budgets, Decimal(month["totals"]["total_cost"]))),
    ]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Usage & Costs — this {period} ({now})", ""]
    lines.append("  ".join(f"{name}: {value}" for name, value in cards))
    lines.append(
        f"{totals['calls']:,} calls; {totals['calls_not_catalogue_priced']:,} priced by fallback or unpriced"
    )
    lines.append("")
    lines += _daily(daily["days"], width)
    lines += _ranking("Cost by agent", agents["agents"], "agent", width)
    lines += _ranking("Cost by model", summary["by_model"], "model", width)
    lines += _ranking("Cost by provider", summary["by_provider"], "provider", width)
    print("\n".join(lines).rstrip())


def cmd_report(args: argparse.Namespace) -> int:
    show_report(Client.from_args(args), args.period)
    return 0


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], api: argparse.ArgumentParser
) -> None:
    """``report``; ``api`` is the parent with the client's options."""
    report = commands.add_parser(
        "report", parents=[api], help="spend in the terminal: cards, daily, rankings"
    )
    report.add_argument("--period", choices=["day", "week", "month", "year", "all"], default="month")
    report.set_defaults(func=cmd_report)
