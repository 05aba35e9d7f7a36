"""The HTTP API wing: ``routes`` (budgets, flags, alerts), ``costs`` (reports and
records), ``advice`` (optimisation insights) and ``auth`` (API keys and roles)."""
