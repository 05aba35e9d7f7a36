"""A budget flag: the state of one budget scope, as the collector computes it and agents enforce it.

Both sides hold this one record (the collector's board and HTTP API, the
agent's flag table), so each of its other forms is converted here, once: the
gRPC message of flags.proto (:meth:`Flag.to_message` in the collector,
:meth:`Flag.from_message` in the agent) and the JSON of the HTTP API
(:meth:`Flag.to_json`, derived from the fields). The flags table of
ClickHouse is the collector's storage boundary and is mapped there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal, cast

from spendgate.money import money_text
from spendgate.proto import flags_pb2 as pb

State = Literal["ok", "warn", "critical", "block"]
Key = tuple[str, str]  # (budget id, scope id)
JsonValue = str | int | None
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Field metadata: how a Decimal field is written in JSON (the money format when not given).
_TEXT = "text"
# The metric of a scope paused by hand (collector/budgets/pauses.py): it blocks every call, free ones too.
PAUSE_METRIC = "pause"


def percent_text(value: Decimal) -> str:
    """A utilisation as the wire forms carry it: a percent with two decimals."""
    return str(value.quantize(Decimal("0.01")))


@dataclass(frozen=True)
class Flag:
    budget_id: str
    scope_type: str
    scope_id: str  # empty for global
    metric: str  # cost or tokens; PAUSE_METRIC for a scope paused by hand
    state: State
    spend: Decimal  # USD, or tokens for token budgets
    limit: Decimal
    utilization: Decimal = field(metadata={_TEXT: percent_text})  # percent of the limit
    remaining: Decimal
    period_end: datetime | None
    reason: str = ""
    version: int = 0

    @property
    def key(self) -> Key:
        return self.budget_id, self.scope_id

    def same_as(self, other: Flag | None) -> bool:
        """Whether an agent would act the same on both (spend moves every evaluation)."""
        return other is not None and (self.state, self.reason, self.limit) == (
            other.state,
            other.reason,
            other.limit,
        )

    def to_json(self) -> dict[str, JsonValue]:
        """Every field by its name: amounts in the money format, the period end in ISO 8601."""
        return {f.name: _json_value(f, getattr(self, f.name)) for f in fields(self)}

    def to_message(self) -> pb.Flag:
        return pb.Flag(
            budget_id=self.budget_id,
            scope=pb.Scope(type=self.scope_type, id=self.scope_id),
            state=self.state,
            spend=str(self.spend),
            limit=str(self.limit),
            utilization=percent_text(self.utilization),
            remaining=str(self.remaining),
            period_end_unix_ms=int(self.period_end.timestamp() * 1000) if self.period_end else 0,
            reason=self.reason,
            version=self.version,
            metric=self.metric,
        )

    @classmethod
    def from_message(cls, message: pb.Flag) -> Flag:
        """The flag a message carries; unset amounts are 0, an unset period end is None."""
        end_ms = message.period_end_unix_ms
        return cls(
            budget_id=message.budget_id,
            scope_type=message.scope.type,
            scope_id=message.scope.id,
            metric=message.metric or "cost",  # a collector older than token budgets sends none
            # The collector sends one of State; any other text is kept as it came (it only warns).
            state=cast(State, message.state),
            spend=Decimal(message.spend or 0),
            limit=Decimal(message.limit or 0),
            utilization=Decimal(message.utilization or 0),
            remaining=Decimal(message.remaining or 0),
            period_end=_EPOCH + timedelta(milliseconds=end_ms) if end_ms else None,
            reason=message.reason,
            version=message.version,
        )


def _json_value(f: Field[object], value: object) -> JsonValue:
    if isinstance(value, Decimal):
        text: Callable[[Decimal], str] = f.metadata.get(_TEXT, money_text)
        return text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int):
        return value
    raise TypeError(f"flag field {f.name} holds a {type(value).__name__}")
