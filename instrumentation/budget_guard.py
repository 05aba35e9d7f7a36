"""The budget check before every LLM call, from the local flag table.

In order, for the scopes of the call (global, each attribution dimension,
provider, model):

1. a flag in state ``block`` raises :class:`BudgetExceeded` (the provider is
   not called; the call is recorded as a blocked span with zero cost), except
   that a cost budget does not stop a call that costs nothing (a local
   provider, a custom price of zero); a scope paused by hand (metric
   ``pause``) stops every call with :class:`ScopePaused`;
2. ``warn`` and ``critical`` flags are logged once per level and scope, added
   to the span as an event and passed to the ``on_warn`` callback;
3. per-run limits: a run (``spendgate.scope(run=...)``) whose spend (cost,
   tokens or calls) in this process has reached its limit is stopped;
   rate limits (calls budgets over a rolling window): a call this process
   alone would put past the limit is refused, with a retry-after (see
   :mod:`rate_limits`);
4. per-request limits: a call whose worst case (its input plus its maximum
   output, priced as the collector would price it: see :mod:`prices`) exceeds
   the limit is refused;
5. strict mode: the worst case is reserved at the collector (``Reserve``) and
   settled with the actual cost when the call ends (free calls reserve nothing).

If the collector has not been reachable for ``stale_after`` seconds the guard
lets calls through (fail open), or refuses them when ``fail_closed`` is set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import grpc
from opentelemetry import baggage

from spendgate.flag import PAUSE_METRIC, Flag
from spendgate.proto import flags_pb2 as pb

from . import estimate
from .call_plan import Bound, CallPlan, plan_for
from .enforcement import BudgetExceeded, ScopePaused
from .flags_client import CallLimit, FlagTable
from .prices import WorstCase, call_cost, worst_case, worst_case_bound
from .rate_limits import RateWindows
from .recorder import LLMCall
from .request_size import framing_tokens, max_output_tokens, prompt_bytes, request_text

logger = logging.getLogger("spendgate.instrumentation")
_UNREACHABLE = "the budget service is unreachable and the guard fails closed"

DEFAULT_MAX_OUTPUT = 4096  # assumed when a request sets no output limit
WarnCallback = Callable[[Flag], None]


_RUN_METRICS = ("cost", "tokens", "calls")  # the order of a run's totals


def _run_limit_reached(
    run: str, limit: CallLimit, scope_id: str, spent: Decimal, how: str, stopped: bool = False
) -> BudgetExceeded:
    """The refusal of a run whose spend reached (before a call) or crossed (mid-stream) its limit."""
    where = f"run {run!r} ({limit.scope_type} {scope_id})".replace(" )", ")")
    reason = f"per-run limit {limit.budget_id} {how} in {where}" + (": stream stopped" if stopped else "")
    return BudgetExceeded(
        "run",
        run,
        limit.limit,
        spent,
        reason,
        metric=limit.metric,
        limit_kind="per-run",
        budget_id=limit.budget_id,
    )


class _CallBudget:
    """What the guard remembers about a call until it ends."""

    __slots__ = ("run", "reservation", "run_limits")

    def __init__(self, run: str, reservation: str) -> None:
        self.run = run
        self.reservation = reservation
        self.run_limits: tuple[Bound, ...] = ()  # hard per-run limits, for streams


class BudgetGuard:
    def __init__(
        self,
        table: FlagTable,
        *,
        fail_closed: bool = False,
        stale_after: float = 30.0,
        on_warn: WarnCallback | None = None,
        strict: bool = False,
        stub: Any = None,  # BudgetFlagsStub, for strict mode
        reserve_timeout: float = 2.0,
        default_max_output: int = DEFAULT_MAX_OUTPUT,
        metadata: tuple[tuple[str, str], ...] = (),  # gRPC metadata for Reserve/Settle (API key)
    ) -> None:
        self.table = table
        self.fail_closed = fail_closed
        self.stale_after = stale_after
        self.on_warn = on_warn
        self.strict = strict
        self.stub = stub
        self.reserve_timeout = reserve_timeout
        self.default_max_output = default_max_output
        self.metadata = metadata
        self._warned: set[tuple[str, str, str, str]] = set()
        self._runs: dict[str, list[Decimal]] = {}  # run id -> [cost, tokens, calls]
        self.rates = RateWindows()
        self._runs_lock = threading.Lock()
        self._last_plan: CallPlan | None = None

    # -- the check ------------------------------------------------------------------------------
    def check(self, call: LLMCall, request: dict[str, Any]) -> None:
        table = self.table
        if not table.connected and self._unreachable(table):
            return
        plan = self._last_plan = plan_for(
            baggage.get_all(call.context), call.provider, call.request_model, table, self._last_plan
        )
        if table.by_scope:
            for flag in table.flags_for(plan.scopes):
                if flag.state == "block" and not (flag.metric == "cost" and self._free(call)):
                    if flag.metric == PAUSE_METRIC:
                        raise ScopePaused(flag.scope_type, flag.scope_id, flag.reason)
                    raise BudgetExceeded(
                        flag.scope_type,
                        flag.scope_id,
                        flag.limit,
                        flag.spend,
                        flag.reason,
                        metric=flag.metric,
                        budget_id=flag.budget_id,
                    )
                self._warn(call, flag)
        run = plan.run
        if plan.limited:
            self._check_limits(call, request, plan)
        if self.strict and self.stub is not None and not self._free(call):
            call.budget = _CallBudget(run, self._reserve(call, request, plan.scopes))
        elif run and plan.limited:
            call.budget = _CallBudget(run, "")
        if run and plan.limited and call.budget is not None:
            call.budget.run_limits = plan.run_limits

    # -- streams: terminate run (see stream_guard) -----------------------------------------------
    def limits_run(self, call: LLMCall) -> bool:
        budget = call.budget
        return isinstance(budget, _CallBudget) and bool(budget.run_limits)

    def prompt_tokens(self, request: dict[str, Any]) -> int:
        return estimate.count_tokens(request_text(request)) + framing_tokens(request)

    def run_overrun(self, call: LLMCall, input_tokens: int, output_tokens: int) -> BudgetExceeded | None:
        budget = call.budget
        if not isinstance(budget, _CallBudget):
            return None
        cost: Decimal | None = None
        for limit, scope_id in budget.run_limits:
            if limit.metric == "cost":
                if cost is None:
                    cost = call_cost(self.table.pricer, call, input_tokens, output_tokens)
                spent = self._run_total(budget.run, "cost") + cost
            elif limit.metric == "tokens":
                spent = self._run_total(budget.run, "tokens") + input_tokens + output_tokens
            else:
                continue
            if spent > limit.limit:
                return _run_limit_reached(budget.run, limit, scope_id, spent, "crossed mid-stream", True)
        return None

    def _free(self, call: LLMCall) -> bool:
        return self.table.pricer.is_free(call.provider, call.request_model, call.operation)

    def _unreachable(self, table: FlagTable) -> bool:
        """True when the check should be skipped: no flags, and failing open."""
        down_for = time.monotonic() - table.disconnected_at
        if self.fail_closed and (table.synced_at == 0.0 or down_for > self.stale_after):
            raise BudgetExceeded("collector", "", Decimal(0), Decimal(0), reason=_UNREACHABLE)
        return table.synced_at == 0.0 or down_for > self.stale_after

    def _warn(self, call: LLMCall, flag: Flag) -> None:
        call.add_event(
            "spendgate.budget." + flag.state,
            {
                "spendgate.budget.id": flag.budget_id,
                "spendgate.budget.scope": f"{flag.scope_type}:{flag.scope_id}",
                "spendgate.budget.reason": flag.reason,
            },
        )
        key = (flag.state, flag.budget_id, flag.scope_type, flag.scope_id)
        if key in self._warned:
            return
        self._warned.add(key)
        logger.warning("spendgate: budget %s: %s", flag.state, flag.reason)
        if self.on_warn is not None:
            try:
                self.on_warn(flag)
            except Exception:
                logger.exception("spendgate: the on_warn callback failed")

    def _check_limits(self, call: LLMCall, request: dict[str, Any], plan: CallPlan) -> None:
        run = plan.run
        if run:
            for limit, scope_id in plan.run_limits:
                spent = self._run_total(run, limit.metric)
                if spent >= limit.limit:
                    raise _run_limit_reached(run, limit, scope_id, spent, "reached")
        if plan.request_limits:
            self._check_request_limits(call, request, plan)
        if plan.rate_limits:  # last: a call the other limits refuse is not counted as sent
            self.rates.admit(plan.rate_limits)

    def _check_request_limits(self, call: LLMCall, request: dict[str, Any], plan: CallPlan) -> None:
        provider, model, operation = call.provider, call.request_model, call.operation
        worst = self._worst_bound(request, provider, model, operation)  # neither tokenizes nor prices
        if plan.fits(worst.cost, worst.of("tokens")):
            return
        worst = self.worst_case(request, provider, model, operation)
        for limit, scope_id in plan.request_limits:
            if worst.of(limit.metric) > limit.limit:
                # Nothing was spent: the message names the call's worst case as an estimate.
                raise BudgetExceeded(
                    limit.scope_type,
                    scope_id,
                    limit.limit,
                    Decimal(0),
                    f"per-request limit {limit.budget_id}",
                    estimate=worst.of(limit.metric),
                    metric=limit.metric,
                    limit_kind="per-request",
                )

    def worst_case(
        self, request: dict[str, Any], provider: str, model: str, operation: str = "chat"
    ) -> WorstCase:
        """(input tokens, output tokens, cost) at most: the prompt's tokens and the request's output
        limit, priced as the collector would. ``operation`` picks the fallback rate of an unknown
        model (embeddings or chat)."""
        output = max_output_tokens(request) or self.default_max_output
        return worst_case(self.table.pricer, provider, model, self.prompt_tokens(request), output, operation)

    def _worst_bound(self, request: dict[str, Any], provider: str, model: str, operation: str) -> WorstCase:
        """An upper bound of :meth:`worst_case` that neither tokenizes nor prices, so the exact
        worst case is computed only when this bound reaches a limit."""
        output = max_output_tokens(request) or self.default_max_output
        return worst_case_bound(self.table.pricer, provider, model, prompt_bytes(request), output, operation)

    def worst_case_cost(
        self, request: dict[str, Any], provider: str, model: str, operation: str = "chat"
    ) -> Decimal:
        """The most a request to this model could cost, as the collector would price it."""
        return self.worst_case(request, provider, model, operation=operation).cost

    # -- strict mode ------------------------------------------------------------------------------
    def _reserve(self, call: LLMCall, request: dict[str, Any], scopes: list[tuple[str, str]]) -> str:
        amount = self.worst_case_cost(request, call.provider, call.request_model, call.operation)
        try:
            reply = self.stub.Reserve(
                pb.ReserveRequest(scopes=[pb.Scope(type=t, id=i) for t, i in scopes], amount=str(amount)),
                timeout=self.reserve_timeout,
                metadata=self.metadata,
            )
        except grpc.RpcError as exc:
            if self.fail_closed:
                raise BudgetExceeded(
                    "collector", "", Decimal(0), Decimal(0), f"could not reserve budget: {exc.code()}"
                ) from None
            return ""
        if not reply.granted:
            by = Flag.from_message(reply.blocking)
            scope_type = by.scope_type or "global"
            raise BudgetExceeded(
                scope_type,
                by.scope_id,
                by.limit,
                by.spend,
                reply.reason,
                estimate=amount,
                budget_id=by.budget_id,
            )
        call.set_attribute("spendgate.reservation_id", reply.reservation_id)
        return str(reply.reservation_id)

    # -- after the call ---------------------------------------------------------------------------
    def _run_totals(self, run: str) -> tuple[Decimal, Decimal]:
        totals = self._runs.get(run)
        return (totals[0], totals[1]) if totals else (Decimal(0), Decimal(0))

    def _run_total(self, run: str, metric: str) -> Decimal:
        totals = self._runs.get(run)
        return totals[_RUN_METRICS.index(metric)] if totals else Decimal(0)

    def after_call(self, call: LLMCall) -> None:
        budget = call.budget
        if budget is None:
            return
        cost = call_cost(self.table.pricer, call)
        if budget.run:
            tokens = Decimal((call.input_tokens or 0) + (call.output_tokens or 0))
            with self._runs_lock:
                totals = self._runs.setdefault(budget.run, [Decimal(0), Decimal(0), Decimal(0)])
                totals[0] += cost
                totals[1] += tokens
                totals[2] += 1
        if budget.reservation and self.stub is not None:
            # Settled before the caller goes on, so its next Reserve already sees this cost.
            self._settle(budget.reservation, cost)

    def _settle(self, reservation: str, cost: Decimal) -> None:
        try:
            request = pb.SettleRequest(reservation_id=reservation, actual_cost=str(cost))
            self.stub.Settle(request, timeout=self.reserve_timeout, metadata=self.metadata)
        except grpc.RpcError as exc:
            logger.debug("spendgate: settling a reservation failed: %s", exc.code())

    def run_spend(self, run: str) -> tuple[Decimal, Decimal]:
        """(cost, tokens) this process has spent in a run."""
        return self._run_totals(run)
