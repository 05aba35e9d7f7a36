"""Money as text: the one format of every amount the API writes in JSON.

A plain decimal string with at most :data:`SCALE` decimal places, no trailing zeros and never an
exponent; zero is ``"0"``: ``12.5``, ``100``, ``0.00042``. The scale is that of the cost columns
(``Decimal(38, 18)`` in ``llm_spans`` and the rollups), so an amount read from storage comes back
exactly, and a computed one (an average, a projection) is rounded half-even to the same places.
Token and call amounts of non-cost budgets share the format: they are whole numbers in it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Annotated

from pydantic import PlainSerializer

SCALE = 18  # decimal places of the Decimal(38, 18) cost columns
QUANTUM = Decimal(1).scaleb(-SCALE)
# Enough digits for any Decimal(38, 18) and the sums and products of them the API computes.
_CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN)


def money_text(amount: Decimal | int) -> str:
    """``amount`` in the one money format (see the module's doc)."""
    rounded = _CONTEXT.quantize(Decimal(amount), QUANTUM)
    if not rounded:
        return "0"  # also for -0 and 0E-18
    return format(rounded.normalize(_CONTEXT), "f")


# A Decimal field of a pydantic model that serializes to JSON in the money format.
Money = Annotated[Decimal, PlainSerializer(money_text, return_type=str, when_used="json")]
