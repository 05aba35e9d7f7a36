"""Agent-side instrumentation: meter every LLM SDK call as an OpenTelemetry span.

import spendgate.instrumentation as sgi
sgi.instrument(service_name="triage-agent", endpoint="http://collector:4317")
with sgi.scope(project="checkout", ticket="PAY-123", agent="triage"):
    client.chat.completions.create(...)
"""

from __future__ import annotations

from .attribution import DIMENSIONS, current_attribution, scope
from .configure import flush, instrument, make_tracer_provider, uninstrument
from .enforcement import BudgetExceeded, ScopePaused
from .overrides import OverrideError, OverrideTicket, override_status, request_override, wait_for_decision
from .runs import RunQueueTimeout, run

__all__ = [
    "DIMENSIONS",
    "BudgetExceeded",
    "ScopePaused",
    "OverrideError",
    "OverrideTicket",
    "current_attribution",
    "flush",
    "instrument",
    "make_tracer_provider",
    "run",
    "RunQueueTimeout",
    "override_status",
    "request_override",
    "scope",
    "uninstrument",
    "wait_for_decision",
]
