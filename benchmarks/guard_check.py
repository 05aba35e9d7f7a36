"""The budget check's cost on the agent's thread, in process: ``BudgetGuard.check`` + ``after_call``.

The guard is the one ``overhead.py`` builds (the shipped per-request and per-run limits, no flags),
inside a run of a coding agent, so every check looks up limits, bounds the prompt, prices the worst
case and, after the call, prices its actual cost into the run. The baseline, measured in the same run,
is building the ``LLMCall`` alone; the figure is the difference per call (the issue's target: 10 µs).

``--callgrind`` counts instructions instead of timing (valgrind's callgrind, repeatable whatever else
the machine runs): each loop runs at two lengths, and the difference per call cancels the start-up.

    python benchmarks/guard_check.py --calls 20000 --rounds 3
    python benchmarks/guard_check.py --callgrind
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from opentelemetry import trace
from overhead import budget_guard
from spendgate.instrumentation.recorder import LLMCall

from spendgate import scope

REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "hello there, write a haiku"}],
    "max_tokens": 64,
}


def per_call(step: Callable[[], None], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - start) / calls * 1e6


def instructions(loop: str, calls: int) -> int:
    """Instructions callgrind counts for a process that runs ``loop`` ``calls`` times."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__]
    command += ["--only", loop, "--calls", str(calls)]
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, env=os.environ | {"PYTHONHASHSEED": "0"}
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    assert found, done.stderr[-2000:]
    return int(found.group(1))


def count_instructions(short: int = 500, long: int = 10_500) -> None:
    per_call = {}
    for loop in ("baseline", "checked"):
        per_call[loop] = (instructions(loop, long) - instructions(loop, short)) / (long - short)
        print(f"{loop}: {per_call[loop]:,.0f} instructions per call")
    added = per_call["checked"] - per_call["baseline"]
    print(
        f"check + after_call adds {added:,.0f} instructions per call ({per_call['checked'] / per_call['baseline']:.1f}x the baseline)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--callgrind", action="store_true", help="count instructions with valgrind")
    parser.add_argument("--only", choices=("baseline", "checked"), help=argparse.SUPPRESS)  # under valgrind
    args = parser.parse_args()
    if args.callgrind:
        count_instructions()
        return
    guard = budget_guard()
    tracer = trace.get_tracer("bench")

    def baseline() -> None:
        LLMCall(tracer, "openai", "chat", "gpt-4o-mini")

    def checked() -> None:
        call = LLMCall(tracer, "openai", "chat", "gpt-4o-mini")
        guard.check(call, REQUEST)
        call.input_tokens, call.output_tokens, call.response_model = 12, 30, "gpt-4o-mini"
        guard.after_call(call)

    with scope(agent_type="coding", agent="coder", run="run-1"):
        per_call(checked, 2_000 if args.only is None else 200)  # warm the pricer's caches and the tokenizer
        if args.only is not None:
            per_call(checked if args.only == "checked" else baseline, args.calls)
            return
        added = []
        for _ in range(args.rounds):  # alternate, so drift hits both alike
            base = per_call(baseline, args.calls)
            added.append(per_call(checked, args.calls) - base)
            print(f"baseline {base:.2f} µs/call, check + after_call adds {added[-1]:.2f} µs/call")
    print(f"median added: {statistics.median(added):.2f} µs per call (target: 10 µs)")


if __name__ == "__main__":
    main()
