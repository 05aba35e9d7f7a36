"""Every rollup against the raw rows it is derived from, key by key: the rows where they differ."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_SCOPES = """arrayFilter(s -> s.1 = 'global' OR s.2 != '', [('global', ''), ('project', project),
    ('ticket', ticket), ('task', task), ('phase', phase), ('agent', agent), ('agent_type', agent_type),
    ('user', user), ('team', team), ('provider', provider), ('model', priced_model)])"""


def _difference(keys: str, raw_select: str, raw_from: str, rollup: str, bucket: str) -> str:
    return f"""
SELECT {keys}, sum(c) AS calls, sum(i) AS input_tokens, sum(o) AS output_tokens, sum(d) AS cost
FROM (
    SELECT {raw_select}, toInt64(1) AS c, toInt64(input_tokens) AS i, toInt64(output_tokens) AS o,
           toDecimal128(total_cost, 18) AS d
    FROM {{db}}.llm_spans {raw_from}
    UNION ALL
    SELECT {bucket}, -toInt64(calls) AS c, -toInt64(input_tokens) AS i, -toInt64(output_tokens) AS o,
           -toDecimal128(total_cost, 18) AS d
    FROM {{db}}.{rollup}
)
GROUP BY {keys}
HAVING calls != 0 OR input_tokens != 0 OR output_tokens != 0 OR cost != 0
"""


_DAILY_KEYS = "service, environment, project, ticket, phase, agent, agent_type, user, team, provider"
_MONTHLY_KEYS = "project, agent, agent_type, team, user, provider"

DIFFERENCES = {
    "spend_by_scope_hourly": _difference(
        "hour, scope_type, scope_id",
        "toStartOfHour(start_time) AS hour, scope.1 AS scope_type, scope.2 AS scope_id",
        f"ARRAY JOIN {_SCOPES} AS scope",
        "spend_by_scope_hourly",
        "hour, scope_type, scope_id",
    ),
    "spend_daily": _difference(
        f"day, {_DAILY_KEYS}, model, pricing_status",
        f"toDate(start_time) AS day, {_DAILY_KEYS}, priced_model AS model, pricing_status",
        "",
        "spend_daily",
        f"day, {_DAILY_KEYS}, model, pricing_status",
    ),
    "spend_monthly": _difference(
        f"month, {_MONTHLY_KEYS}, model, pricing_status",
        f"toStartOfMonth(start_time) AS month, {_MONTHLY_KEYS}, priced_model AS model, pricing_status",
        "",
        "spend_monthly",
        f"month, {_MONTHLY_KEYS}, model, pricing_status",
    ),
}


def rollup_differences(query: Callable[[str], list[Any]]) -> dict[str, list[Any]]:
    """Per rollup, the keys whose calls, tokens or cost differ from the raw rows (``{db}`` in SQL)."""
    return {table: rows for table, sql in DIFFERENCES.items() if (rows := query(sql))}
