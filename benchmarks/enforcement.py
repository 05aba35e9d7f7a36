"""Budget enforcement under concurrency: overshoot, flag propagation and false blocks.

N agent processes (benchmarks/enforcement_agent.py: the real openai SDK,
instrumented) call a local fake provider as fast as they can inside one
project with a hard budget, until the budget blocks them. The collector runs
in this process on the embedded engine, so the stored spans can be read back.

For each round it measures:
- overshoot: stored spend beyond the limit, in USD, % of the limit and calls;
- propagation: from the arrival at the collector of the span that crossed the
  limit (its ``received_at``) to the moment each agent's local flag table held
  the block (p50/p99 over agents and rounds);
- false blocks: an agent refused before the crossing span arrived (normal
  mode), or a budget left with room for another call's worst case (strict mode);
- calls started after their agent held the block flag (must be zero).

Then concurrency slots (``benchmarks/slot_wait.py``): the hand-over time from
a run's release to the next queued run's grant, and the queue wait of runs
contending for a few slots, against an uncontended acquire + release.

Normal mode checks local flags only; strict mode also reserves each call's worst
case at the collector. The baseline is a unary gRPC ``Check`` round trip to the
same collector, measured in the same run.

    python benchmarks/enforcement.py --agents 6 --rounds 4
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import grpc
import httpx
from spendgate.collector.app import Collector
from spendgate.collector.config import parse_config
from spendgate.instrumentation.fake_provider import FakeProvider
from spendgate.instrumentation.fake_provider.formats import Usage

from spendgate.proto import flags_pb2 as pb
from spendgate.proto import flags_pb2_grpc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import slot_wait  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_collector(workdir: Path) -> tuple[Collector, threading.Thread]:
    config = parse_config(f"""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{free_port()}"}}
      http: {{endpoint: "127.0.0.1:{free_port()}"}}
processors:
  batch: {{workers: 0}}
exporters:
  clickhouse: {{endpoint: "chdb://{workdir / "data"}"}}
extensions:
  budgets: {{defaults: []}}
