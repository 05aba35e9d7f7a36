"""One agent process of benchmarks/enforcement.py: the real openai SDK, instrumented, against the fake provider.

Reads ``run <project>`` lines from stdin; for each, calls as fast as it can within
``spendgate.scope(project=...)`` until a budget blocks it, then prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

import openai
from spendgate.instrumentation import configure
from spendgate.instrumentation.budget_guard import BudgetGuard
from spendgate.instrumentation.flags_client import FlagTable

import spendgate

REQUEST = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}


def main() -> None:
    fake_url, endpoint, mode, name = sys.argv[1:5]
    block_seen: dict[str, float] = {}
    apply = FlagTable.apply

    def recording_apply(self: FlagTable, snapshot: object) -> None:
        apply(self, snapshot)
        now = time.time()
        for (scope_type, scope_id), flags in self.by_scope.items():
            if scope_type == "project" and any(f.state == "block" for f in flags):
                block_seen.setdefault(scope_id, now)

    FlagTable.apply = recording_apply  # type: ignore[method-assign]
    configure.instrument(name, f"http://{endpoint}", spool_dir=tempfile.mkdtemp(), strict=(mode == "strict"),
                         sdks=["openai"])  # fmt: skip
    guard = configure.enforcement.installed_guard()
    assert isinstance(guard, BudgetGuard)
    client = openai.OpenAI(base_url=fake_url, api_key="k", max_retries=0)
    worst_case = guard.worst_case_cost(REQUEST, "openai", "gpt-4o-mini")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        project = line.split()[1]
        calls = 0
        blocked_at = None
        deadline = time.monotonic() + 120
        with spendgate.scope(project=project):
            while time.monotonic() < deadline:
                try:
                    client.chat.completions.create(**REQUEST)
                except spendgate.BudgetExceeded:
                    blocked_at = time.time()
                    break
                calls += 1
        configure.flush()
        print(json.dumps({"agent": name, "calls": calls, "blocked_at": blocked_at,
                          "flag_seen_at": block_seen.get(project), "worst_case": str(worst_case)}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
