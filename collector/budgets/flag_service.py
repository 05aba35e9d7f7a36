"""The ``BudgetFlags`` gRPC service (spendgate/proto/flags.proto) on the OTLP gRPC port.

Every snapshot carries the collector's price overrides too, so agents price
their estimates with the same custom models, discounts, local providers and
fallback as the collector prices spans.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import grpc
from spendgate.collector.budgets.board import Flag, FlagBoard, Snapshot
from spendgate.collector.budgets.decision import (
    BudgetChecker,
    BudgetDecision,
    Decision,
    Estimate,
    parse_scopes,
)
from spendgate.collector.budgets.fast_path import LiveSpend

from spendgate.pricing import DEFAULT_OVERRIDES, CustomModel, PricingOverrides
from spendgate.pricing.overrides import wire_amount
from spendgate.proto import flags_pb2 as pb
from spendgate.proto import flags_pb2_grpc

log = logging.getLogger(__name__)


def _amount(value: Decimal | None) -> str:
    return "" if value is None else str(value)  # empty: not set (cache prices only)


def _model_message(model: CustomModel) -> pb.ModelPrice:
    return pb.ModelPrice(
        model=model.model,
        provider=model.provider or "",
        input_per_mtok=_amount(model.input_per_mtok),
        output_per_mtok=_amount(model.output_per_mtok),
        cache_read_per_mtok=_amount(model.cache_read_per_mtok),
        cache_write_per_mtok=_amount(model.cache_write_per_mtok),
        per_request=_amount(model.per_request),
    )


def pricing_message(overrides: PricingOverrides) -> pb.PricingOverrides:
    fallback = overrides.fallback
    return pb.PricingOverrides(
        models=[_model_message(model) for model in overrides.models],
        discounts={provider: _amount(fraction) for provider, fraction in overrides.discounts},
        local_providers=overrides.local_providers,
        fallback=None
        if fallback is None
        else pb.FallbackPrice(
            input_per_mtok=_amount(fallback.input_per_mtok),
            output_per_mtok=_amount(fallback.output_per_mtok),
            embeddings_input_per_mtok=_amount(fallback.embeddings_input_per_mtok),
        ),
    )


def snapshot_message(snapshot: Snapshot, pricing: pb.PricingOverrides | None = None) -> pb.FlagSnapshot:
    return pb.FlagSnapshot(
        version=snapshot.version,
        flags=[flag.to_message() for flag in snapshot.flags],
        limits=[
            pb.CallLimit(
                budget_id=b.id,
                scope=pb.Scope(type=b.scope_type, id=b.scope_id),
                period=b.period,
                metric=b.metric,
                limit=str(b.limit),
                hard=b.hard,
                window_seconds=int(b.window.total_seconds()) if b.window else 0,
                block_at=str(b.block_at) if b.window else "",
            )
            for b in snapshot.limits
        ],
        pricing=pricing if pricing is not None else pricing_message(DEFAULT_OVERRIDES),
    )


def blocking_flags(board: FlagBoard, scopes: list[tuple[str, str]]) -> list[Flag]:
    """The flags that are not ok for any of these scopes (global always applies)."""
    wanted = set(scopes) | {("global", "")}
    return [flag for flag in board.flags() if (flag.scope_type, flag.scope_id) in wanted]


def _budget_message(decision: BudgetDecision) -> pb.BudgetDecision:
    data = decision.to_json()
    scope = pb.Scope(type=data.pop("scope_type"), id=data.pop("scope_id"))
    fields: dict[str, Any] = {k: "" if v is None else v for k, v in data.items()}  # null: unset on the wire
    return pb.BudgetDecision(scope=scope, **fields)


def decision_message(decision: Decision, flags: list[Flag]) -> pb.CheckResponse:
    """The decision as gRPC carries it: the same fields as the HTTP answer."""
    tightest = decision.tightest
    return pb.CheckResponse(
        allowed=decision.allowed,
        flags=[flag.to_message() for flag in flags],
        reason=decision.reason,
        has_budget=decision.has_budget,
        source=decision.source,
        budgets=[_budget_message(b) for b in decision.budgets],
        tightest=_budget_message(tightest) if tightest else None,
    )


class BudgetFlagsService(flags_pb2_grpc.BudgetFlagsServicer):
    def __init__(
        self,
        board: FlagBoard,
        live: LiveSpend | None,
        pricing: PricingOverrides = DEFAULT_OVERRIDES,
        checker: BudgetChecker | None = None,
    ) -> None:
        self.board = board
        self.live = live
        self.pricing = pricing_message(pricing)  # the config's: the same in every snapshot
        self.checker = checker or BudgetChecker(board, live)

    async def Watch(self, request: pb.WatchRequest, context: Any) -> AsyncIterator[pb.FlagSnapshot]:  # noqa: N802
        log.debug("agent %r watches flags", request.agent)
        async for snapshot in self.board.watch():
            yield snapshot_message(snapshot, self.pricing)

    async def Check(self, request: pb.CheckRequest, context: Any) -> pb.CheckResponse:  # noqa: N802
        try:
            scopes = parse_scopes([(s.type, s.id) for s in request.scopes])
            estimate = Estimate.parse(request.estimated_cost, request.estimated_tokens)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        decision = self.checker.check(scopes, estimate)
        return decision_message(decision, blocking_flags(self.board, scopes))

    async def _ledger(self, context: Any, text: str, field: str) -> tuple[LiveSpend, Decimal]:
        """The reservation ledger and the request's amount; aborts the call when either is missing."""
        if self.live is None:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION, "this collector does not evaluate budgets"
            )
        try:
            amount = wire_amount(text, field)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        assert self.live is not None  # abort() raised otherwise
        return self.live, amount

    async def Reserve(self, request: pb.ReserveRequest, context: Any) -> pb.ReserveResponse:  # noqa: N802
        live, amount = await self._ledger(context, request.amount, "amount")
        result = live.reserve([(s.type, s.id) for s in request.scopes], amount)
        return pb.ReserveResponse(
            granted=result.granted,
            reservation_id=result.reservation_id,
            reason=result.reason,
            blocking=result.blocking.to_message() if result.blocking else None,
        )

    async def Settle(self, request: pb.SettleRequest, context: Any) -> pb.SettleResponse:  # noqa: N802
        live, cost = await self._ledger(context, request.actual_cost, "actual_cost")
        return pb.SettleResponse(found=live.settle(request.reservation_id, cost))


def add_to_server(
    server: Any,
    board: FlagBoard,
    live: LiveSpend | None,
    pricing: PricingOverrides = DEFAULT_OVERRIDES,
    checker: BudgetChecker | None = None,
) -> None:
    service = BudgetFlagsService(board, live, pricing, checker)
    flags_pb2_grpc.add_BudgetFlagsServicer_to_server(service, server)
