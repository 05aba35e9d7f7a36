"""The ingest wing: OTLP in, one priced row per provider call out.

A request flows through one module per stage: ``grpc_receiver`` / ``http_receiver``
-> ``otlp`` (decoding) -> ``pipeline`` -> ``processing`` (``normalize`` with
``conventions``, ``span_fields``, ``emitters`` and ``calls``; ``pricer``) -> ``writer``
(``seen_keys`` for deduplication, ``insert_ledger``) -> ClickHouse. ``reconcile``
re-derives rollup rows that a crash left out.
"""
