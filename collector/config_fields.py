"""The building blocks of the config models: strict sections, durations and amounts of money."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def _parse_duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 200ms, 5s or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration such as 200ms, 5s or 1h")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


Seconds = Annotated[float, BeforeValidator(_parse_duration)]
Money = Annotated[Decimal, Field(ge=0)]


class Strict(BaseModel):
    """A config section: unknown keys are errors, and a loaded config does not change."""

    model_config = ConfigDict(extra="forbid", frozen=True)
