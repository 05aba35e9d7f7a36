"""`spendgate demo` runs the whole loop from a fresh directory in under a minute."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_warns_blocks_every_agent_and_reports(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "spendgate", "demo", "--dir", str(tmp_path / "demo")],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    elapsed = time.monotonic() - started
    out = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
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
    assert "(none)" not in out  # each call counted once: the SDK's own spans are not counted again
