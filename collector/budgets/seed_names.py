"""The seeds' names for a budget's fields (seeds 001 and 003), read into the native ones.

Most are aliases (``AliasChoices`` on :class:`~spendgate.collector.budgets.model.Budget`:
``limit_usd`` and ``limit_amount`` for ``limit``, ``is_hard_limit`` for ``hard``,
``alert_threshold_percent`` for ``warn_percent``, ``period_end`` for ``ends_at``);
the rest need a rule, applied here before validation:

- ``alert_threshold`` is the warn point as a fraction of the limit (0.8 = 80 %);
- ``scope_id: null`` (a global budget) is the empty id;
- an end without a period makes a fixed budget; without a start as well, it counts all of the
  scope's spend up to the end (the seeds' ticket budget "until 2025-12-31").
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import AliasChoices, BaseModel, JsonValue

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EXAMPLES: list[JsonValue] = [  # a native body, then the seeds' (001, 003)
    {"id": "shop-month", "scope_type": "project", "scope_id": "shop", "limit": "200", "period": "month"},
    {
        "scope_type": "ticket",
        "scope_id": "ticket-uuid",
        "limit_usd": 50.00,
        "alert_threshold_percent": 80,
        "is_hard_limit": False,
    },
    {
        "scope_type": "ticket",
        "scope_id": "ticket-789",
        "limit_amount": 50.0,
        "alert_threshold": 0.8,
        "period_end": "2025-12-31T23:59:59Z",
    },
]
_FRACTION = "alert_threshold"  # -> warn_percent, in percent


def field_of(model: type[BaseModel], key: str) -> str:
    """The field a request key sets: itself, or the field it is another name of."""
    if key == _FRACTION:
        return "warn_percent"
    for name, field in model.model_fields.items():
        if isinstance(field.validation_alias, AliasChoices) and key in field.validation_alias.choices:
            return name
    return key


def _percent(fraction: Any) -> Any:
    """0.8 -> 80; what is not a number is left for validation to name."""
    try:
        percent = Decimal(str(fraction)) * 100
    except (InvalidOperation, ValueError):
        return fraction
    if percent != percent.to_integral_value() or not 0 < percent <= 100:
        raise ValueError(f"alert_threshold {fraction} is not a fraction of the limit in whole percent (0.8)")
    return int(percent)


def normalise(model: type[BaseModel], data: Any) -> Any:
    """``data`` (a request body or a stored spec) with the seeds' rules applied."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    if _FRACTION in data:
        data[_FRACTION] = _percent(data[_FRACTION])
    given: dict[str, tuple[str, Any]] = {}
    for key, value in data.items():  # a field given under two names must say one thing
        name = field_of(model, key)
        if name in given and given[name][1] != value:
            raise ValueError(f"{given[name][0]} and {key} both set {name}, to different values")
        given[name] = (key, value)
    if _FRACTION in data:
        value = data.pop(_FRACTION)
        if given["warn_percent"][0] == _FRACTION:
            data["warn_percent"] = value
    if "scope_id" in data and data["scope_id"] is None:
        data["scope_id"] = ""
    if "ends_at" in given and "period" not in data:
        data["period"] = "fixed"
        if "starts_at" not in given:
            data["starts_at"] = _EPOCH
    return data
