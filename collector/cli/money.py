"""Amounts as every command prints them: dollars with cents, small ones to two significant digits.

``$1,234.56``, ``$0.42``, ``$0.0000042`` (a cheap call, which cents alone would show as ``$0.00``),
``$0.00``; amounts of token and call budgets are whole numbers with their unit: ``12,000 tokens``.
``spendgate report`` and the other commands use these, so the terminal shows one format.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

_CENT = Decimal("0.01")


def usd(value: Decimal | str | int) -> str:
    """A USD amount (the API's decimal strings too)."""
    amount = Decimal(value)
    sign, size = ("-" if amount < 0 else ""), abs(amount)
    if size and size < _CENT:
        small = size.quantize(Decimal(1).scaleb(size.adjusted() - 1), ROUND_HALF_EVEN)  # 2 digits
        if small < _CENT:  # 0.00999 rounds to a cent
            return f"{sign}${small.normalize():f}"
    return f"{sign}${size.quantize(_CENT, ROUND_HALF_EVEN):,}"


def quantity(value: Decimal | str | int, metric: str) -> str:
    """An amount of a budget's metric: USD for cost budgets, else a count with its unit."""
    if metric == "cost":
        return usd(value)
    return f"{Decimal(value):,.0f} {metric}"
