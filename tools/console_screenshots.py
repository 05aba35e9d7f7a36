"""Screenshots of the web console's tabs for the README: docs/console/*.png.

Starts a collector on a fresh embedded database, sends it two weeks of calls of a few agents over
OTLP (as instrumented agents would), adds budgets and a pause through the API, and photographs each
tab in headless Chromium (Debian's ``chromium``, driven by Playwright) at 1280x800, and the overview
at phone width.

    python tools/console_screenshots.py [--out docs/console]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spendgate.collector.app import Collector
from spendgate.collector.config import parse_config

REPO = Path(__file__).resolve().parent.parent
TABS = {  # each tab, and what shows it has drawn its data
    "overview": "[data-testid=daily-chart]",
    "records": "[data-testid=record]",
    "budgets": "[data-testid=budget]",
    "forecast": "[data-testid=forecast-low]",
    "insights": "[data-testid=insight]",
}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
AGENTS = (  # agent, agent type, provider, model, input and output tokens per call
    ("planner", "planning", "anthropic", "claude-sonnet-4-5", 6000, 900),
    ("coder", "coding", "openai", "gpt-4o", 1500, 300),
    ("tester", "testing", "openai", "gpt-4o-mini", 3000, 400),
    ("reviewer", "review", "anthropic", "claude-3-5-haiku-latest", 4000, 600),
)
PROJECTS = {"checkout-revamp": ("CHK-101", "CHK-102"), "search": ("SRCH-7",)}


def _config(workdir: Path) -> str:
    return f"""
receivers: {{otlp: {{protocols: {{grpc: {{endpoint: "127.0.0.1:0"}}, http: {{endpoint: "127.0.0.1:0"}}}}}}}}
processors: {{batch: {{workers: 0, timeout: 50ms}}}}
exporters: {{clickhouse: {{endpoint: "chdb://{workdir / "data"}"}}}}
extensions: {{budgets: {{evaluate_every: 1s, defaults: []}}}}
service: {{telemetry: {{logs: {{level: error}}}}}}
"""


def _spans(now: datetime) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "agents"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("screenshots")
    rng = random.Random(15)
    for back in range(14):
        for run in range(rng.randint(2, 5)):
            project = rng.choice(list(PROJECTS))
            ticket = rng.choice(PROJECTS[project])
            for agent, kind, vendor, model, tokens_in, tokens_out in AGENTS:
                moment = now - timedelta(days=back, minutes=rng.randint(1, 600))
                start = int(moment.timestamp() * 1e9)
                span = tracer.start_span(f"chat {model}", start_time=start)
                span.set_attributes({
                    "gen_ai.operation.name": "chat", "gen_ai.provider.name": vendor,
                    "gen_ai.request.model": model,
                    "gen_ai.usage.input_tokens": int(tokens_in * rng.uniform(0.5, 1.5)),
                    "gen_ai.usage.output_tokens": int(tokens_out * rng.uniform(0.5, 1.5)),
                    "spendgate.project": project, "spendgate.ticket": ticket, "spendgate.agent": agent,
                    "spendgate.agent_type": kind, "spendgate.task": f"{ticket}-{run}",
                    "spendgate.phase": rng.choice(("plan", "build", "test")),
                    "spendgate.run": f"{agent}-{back}-{run}",
                })  # fmt: skip
                span.end(end_time=start + 2_000_000_000)
    provider.shutdown()
    return list(memory.get_finished_spans())


def _set_up(url: str) -> None:
    """Budgets in several states and a paused agent, through the API the console uses."""
    month = httpx.get(url + "/api/v1/costs/summary", params={"period": "month"}).json()["totals"][
        "total_cost"
    ]
    budgets: list[dict[str, Any]] = [
        {"id": "monthly", "name": "all agents, monthly", "scope_type": "global",
         "limit": f"{float(month) * 1.6:.2f}"},
        {"id": "checkout", "name": "checkout-revamp", "scope_type": "project", "scope_id": "checkout-revamp",
         "limit": "0.9", "period": "week", "thresholds": [80, 100]},
        {"id": "planner-day", "name": "planner per day", "scope_type": "agent", "scope_id": "planner",
         "limit": "0.05", "period": "day", "grace_percent": 0},
    ]  # fmt: skip
    for body in budgets:
        httpx.post(url + "/api/v1/costs/budgets", json=body).raise_for_status()
    httpx.post(url + "/api/v1/scopes/agent/reviewer/pause", json={"reason": "looping on SRCH-7"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "console")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        parser.error("needs Debian's chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="spendgate-screens-"))
    collector = Collector(parse_config(_config(workdir)))
    thread = collector.serve_in_thread()
    url = f"http://127.0.0.1:{collector.http_port}"
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{collector.grpc_port}", insecure=True)
    spans = _spans(datetime.now(UTC))
    assert exporter.export(spans).name == "SUCCESS"
    _set_up(url)
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url + "/costs")
        page.wait_for_timeout(2500)  # the evaluator's first rounds: budget states and alerts
        page.select_option("#period", "30d")  # all of the two weeks sent
        page.wait_for_selector(f"[data-testid=card-total]:has-text('{len(spans)} calls')")
        for tab, drawn in TABS.items():
            page.click(f"#tab-{tab}")
            page.wait_for_selector(f"#{tab} {drawn}")
            page.screenshot(path=str(args.out / f"{tab}.png"), full_page=True)
        page.click("#tab-overview")
        page.wait_for_selector("#overview [data-testid=daily-chart]")
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(args.out / "overview-phone.png"))
        browser.close()
    collector.request_stop()
    thread.join(30)
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
