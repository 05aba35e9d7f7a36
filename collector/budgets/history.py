"""A budget's history: its stored versions, each with what it changed.

The budget of each version is served as stored (its JSON), not re-read through
the model, so a version written by another release still shows as it was.
"""

from __future__ import annotations

import json
from typing import Any

from spendgate.collector.budgets.store import StoredBudget


def _action(version: StoredBudget, before: StoredBudget | None) -> str:
    if version.deleted:
        return "deleted"
    return "created" if before is None or before.deleted else "updated"


def history_json(versions: list[StoredBudget]) -> list[dict[str, Any]]:
    """The versions oldest first; ``changed``: the fields that differ from the version before
    (every field of a created budget, none of a deletion)."""
    served: list[dict[str, Any]] = []
    before: StoredBudget | None = None
    previous: dict[str, Any] = {}
    for version in versions:
        budget = json.loads(version.spec)
        action = _action(version, before)
        if action == "deleted":
            changed: list[str] = []
        else:
            baseline = previous if action == "updated" else {}
            keys = set(budget) | set(baseline)
            changed = sorted(k for k in keys if k not in baseline or budget.get(k) != baseline[k])
        served.append(
            {
                "version": version.version,
                "changed_at": version.changed_at.isoformat(),
                "changed_by": version.changed_by,
                "action": action,
                "deleted": version.deleted,
                "changed": changed,
                "budget": budget,
            }
        )
        before, previous = version, budget
    return served
