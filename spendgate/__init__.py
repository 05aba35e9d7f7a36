"""spendgate: meter and cap what AI agents spend on LLM APIs.

The distribution ships three packages under this namespace:
``spendgate.instrumentation`` (in agent processes), ``spendgate.collector``
(the OTLP receiver, pricer and ClickHouse writer) and ``spendgate.queries``
(all SQL and dashboards).
"""

__version__ = "0.1.0"
