"""The budgets wing: from stored spend to the flags agents obey.

``model`` (budgets, scopes and periods) -> ``store`` (budget versions) ->
``evaluator`` (rollups -> states) and ``fast_path`` (spend since the last
evaluation) -> ``board`` (the current flags) -> ``flag_service`` (the gRPC stream
to agents); ``alerts``, ``notify`` and ``status`` record what changed, and
``runtime`` runs the loop.
"""
