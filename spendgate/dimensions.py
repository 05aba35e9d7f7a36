"""The attribution dimensions and the budget scope types, defined once.

Each dimension says where it is read from (span and resource attributes),
where it is stored (its ``llm_spans`` column, the daily rollup) and what uses
it: ``spendgate.scope()`` in the agent, budgets, the costs API. The agent,
the collector and the SQL templates (through the placeholders of
:func:`spendgate.queries.render`) derive their lists from this table, so
adding a dimension is a line here plus a migration: see "Adding a scope type"
in docs/architecture.md.

This module is neutral: both the agent and the collector import it, it
imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

PREFIX = "spendgate."  # the agent sends dimension ``x`` as baggage and span attribute ``spendgate.x``
GLOBAL = "global"  # the scope type of all spend: no dimension, no id


@dataclass(frozen=True)
class Dimension:
    name: str
    # Attribute keys that carry it, on the span and then on the resource; the first found wins.
    # Empty: the normaliser derives the value (provider, model).
    keys: tuple[str, ...] = ()
    spans_column: str = ""  # its llm_spans column, when not named like the dimension
    resource_only: bool = False  # read from the resource's attributes, never from a span's
    agent_scope: bool = False  # spendgate.scope(<name>=...) sets it
    budget_scope: bool = False  # a budget scope type: spend_by_scope_hourly fans out to it
    daily: bool = False  # a column of the daily rollup spend_daily, named like the dimension
    group_by: bool = False  # the usage API groups spend by it (usage_by.sql)
    usage_route: bool = False  # /api/v1/usage/by-<name>, and a filter of /api/v1/usage/daily
    spans_usage: bool = False  # /api/v1/usage/by-<name> read from the raw llm_spans rows (not in spend_daily)
    records_filter: bool = False  # a filter of /api/v1/costs/records
    also_matches: tuple[str, ...] = ()  # more llm_spans columns its records filter matches
    seed_name: str = ""  # the seeds' name for it in the costs API (a filter alias, a record field)

    def __post_init__(self) -> None:
        # The API reads grouped spend from spend_daily: it must be there.
        if (self.group_by and not self.daily) or (self.usage_route and not self.group_by):
            raise ValueError(f"dimension {self.name!r}: group_by needs daily, usage_route needs group_by")
        # The collector must read first what the agent sends.
        if self.agent_scope and self.keys[:1] != (PREFIX + self.name,):
            raise ValueError(f"dimension {self.name!r}: an agent scope is read as {PREFIX}{self.name} first")

    @property
    def column(self) -> str:
        return self.spans_column or self.name


def _own(name: str, *aliases: str) -> tuple[str, ...]:
    """``spendgate.<name>`` (what the agent sends), then other instrumentations' names for it."""
    return (PREFIX + name, *aliases)


# In llm_spans column order. Budget scope types keep this order in ScopeType, which validation
# messages and the OpenAPI enum show.
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(
        "service", keys=("service.name",), resource_only=True, daily=True, group_by=True, usage_route=True
    ),
    Dimension(
        "environment",
        keys=_own("environment", "deployment.environment.name", "deployment.environment"),
        daily=True,
    ),
    Dimension(
        "project",
        keys=_own("project"),
        agent_scope=True,
        budget_scope=True,
        daily=True,
        group_by=True,
        usage_route=True,
        records_filter=True,
    ),
    Dimension(
        "ticket",
        keys=_own("ticket"),
        agent_scope=True,
        budget_scope=True,
        daily=True,
        group_by=True,
        usage_route=True,
        records_filter=True,
    ),
    Dimension(
        "task",
        keys=_own("task"),
        agent_scope=True,
        budget_scope=True,
        records_filter=True,
        spans_usage=True,
        seed_name="task_id",
    ),
    Dimension(
        "phase",
        keys=_own("phase"),
        agent_scope=True,
        budget_scope=True,
        daily=True,
        group_by=True,
        usage_route=True,
        records_filter=True,
    ),
    Dimension(
        "agent",
        keys=_own("agent", "gen_ai.agent.name"),
        agent_scope=True,
        budget_scope=True,
        daily=True,
        group_by=True,
        usage_route=True,
        records_filter=True,
        seed_name="agent_id",
    ),
    Dimension(
        "agent_type",
        keys=_own("agent_type", "spendgate.agent.type"),
        agent_scope=True,
        budget_scope=True,
        daily=True,
        group_by=True,
        usage_route=True,
    ),
    Dimension("run", keys=_own("run", "spendgate.run_id"), agent_scope=True),
    Dimension(
        "user",
        keys=_own("user", "user.id", "enduser.id"),
        agent_scope=True,
        budget_scope=True,
        daily=True,
        group_by=True,
        usage_route=True,
    ),
    Dimension(
        "team",
        keys=_own("team"),
        agent_scope=True,
        budget_scope=True,
        daily=True,
        group_by=True,
        usage_route=True,
    ),
    Dimension(
        "provider", budget_scope=True, daily=True, group_by=True, usage_route=True, records_filter=True
    ),
    Dimension(
        "model",
        spans_column="priced_model",
        budget_scope=True,
        daily=True,
        group_by=True,
        usage_route=True,
        records_filter=True,
        also_matches=("request_model",),  # a records filter by model matches the requested model too
    ),
)

ATTRIBUTED = tuple(d for d in DIMENSIONS if d.keys)  # read from attributes: the rest are derived
AGENT_DIMENSIONS = tuple(d.name for d in DIMENSIONS if d.agent_scope)
SCOPE_TYPES = (GLOBAL, *(d.name for d in DIMENSIONS if d.budget_scope))
SCOPE_COLUMNS = {d.name: d.column for d in DIMENSIONS if d.budget_scope}  # global has none
GROUP_BY = tuple(d.name for d in DIMENSIONS if d.group_by)
USAGE_ROUTES = tuple(d.name for d in DIMENSIONS if d.usage_route)
RECORDS_FILTERS = tuple(d for d in DIMENSIONS if d.records_filter)
# Usage routes over the raw llm_spans rows (kept detailed_days): the dimensions the daily rollup
# lacks, and the call's operation (chat, embeddings, ...), a property of the call, not an attribution.
SPANS_USAGE = {**{d.name: d.column for d in DIMENSIONS if d.spans_usage}, "operation": "operation"}
# Every usage route's llm_spans column: run counts are read from the raw rows for all of them.
USAGE_COLUMNS = {**{d.name: d.column for d in DIMENSIONS if d.usage_route}, **SPANS_USAGE}
SEED_NAMES = {d.seed_name: d.name for d in DIMENSIONS if d.seed_name}  # seed name -> dimension

# Literal types for validation (pydantic, FastAPI), built from the table; type checkers see str.
if TYPE_CHECKING:
    ScopeType = str
    GroupBy = str
else:
    ScopeType = Literal[SCOPE_TYPES]
    GroupBy = Literal[GROUP_BY]
