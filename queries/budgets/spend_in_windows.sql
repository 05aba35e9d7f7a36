-- Spend of many budget windows in one query. Whole hours come from the per-scope
-- hourly rollup; the partial hours at a window's edges come from llm_spans, so a
-- window that does not start on the hour (time zones with half-hour offsets,
-- rolling windows, fixed starts) is still exact.
-- A scope id of '*' (a default budget) yields one row per scope id with spend.
-- blocked_calls: the calls among them the agent's guard refused, which never reached
-- the provider (as migration 0027 counts them in the rollup).
-- Parameters: parallel arrays, one element per budget window; times in
-- microseconds since the epoch (UTC).
WITH windows AS
(
    SELECT
        w.1 AS budget_id,
        w.2 AS scope_type,
        w.3 AS scope_id,
        fromUnixTimestamp64Micro(w.4, 'UTC') AS window_start,
        fromUnixTimestamp64Micro(w.5, 'UTC') AS window_end,
        -- Whole hours are [head_end, tail_start); the rest of the window is read raw.
        least(if(toStartOfHour(window_start) = window_start, window_start,
                 toStartOfHour(window_start) + INTERVAL 1 HOUR), window_end) AS head_end,
        greatest(toStartOfHour(window_end), head_end) AS tail_start
    FROM
    (
        SELECT arrayJoin(arrayZip({budget_ids:Array(String)}, {scope_types:Array(String)},
                                  {scope_ids:Array(String)}, {starts_us:Array(Int64)}, {ends_us:Array(Int64)})) AS w
    )
),
whole_hours AS
(
    SELECT windows.budget_id AS budget_id, h.scope_id AS scope_id, sum(h.total_cost) AS cost,
           sum(h.input_tokens + h.output_tokens) AS tokens, sum(h.calls) AS calls,
           sum(h.blocked_calls) AS blocked_calls
    FROM windows
    INNER JOIN {db}.spend_by_scope_hourly AS h ON h.scope_type = windows.scope_type
    WHERE (windows.scope_id = '*' OR h.scope_id = windows.scope_id)
      AND h.hour >= windows.head_end AND h.hour < windows.tail_start
    GROUP BY windows.budget_id, h.scope_id
),
edges AS
(
    SELECT windows.budget_id AS budget_id,
           -- The span's id in the window's scope type ('' for global, as in the rollup):
           -- multiIf(windows.scope_type = 'project', s.project, ..., '') over the scope
           -- types of spendgate.dimensions (see spendgate/queries/__init__.py).
           {scope_id_of(windows.scope_type, s)} AS span_scope_id,
           sum(s.total_cost) AS cost, sum(s.input_tokens + s.output_tokens) AS tokens, countIf(s.operation != 'infrastructure') AS calls,
           countIf(s.error_type = 'BudgetExceeded' AND s.input_tokens = 0 AND s.output_tokens = 0)
               AS blocked_calls
    FROM windows
    CROSS JOIN
    (
        -- Only spans in the hours where some window starts or ends can fall on an edge.
        -- scope_columns: the llm_spans column of every scope type but global.
        SELECT start_time, {scope_columns}, total_cost, input_tokens, output_tokens, error_type, operation
        FROM {db}.llm_spans
        WHERE toStartOfHour(start_time) IN
            (SELECT arrayJoin([toStartOfHour(window_start), toStartOfHour(window_end)]) FROM windows)
    ) AS s
    WHERE ((s.start_time >= windows.window_start AND s.start_time < windows.head_end)
           OR (s.start_time >= windows.tail_start AND s.start_time < windows.window_end))
      AND (windows.scope_type = 'global'
           OR (windows.scope_id = '*' AND span_scope_id != '') OR span_scope_id = windows.scope_id)
    GROUP BY budget_id, span_scope_id
)
SELECT budget_id, scope_id, toDecimal128(sum(cost), 18) AS cost, sum(tokens) AS tokens, sum(calls) AS calls,
       sum(blocked_calls) AS blocked_calls
FROM
(
    SELECT budget_id, scope_id, toDecimal128(cost, 18) AS cost, tokens, calls, blocked_calls FROM whole_hours
    UNION ALL
    SELECT budget_id, span_scope_id AS scope_id, toDecimal128(cost, 18) AS cost, tokens, calls, blocked_calls
    FROM edges
)
GROUP BY budget_id, scope_id
