"""``spendgate demo``: the whole loop on the embedded engine, in under a minute.

A collector on a fresh embedded database, the built-in fake provider, and three
agents using the real openai and anthropic SDKs (instrumented, exporting over
OTLP/gRPC) that work on one project until its budget warns and then blocks
them; then the alerts and the report.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spendgate.collector.cli.budgets import show_alerts
from spendgate.collector.cli.client import Client
from spendgate.collector.cli.money import usd
from spendgate.collector.cli.report import show_report

if TYPE_CHECKING:
    from spendgate.collector.app import Collector
    from spendgate.instrumentation.fake_provider import FakeProvider

    from spendgate.flag import Flag

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
          grace_percent: 0, warn_percent: 50}}
service: {{telemetry: {{logs: {{level: error}}}}}}
"""


def _say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')}  {message}", flush=True)


@dataclass
class _Outcome:
    """What one agent did: its calls that reached the provider, and why it stopped if a budget did."""

    calls: int = 0
    blocked: str | None = None


def _agent(name: str, kind: str, sdk: str, model: str, fake: FakeProvider, outcome: _Outcome) -> None:
    import anthropic
    import openai
    from spendgate.instrumentation import BudgetExceeded, scope

    messages = [{"role": "user", "content": f"{name}: next step for the {DEMO_PROJECT} ticket, please."}]
    with scope(project=DEMO_PROJECT, ticket="CHK-101", agent=name, agent_type=kind, run=f"{name}-1"):
        if sdk == "openai":
            client: Any = openai.OpenAI(base_url=fake.url("openai"), api_key="demo", max_retries=0)
        else:
            client = anthropic.Anthropic(base_url=fake.url("anthropic"), api_key="demo", max_retries=0)
        while outcome.calls < 200:
            try:
                if sdk == "openai":
                    client.chat.completions.create(model=model, messages=messages, max_tokens=400)
                else:
                    client.messages.create(model=model, messages=messages, max_tokens=400)
            except BudgetExceeded as exc:
                _say(f"[{name}] blocked before calling {model}: {exc}")
                outcome.blocked = str(exc)
                return
            outcome.calls += 1
            if outcome.calls % 3 == 0:
                _say(f"[{name}] {outcome.calls} calls to {model}")
            # An agent thinks between calls; slow enough that the warning (from half the budget) is
            # seen by an evaluation (every second) well before the block.
            time.sleep(0.5)


def _warned(flag: Flag) -> None:
    _say(f"warning reached the agents: {flag.reason}")


def _run_agents(collector: Collector, workdir: Path) -> tuple[list[_Outcome], int]:
    """The agents' outcomes, and how many requests the fake provider saw."""
    from spendgate.instrumentation import configure, enforcement
    from spendgate.instrumentation.budget_guard import BudgetGuard
    from spendgate.instrumentation.fake_provider import FakeProvider
    from spendgate.instrumentation.fake_provider.formats import Usage

    usage = Usage(input_tokens=2400, output_tokens=320, cache_read_tokens=0)
    with FakeProvider(usage=usage) as fake:
        endpoint = f"http://127.0.0.1:{collector.grpc_port}"
        spool = workdir / "spool"
        configure.instrument(
            "demo-agents", endpoint, spool_dir=spool, sdks=["openai", "anthropic"], on_warn=_warned
        )
        guard = enforcement.installed_guard()
        deadline = time.monotonic() + 10
        while isinstance(guard, BudgetGuard) and not guard.table.synced_at and time.monotonic() < deadline:
            time.sleep(0.02)  # the agents start once they hold the flags
        outcomes = [_Outcome() for _ in AGENTS]
        agents = [
            threading.Thread(target=_agent, args=(*agent, fake, outcome), name=agent[0])
            for agent, outcome in zip(AGENTS, outcomes, strict=True)
        ]
        _say("three agents start working: planner (anthropic), coder and tester (openai)")
        for agent in agents:
            agent.start()
        for agent in agents:
            agent.join(90)
        configure.flush()
        configure.uninstrument()
        return outcomes, len(fake.requests)


def _wait_for_spans(collector: Collector, spans: int) -> None:
    """Until the collector stored ``spans`` spans (10 s at most), then evaluate the budgets once more."""
    deadline = time.monotonic() + 10
    while collector.writer is not None and collector.writer.stats["inserted_spans"] < spans:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if collector.budgets is not None and collector.budgets.evaluator is not None:
        collector.budgets.evaluator.run_once()


DEMO_SDKS = "pip install 'spendgate[demo]'  (from a clone: pip install -e '.[demo]')"


def _sdks_missing() -> str | None:
    """What to install when the SDKs the demo's agents use are not there; None when they are."""
    try:
        import anthropic  # noqa: F401
        import openai  # noqa: F401
    except ImportError as exc:
        return f"spendgate demo drives the openai and anthropic SDKs ({exc}): {DEMO_SDKS}"
    return None


def _keep_serving(url: str, minutes: float | None) -> None:
    """Point at the web console; with ``--keep``, serve the demo's data to it for ``minutes``."""
    if minutes is None:
        _say(f"to see it in the web console, run spendgate demo --keep, then open {url}/costs")
        return
    _say(f"web console: {url}/costs  (the demo's data, served for {minutes:g} minutes; Ctrl-C ends)")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the wait, then the collector stops
        time.sleep(minutes * 60)


def run(args: argparse.Namespace) -> int:
    if missing := _sdks_missing():
        print(missing, file=sys.stderr)
        return 2
    os.environ.setdefault("OTEL_BSP_SCHEDULE_DELAY", "100")
    from spendgate.collector.app import Collector
    from spendgate.collector.config import parse_config

    started = time.monotonic()
    # The demo narrates; the collector's own alert log lines would repeat it.
    logging.getLogger("spendgate.collector").setLevel(logging.ERROR)
    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="spendgate-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    _say(f"starting a collector on the embedded engine in {workdir} ...")
    collector = Collector(parse_config(_config(workdir)))
    thread = collector.serve_in_thread()
    api = Client(f"http://127.0.0.1:{collector.http_port}")
    _say(f"collector ready: OTLP/gRPC 127.0.0.1:{collector.grpc_port}, API {api.url}")
    limit = usd(DEMO_LIMIT, exact=True)
    _say(f"budget: project {DEMO_PROJECT} may spend {limit} today (warn at 80 %, block at 100 %)")
    outcomes, provider_requests = _run_agents(collector, workdir)
    made = sum(o.calls for o in outcomes)
    blocked = sum(1 for o in outcomes if o.blocked)
    _say(
        f"{made} calls reached the provider ({provider_requests} requests seen by it); "
        f"{blocked} of {len(AGENTS)} agents were stopped by the budget before sending another"
    )
    _wait_for_spans(collector, made + blocked)
    print()
    show_alerts(api, limit=10)
    print()
    show_report(api, "day")
    print()
    _keep_serving(api.url, args.keep)
    collector.request_stop()
    thread.join(30)
    print()
    _say(f"demo finished in {time.monotonic() - started:.0f} s; data kept in {workdir}")
    return 0 if blocked == len(AGENTS) else 1
