-- Override requests: a blocked agent (or a user) asks for more room in a budget's current period,
-- an admin approves or denies it. Every state change is a new row with a higher version (the audit
-- trail); readers take the newest row per id (LIMIT 1 BY), as for budgets.
CREATE TABLE IF NOT EXISTS {db}.budget_override_requests{local} {on_cluster}
(
    id              String,
    version         UInt64,
    budget_id       String,
    scope_id        String,
    amount          Decimal(38, 18),
    reason          String,
    requested_by    String,
    status          LowCardinality(String),
    -- What an approval grants (the amount asked for, or what the admin chose) and until when.
    granted         Decimal(38, 18),
    valid_until     Nullable(DateTime64(3, 'UTC')),
    decided_by      String,
    decided_at      Nullable(DateTime64(3, 'UTC')),
    note            String,
    changed_at      DateTime64(3, 'UTC')
)
ENGINE = {engine_ReplacingMergeTree}
ORDER BY (id, version);
