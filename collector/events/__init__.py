"""Events: CloudEvents for spend, thresholds and budget changes, kept in ClickHouse, delivered to
webhooks at least once and streamed as Server-Sent Events (README, Events)."""
