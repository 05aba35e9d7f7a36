-- The configured retention, applied on every start where it differs from the
-- table's TTL (the migrations set it only when they create the tables). Rows
-- already stored are re-judged by the merges that follow, not by a rewrite.
ALTER TABLE {db}.llm_spans{local} {on_cluster}
    MODIFY TTL toDateTime(start_time) + INTERVAL {detailed_days} DAY
    SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE {db}.spend_by_scope_hourly{local} {on_cluster}
    MODIFY TTL hour + INTERVAL {hourly_days} DAY
    SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE {db}.spend_daily{local} {on_cluster}
    MODIFY TTL day + INTERVAL {daily_days} DAY
    SETTINGS materialize_ttl_after_modify = 0;
