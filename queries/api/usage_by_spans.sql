-- Spend per value of one usage dimension between two dates (UTC days, both included), from the
-- raw llm_spans rows (kept detailed_days, 90 by default): the dimensions the daily rollup lacks
-- (task, operation), and every dimension's run count (distinct runs cannot be summed from daily
-- rows). spans_key_of(dimension) is multiIf(dimension = 'project', project, ..., '') over
-- spendgate.dimensions.USAGE_COLUMNS: see spendgate/queries/__init__.py.
WITH {dimension:String} AS dimension
SELECT
    {spans_key_of(dimension)} AS key,
    countIf(operation != 'infrastructure') AS calls,  -- a fixed monthly cost's daily row is no call
    uniqExactIf(run, run != '') AS runs,
    -- The tokens of the calls in a run (qualified: the bare names are the sums' aliases below).
    sumIf(spans.input_tokens + spans.output_tokens, run != '') AS run_tokens,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(total_cost) AS total_cost,
    anyIf(agent_type, agent_type != '') AS type_of_agent  -- seed 000's "type" of an agent (no alias
    -- named like a column: the key reads the column)
FROM {db}.llm_spans AS spans
WHERE toDate(start_time) >= {start:Date} AND toDate(start_time) <= {end:Date}
GROUP BY key
ORDER BY total_cost DESC, key
