"""The spendgate collector: OTLP receiver -> normaliser -> pricer -> ClickHouse writer.

Each stage is one module: ``receiver`` (gRPC and HTTP), ``otlp`` (decoding),
``normalize`` (LLM span -> one usage record), ``pricing`` (usage -> Decimal
cost), ``writer`` (batched, deduplicated, acknowledged inserts) and
``storage`` (ClickHouse client and migrations).
"""
