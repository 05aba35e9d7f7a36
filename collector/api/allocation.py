"""Chargeback: a month's spend per owner (project or team), shared spend allocated by a rule.

The rules are described in :mod:`spendgate.collector.report_config`. Money stays exact: a split
is made in units of 0.000001 USD (or of the shared amount's own last digit when that is finer),
each owner gets the whole units of its exact share, and the units left over go one each to the
owners with the largest fractional remainders (ties: by name), so the allocated amounts add up to
the shared amount exactly and every line to the month's total.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from spendgate.collector.report_config import SharedRule

_FINEST = -6  # the split's unit is at most 10^-6 USD


@dataclass
class Line:
    """One owner's part of the month."""

    owner: str
    calls: int = 0  # its own calls
    direct_cost: Decimal = Decimal(0)  # calls that named it
    ticket_cost: Decimal = Decimal(0)  # shared calls of tickets seen with it
    allocated_cost: Decimal = Decimal(0)  # its share of the rest of the shared spend

    @property
    def total_cost(self) -> Decimal:
        return self.direct_cost + self.ticket_cost + self.allocated_cost


@dataclass
class Chargeback:
    rule: SharedRule
    lines: dict[str, Line] = field(default_factory=dict)  # owner '' holds what was not allocated
    shared_cost: Decimal = Decimal(0)  # the spend without an owner, before allocation

    def line(self, owner: str) -> Line:
        return self.lines.setdefault(owner, Line(owner))

    @property
    def total_cost(self) -> Decimal:
        return sum((line.total_cost for line in self.lines.values()), Decimal(0))


def split(amount: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """``amount`` in proportion to the positive ``weights``, summing to it exactly (see the module)."""
    weights = {key: weight for key, weight in weights.items() if weight > 0}
    total_weight = sum(weights.values(), Decimal(0))
    if not weights or not amount:
        return {}
    exponent = amount.normalize().as_tuple().exponent
    unit = Decimal(1).scaleb(min(int(exponent), _FINEST))
    units = int(amount / unit)  # exact: amount is a whole number of units
    exact = {
        key: Fraction(units) * Fraction(weight) / Fraction(total_weight) for key, weight in weights.items()
    }
    whole = {key: math.floor(share) for key, share in exact.items()}
    leftover = units - sum(whole.values())
    by_remainder = sorted(exact, key=lambda key: (-(exact[key] - whole[key]), key))
    for key in by_remainder[:leftover]:
        whole[key] += 1
    return {key: count * unit for key, count in whole.items()}


def allocate(rows: Iterable[Mapping[str, Any]], rule: SharedRule) -> Chargeback:
    """The chargeback of chargeback.sql's rows (owner, ticket, ticket_owner, calls, total_cost)."""
    report = Chargeback(rule)
    shared: list[Mapping[str, Any]] = []
    for row in rows:
        if row["owner"]:
            line = report.line(row["owner"])
            line.calls += row["calls"]
            line.direct_cost += row["total_cost"]
        elif row["total_cost"] or row["calls"]:
            shared.append(row)
            report.shared_cost += row["total_cost"]
    rest = Decimal(0)
    for row in shared:
        if rule == "ticket-then-proportional" and row["ticket_owner"]:
            report.line(row["ticket_owner"]).ticket_cost += row["total_cost"]
        else:
            rest += row["total_cost"]
    weights = {line.owner: line.direct_cost + line.ticket_cost for line in report.lines.values()}
    shares = split(rest, weights) if rule != "none" else {}
    for owner, amount in shares.items():
        report.line(owner).allocated_cost += amount
    unallocated = rest - sum(shares.values(), Decimal(0))  # all of it under "none" or without owners
    if unallocated or (rule == "none" and shared):
        left = report.line("")
        left.direct_cost += unallocated
        left.calls = sum(row["calls"] for row in shared)  # the shared calls, charged to no one
    return report
