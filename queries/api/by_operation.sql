-- Spend per operation (chat, embeddings, text_completion, ...) over a time range, largest first.
-- A local model's fixed monthly cost is stored as operation 'infrastructure': spend without calls.
SELECT
    operation,
    countIf(operation != 'infrastructure') AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(total_cost) AS total_cost
FROM {db}.llm_spans
WHERE start_time >= fromUnixTimestamp64Micro({start_us:Int64}, 'UTC')
  AND start_time < fromUnixTimestamp64Micro({end_us:Int64}, 'UTC')
GROUP BY operation
ORDER BY total_cost DESC, operation
