"""The flag record's wire forms: the HTTP API's JSON and the gRPC message, both ways."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from spendgate.flag import Flag
from spendgate.proto import flags_pb2 as pb

FLAG = Flag(
    budget_id="b1",
    scope_type="project",
    scope_id="checkout",
    metric="cost",
    state="critical",
    spend=Decimal("97.5"),
    limit=Decimal("100"),
    utilization=Decimal("97.4999"),
    remaining=Decimal("2.5"),
    period_end=datetime(2026, 12, 31, 23, 0, 0, 123456, tzinfo=UTC),
    reason="$97.50 of $100.00 spent",
    version=7,
)


def test_json_has_every_field_amounts_as_text_and_the_period_end_in_iso() -> None:
    assert FLAG.to_json() == {
        "budget_id": "b1",
        "scope_type": "project",
        "scope_id": "checkout",
        "metric": "cost",
        "state": "critical",
        "spend": "97.5",
        "limit": "100",
        "utilization": "97.50",
        "remaining": "2.5",
        "period_end": "2026-12-31T23:00:00.123456+00:00",
        "reason": "$97.50 of $100.00 spent",
        "version": 7,
    }
    assert Flag(**{**FLAG.__dict__, "period_end": None}).to_json()["period_end"] is None


def test_the_message_carries_the_flag_and_the_agent_reads_it_back() -> None:
    message = FLAG.to_message()
    assert (message.scope.type, message.scope.id, message.utilization) == ("project", "checkout", "97.50")
    assert message.period_end_unix_ms == 1798758000123
    back = Flag.from_message(pb.Flag.FromString(message.SerializeToString()))
    assert back == Flag(
        **{
            **FLAG.__dict__,
            "utilization": Decimal("97.50"),
            "period_end": datetime(2026, 12, 31, 23, 0, 0, 123000, tzinfo=UTC),
        }
    )


def test_an_older_collectors_message_reads_with_defaults() -> None:
    flag = Flag.from_message(pb.Flag(budget_id="b", scope=pb.Scope(type="global"), state="block"))
    assert (flag.metric, flag.spend, flag.limit, flag.remaining, flag.period_end) == (
        "cost",
        Decimal(0),
        Decimal(0),
        Decimal(0),
        None,
    )
    assert (flag.scope_type, flag.scope_id, flag.state, flag.version) == ("global", "", "block", 0)
