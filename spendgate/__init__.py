"""spendgate: meter and cap what AI agents spend on LLM APIs.

The distribution ships three packages under this namespace:
``spendgate.instrumentation`` (in agent processes), ``spendgate.collector``
(the OTLP receiver, pricer and ClickHouse writer) and ``spendgate.queries``
(all SQL and dashboards).
"""

__version__ = "0.1.0"

# ``spendgate.scope(...)`` and ``spendgate.BudgetExceeded`` for agents; imported
# lazily so the collector does not load the instrumentation.
_AGENT_API = {
    "scope",
    "run",
    "BudgetExceeded",
    "RunQueueTimeout",
    "ScopePaused",
    "instrument",
    "uninstrument",
    "flush",
}


def __getattr__(name: str) -> object:
    if name in _AGENT_API:
        from . import instrumentation

        return getattr(instrumentation, name)
    raise AttributeError(f"module 'spendgate' has no attribute {name!r}")
