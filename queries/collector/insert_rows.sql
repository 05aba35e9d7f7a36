-- Every stored row of one insert, to replay it with its own deduplication token.
SELECT *
FROM {db}.llm_spans
WHERE insert_id = {insert_id:String}
  AND received_at >= {first_received:DateTime64(3, 'UTC')}
  AND received_at <= {last_received:DateTime64(3, 'UTC')}
