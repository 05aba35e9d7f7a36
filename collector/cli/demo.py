"""``spendgate demo``: the whole loop on the embedded engine, in under a minute.

A collector on a fresh embedded database, the built-in fake provider, and three
agents using the real openai and anthropic SDKs (instrumented, exporting over
OTLP/gRPC) that work on one project until its budget warns and then blocks
them; then the alerts and the report.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

DEMO_PROJECT = "checkout-revamp"
DEMO_LIMIT = Decimal("0.15")
AGENTS = (  # name, agent type, SDK, model
    ("planner", "planning", "anthropic", "claude-sonnet-4-5"),
    ("coder", "coding", "openai", "gpt-4o"),
    ("tester", "testing", "openai", "gpt-4o-mini"),
)


def _config(workdir: Path) -> str:
    return f"""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:0"}}
      http: {{endpoint: "127.0.0.1:0"}}
processors:
  batch: {{workers: 0, timeout: 50ms}}
exporters:
  clickhouse: {{endpoint: "chdb://{workdir / "data"}"}}
extensions:
  budgets:
    evaluate_every: 1s
    defaults:
      - {{id: demo-project, scope_type: project, scope_id: {DEMO_PROJECT}, limit: {DEMO_LIMIT}, period: day,
          grace_percent: 0}}
service: {{telemetry: {{logs: {{level: error}}}}}}
"""


def _say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')}  {message}", flush=True)


def _agent(name: str, kind: str, sdk: str, model: str, fake: Any, results: dict[str, Any]) -> None:
    import anthropic
    import openai

    import spendgate

    messages = [{"role": "user", "content": f"{name}: next step for the {DEMO_PROJECT} ticket, please."}]
    calls = 0
    with spendgate.scope(
        project=DEMO_PROJECT, ticket="CHK-101", agent=name, agent_type=kind, run=f"{name}-1"
    ):
        if sdk == "openai":
            client: Any = openai.OpenAI(base_url=fake.url("openai"), api_key="demo", max_retries=0)
        else:
            client = anthropic.Anthropic(base_url=fake.url("anthropic"), api_key="demo", max_retries=0)
        while calls < 200:
            try:
                if sdk == "openai":
                    client.chat.completions.create(model=model, messages=messages, max_tokens=400)
                else:
                    client.messages.create(model=model, messages=messages, max_tokens=400)
            except spendgate.BudgetExceeded as exc:
                _say(f"[{name}] blocked before calling {model}: {exc}")
                results[name] = {"calls": calls, "blocked": str(exc)}
                return
            calls += 1
            if calls % 3 == 0:
                _say(f"[{name}] {calls} calls to {model}")
            time.sleep(0.3)  # an agent thinks between calls
    results[name] = {"calls": calls, "blocked": None}


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OTEL_BSP_SCHEDULE_DELAY", "100")
    from spendgate.collector.app import Collector
    from spendgate.collector.cli.report import cmd_report
    from spendgate.collector.config import parse_config
    from spendgate.instrumentation import configure
    from spendgate.instrumentation.budget_guard import BudgetGuard
    from spendgate.instrumentation.fake_provider import FakeProvider
    from spendgate.instrumentation.fake_provider.formats import Usage

    started = time.monotonic()
    # The demo narrates; the collector's own alert log lines would repeat it.
    logging.getLogger("spendgate.collector").setLevel(logging.ERROR)
    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="spendgate-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    _say(f"starting a collector on the embedded engine in {workdir} ...")
    collector = Collector(parse_config(_config(workdir)))
    thread = collector.serve_in_thread()
    url = f"http://127.0.0.1:{collector.http_port}"
    _say(f"collector ready: OTLP/gRPC 127.0.0.1:{collector.grpc_port}, API {url}")
    _say(f"budget: project {DEMO_PROJECT} may spend ${DEMO_LIMIT} today (warn at 80 %, block at 100 %)")

    def warned(flag: Any) -> None:
        _say(f"warning reached the agents: {flag.reason}")

    usage = Usage(input_tokens=2400, output_tokens=320, cache_read_tokens=0)
    with FakeProvider(usage=usage) as fake:
        endpoint = f"http://127.0.0.1:{collector.grpc_port}"
        configure.instrument(
            "demo-agents", endpoint, spool_dir=workdir / "spool", sdks=["openai", "anthropic"], on_warn=warned
        )
        guard = configure.enforcement.installed_guard()
        deadline = time.monotonic() + 10
        while isinstance(guard, BudgetGuard) and not guard.table.synced_at and time.monotonic() < deadline:
            time.sleep(0.02)  # the agents start once they hold the flags
        results: dict[str, Any] = {}
        agents = [
            threading.Thread(target=_agent, args=(*agent, fake, results), name=agent[0]) for agent in AGENTS
        ]
        _say("three agents start working: planner (anthropic), coder and tester (openai)")
        for agent in agents:
            agent.start()
        for agent in agents:
            agent.join(90)
        configure.flush()
        configure.uninstrument()
        provider_requests = len(fake.requests)
    made = sum(r["calls"] for r in results.values())
    blocked = sum(1 for r in results.values() if r["blocked"])
    _say(f"{made} calls reached the provider ({provider_requests} requests seen by it); "
         f"{blocked} of {len(AGENTS)} agents were stopped by the budget before sending another")  # fmt: skip
    deadline = time.monotonic() + 10
    while collector.writer is not None and collector.writer.stats["inserted_spans"] < made + blocked:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if collector.budgets is not None and collector.budgets.evaluator is not None:
        collector.budgets.evaluator.run_once()
    report_args = argparse.Namespace(url=url, api_key=None, period="day")
    from spendgate.collector.cli.budgets import cmd_alerts

    print()
    cmd_alerts(argparse.Namespace(url=url, api_key=None, limit=10, json=False))
    print()
    cmd_report(report_args)
    collector.request_stop()
    thread.join(30)
    print()
    _say(f"demo finished in {time.monotonic() - started:.0f} s; data kept in {workdir}")
    return 0 if blocked == len(AGENTS) else 1