service: {{telemetry: {{logs: {{level: warning}}}}}}
""")
    collector = Collector(config)
    return collector, collector.serve_in_thread()


def check_round_trip(endpoint: str, count: int = 300) -> float:
    stub = flags_pb2_grpc.BudgetFlagsStub(grpc.insecure_channel(endpoint))
    request = pb.CheckRequest(scopes=[pb.Scope(type="project", id="baseline")])
    stub.Check(request)
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        stub.Check(request)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def spawn_agents(
    count: int, mode: str, fake_url: str, endpoint: str, delay_ms: int
) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "OTEL_BSP_SCHEDULE_DELAY": str(delay_ms), "SPENDGATE_BUDGETS": "on"}
    agents = [
        subprocess.Popen([sys.executable, str(HERE / "enforcement_agent.py"), fake_url, endpoint, mode,
                          f"{mode}-agent-{i}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for i in range(count)
    ]  # fmt: skip
    for agent in agents:
        assert agent.stdout is not None
        line = agent.stdout.readline()
        if not line:
            raise SystemExit("an agent did not start")
    return agents


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_round(collector: Collector, agents: list[subprocess.Popen[str]], mode: str, limit: Decimal) -> dict:
    assert collector.storage is not None and collector.budgets is not None
    project = f"{mode}-{uuid.uuid4().hex[:8]}"
    api = httpx.Client(base_url=f"http://127.0.0.1:{collector.http_port}", timeout=30)
    reply = api.post("/api/v1/costs/budgets", json={"id": project, "scope_type": "project", "scope_id": project,
                                                    "limit": str(limit), "grace_percent": 0})  # fmt: skip
    reply.raise_for_status()
    time.sleep(0.5)  # evaluated, and the fast path counts for it
    for agent in agents:
        assert agent.stdin is not None
        agent.stdin.write(f"run {project}\n")
        agent.stdin.flush()
    results = []
    for agent in agents:
        assert agent.stdout is not None
        results.append(json.loads(agent.stdout.readline()))
    calls = sum(r["calls"] for r in results)
    client = collector.storage.client
    db = collector.storage.options.database
    deadline = time.monotonic() + 30
    query = f"SELECT count() FROM {db}.llm_spans WHERE project = {{p:String}} AND total_cost > 0"
    while client.query(query, parameters={"p": project}).result_rows[0][0] < calls:
        if time.monotonic() > deadline:
            raise SystemExit(f"only part of {calls} calls were stored")
        time.sleep(0.1)
    rows = client.query(
        f"SELECT toUnixTimestamp64Milli(received_at), toUnixTimestamp64Micro(start_time), service, total_cost "
        f"FROM {db}.llm_spans WHERE project = {{p:String}} AND total_cost > 0 ORDER BY received_at, start_time",
        parameters={"p": project},
    ).result_rows
    spent = Decimal(0)
    crossing_ms = None
    in_flight = 0  # calls made but not yet stored when the crossing span arrived
    for received_ms, _, _, cost in rows:
        spent += cost
        if crossing_ms is None and spent >= limit:
            crossing_ms = received_ms
        elif crossing_ms is not None:
            in_flight += 1
    total = spent
    one_call = total / len(rows)
    flag_seen = {r["agent"]: r["flag_seen_at"] for r in results}
    late_starts = sum(
        1 for _, start_us, service, _ in rows
        if flag_seen.get(service) is not None and start_us / 1e6 > flag_seen[service]
    )  # fmt: skip
    worst_case = max(Decimal(r["worst_case"]) for r in results)
    latencies = []
    false_blocks = 0
    if crossing_ms is not None:
        for r in results:
            if r["flag_seen_at"] is not None:
                latencies.append(r["flag_seen_at"] - crossing_ms / 1000)
            if mode == "normal" and r["blocked_at"] is not None and r["blocked_at"] < crossing_ms / 1000:
                false_blocks += 1
    elif mode == "strict" and total + worst_case < limit:
        false_blocks = sum(1 for r in results if r["blocked_at"] is not None)  # refused with room left
    overshoot = max(total - limit, Decimal(0))
    return {
        "calls": calls,
        "spend": total,
        "overshoot": overshoot,
        "overshoot_calls": overshoot / one_call,
        "in_flight": in_flight,
        "one_call": one_call,
        "worst_case": worst_case,
        "latencies": latencies,
        "false_blocks": false_blocks,
        "late_starts": late_starts,
        "unblocked_agents": sum(1 for r in results if r["blocked_at"] is None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--limit", type=Decimal, default=Decimal("0.01"), help="the hard budget per round, USD"
    )
    parser.add_argument("--export-delay-ms", type=int, default=50, help="the agents' span batch delay")
    parser.add_argument(
        "--input-tokens",
        type=int,
        default=8,
        help="prompt tokens the fake provider reports ('hi' plus chat framing)",
    )
    parser.add_argument(
        "--output-tokens", type=int, default=60, help="output tokens it reports (max_tokens is 100)"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="spendgate-enforcement-"))
    collector, thread = start_collector(workdir)
    endpoint = f"127.0.0.1:{collector.grpc_port}"
    rtt = check_round_trip(endpoint)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{datetime.now(UTC):%Y-%m-%d}")  # fmt: skip
    print(f"baseline: gRPC Check round trip p50 {rtt * 1000:.2f} ms")
    print(f"{args.agents} agent processes, {args.rounds} rounds per mode, hard limit ${args.limit}, "
          f"agents export every {args.export_delay_ms} ms")  # fmt: skip
    usage = Usage(input_tokens=args.input_tokens, output_tokens=args.output_tokens, cache_read_tokens=0,
                  cache_write_tokens=0, reasoning_tokens=0)  # fmt: skip
    print(
        f"the fake provider reports {args.input_tokens} input and {args.output_tokens} output tokens per call"
    )
    with FakeProvider(usage=usage) as fake:
        for mode in ("normal", "strict"):
            agents = spawn_agents(args.agents, mode, fake.url("openai"), endpoint, args.export_delay_ms)
            try:
                rounds = [run_round(collector, agents, mode, args.limit) for _ in range(args.rounds)]
            finally:
                for agent in agents:
                    agent.kill()
            latencies = [value for r in rounds for value in r["latencies"]]
            overshoot_pct = [r["overshoot"] / args.limit * 100 for r in rounds]
            print(f"\n{mode} mode")
            for index, r in enumerate(rounds, 1):
                print(f"  round {index}: {r['calls']} calls, spend ${r['spend']:.6f}, overshoot ${r['overshoot']:.6f} "
                      f"({r['overshoot'] / args.limit * 100:.2f}% of the limit, {r['overshoot_calls']:.2f} calls; "
                      f"{r['in_flight']} calls in flight at the crossing), "
                      f"false blocks {r['false_blocks']}, calls started after the flag {r['late_starts']}, "
                      f"agents never blocked {r['unblocked_agents']}")  # fmt: skip
            print(f"  overshoot: max {max(overshoot_pct):.2f}% of the limit, "
                  f"max {max(r['overshoot_calls'] for r in rounds):.2f} calls "
                  f"(one call ${rounds[0]['one_call']:.6f}, its worst-case estimate ${rounds[0]['worst_case']:.6f})")  # fmt: skip
            if latencies:
                p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
                print(f"  propagation, crossing span arrival -> agent holds the block ({len(latencies)} samples): "
                      f"p50 {p50 * 1000:.1f} ms ({p50 / rtt:.1f}x the Check round trip), "
                      f"p99 {p99 * 1000:.1f} ms ({p99 / rtt:.1f}x)")  # fmt: skip
            else:
                print("  propagation: no block flag was needed (reservations refused the calls first)")
            print(
                f"  false blocks: {sum(r['false_blocks'] for r in rounds)}; "
                f"calls started after their agent held the flag: {sum(r['late_starts'] for r in rounds)}"
            )
    print_slots(slot_wait.measure(endpoint, f"http://127.0.0.1:{collector.http_port}"), rtt)
    collector.request_stop()
    thread.join(30)


def print_slots(result: dict, rtt: float) -> None:
    base, handovers, waits = result["uncontended"], result["handovers"], result["waits"]
    print("\nconcurrency slots (RunSlots over gRPC)")
    print(
        f"  baseline: uncontended Acquire + Release p50 {base * 1000:.2f} ms ({base / rtt:.1f}x the Check round trip)"
    )
    h50, h99 = percentile(handovers, 0.5), percentile(handovers, 0.99)
    print(
        f"  hand-over, holder's Release sent -> next run's Acquire returns granted ({len(handovers)} samples): "
        f"p50 {h50 * 1000:.2f} ms ({h50 / base:.1f}x the baseline), p99 {h99 * 1000:.2f} ms"
    )
    w50, w99 = percentile(waits, 0.5), percentile(waits, 0.99)
    print(
        f"  queue wait, {result['clients']} runs looping on {result['slots']} slots, holding {result['hold_ms']} ms "
        f"({len(waits)} acquires): mean {statistics.mean(waits) * 1000:.1f} ms (ideal {result['ideal_wait'] * 1000:.1f} ms), "
        f"p50 {w50 * 1000:.1f} ms, p99 {w99 * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
