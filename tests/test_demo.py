"""`spendgate demo` runs the whole loop from a fresh directory in under a minute."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def _until_console(demo: subprocess.Popen[str]) -> tuple[str, str]:
    """The demo's output up to the line that points at the web console, and the console's URL."""
    assert demo.stdout is not None
    out = ""
    for line in demo.stdout:
        out += line
        if "web console: " in line:
            return out, line.split("web console: ")[1].split()[0]
    raise AssertionError(f"the demo ended without pointing at the web console:\n{out[-2000:]}")


def test_demo_warns_blocks_every_agent_and_reports(tmp_path: Path) -> None:
    started = time.monotonic()
    demo = subprocess.Popen([sys.executable, "-m", "spendgate", "demo", "--dir", str(tmp_path / "demo"), "--keep", "5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)  # fmt: skip
    try:
        out, console = _until_console(demo)
        elapsed = time.monotonic() - started
        # --keep: the demo's data is still served, to the console's page and its API.
        assert console.endswith("/costs") and "<title>spendgate" in httpx.get(console, timeout=10).text
        today = httpx.get(console.removesuffix("/costs") + "/api/v1/costs/summary?period=day", timeout=10)
        assert today.json()["totals"]["calls"] > 0
        demo.send_signal(signal.SIGINT)  # ends the wait early, as Ctrl-C does
        rest, errors = demo.communicate(timeout=60)
    finally:
        demo.kill()
    assert demo.returncode == 0, errors[-2000:]
    assert elapsed < 60
    warned = out.index("warning reached the agents")
    blocked = [out.index(f"[{agent}] blocked before calling") for agent in ("planner", "coder", "tester")]
    assert warned < min(blocked)  # the warning came first, then the hard limit
    assert "3 of 3 agents were stopped by the budget before sending another" in out
    reached, seen = (
        out.split(" calls reached the provider (")[0].split()[-1],
        out.split(" requests seen by it")[0].split("(")[-1],
    )
    assert reached == seen  # blocked calls never reached the provider
    assert "100% of the project checkout-revamp day budget demo-project used" in out  # the alert list
    assert "Usage & Costs" in out and "Cost by agent" in out and "claude-sonnet-4-5" in out
    assert "(no agent)" not in out  # each call counted once: the SDK's own spans are not counted again
