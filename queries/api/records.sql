-- One page of priced LLM calls, newest first. Empty filters match everything; the
-- cursor is the (start_time, trace_id, span_id) of the last row of the previous page.
-- The attribution_columns (service ... team) and the records_filters, one
-- "AND (<project> = '' OR project = <project>)" each (the model's matches priced_model
-- or request_model), are lists of spendgate.dimensions: see spendgate/queries/__init__.py.
SELECT
    start_time, end_time, lower(hex(trace_id)) AS trace_hex, lower(hex(span_id)) AS span_hex,
    {attribution_columns},
    provider, operation, request_model, response_model, priced_model, pricing_status, usage_estimated,
    status_code, error_type,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_cost, cache_read_cost, cache_write_cost, output_cost, total_cost, cache_savings
FROM {db}.llm_spans
WHERE start_time >= fromUnixTimestamp64Micro({start_us:Int64}, 'UTC')
  AND start_time < fromUnixTimestamp64Micro({end_us:Int64}, 'UTC')
  {records_filters}
  -- (Aliases named like columns would shadow them here: hence trace_hex and span_hex.)
  AND (start_time, trace_id, span_id) < (fromUnixTimestamp64Micro({cursor_us:Int64}, 'UTC'),
                                          toFixedString(unhex({cursor_trace:String}), 16),
                                          toFixedString(unhex({cursor_span:String}), 8))
ORDER BY start_time DESC, trace_id DESC, span_id DESC
LIMIT {limit:UInt32}
