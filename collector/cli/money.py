"""Amounts as every command prints them: dollars with cents, small ones to two significant digits.

``$1,234.56``, ``$0.42``, ``$0.0000042`` (a cheap call, which cents alone would show as ``$0.00``),
``$0.00``; exact (prices, limits): ``$0.00304``. Amounts of token and call budgets are counts with
their unit: ``12,000 tokens``.
``spendgate report`` and the other commands use these, so the terminal shows one format.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

_CENT = Decimal("0.01")
_EVERY_DIGIT = Context(prec=100)  # the default 28 digits would round a Decimal(38, 18)


def usd(value: Decimal | str | int, exact: bool = False) -> str:
    """A USD amount (the API's decimal strings too); ``exact``: every significant digit, at least
    cents (``$0.00304``, ``$2.50``), for prices and limits, which rounding would misstate."""
    amount = Decimal(value)
    sign, size = ("-" if amount < 0 else ""), amount.copy_abs()  # abs() would round to 28 digits
    if exact:
        digits = size.normalize(_EVERY_DIGIT)
        more_than_cents = -int(digits.as_tuple().exponent) > 2
        return f"{sign}${digits:,f}" if more_than_cents else f"{sign}${size:,.2f}"
    if size and size < _CENT:
        small = size.quantize(Decimal(1).scaleb(size.adjusted() - 1), ROUND_HALF_EVEN)  # 2 digits
        if small < _CENT:  # 0.00999 rounds to a cent
            return f"{sign}${small.normalize():f}"
    return f"{sign}${size.quantize(_CENT, ROUND_HALF_EVEN):,}"


def quantity(value: Decimal | str | int, metric: str, exact: bool = False) -> str:
    """An amount of a budget's metric: USD for cost budgets, else a count with its unit."""
    if metric == "cost":
        return usd(value, exact)
    return f"{Decimal(value).normalize():,f} {metric}" if exact else f"{Decimal(value):,.0f} {metric}"
