"""Ask the collector for more room in a budget that blocks, and follow the decision.

    try:
        client.chat.completions.create(...)
    except sgi.BudgetExceeded as exc:
        ticket = sgi.request_override(exc.budget_id, "5.00", "finish the migration", scope_id=exc.scope_id)
        if sgi.wait_for_decision(ticket.id, timeout=600).status == "approved":
            ...  # the block is lifted: the flag is gone from the next snapshot

Over the collector's HTTP API (``api_url``, default ``$SPENDGATE_URL`` or http://localhost:4318, the
OTLP/HTTP port); the API key is ``api_key``, ``$SPENDGATE_API_KEY`` or the agent's own OTLP key
(``OTEL_EXPORTER_OTLP_HEADERS``): an ingest key may ask for overrides and read them.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opentelemetry.util.re import parse_env_headers

DEFAULT_API_URL = "http://localhost:4318"


class OverrideError(Exception):
    """The collector refused the request or could not be reached."""


@dataclass(frozen=True)
class OverrideTicket:
    id: str
    status: str  # pending, approved, denied
    budget_id: str
    scope_id: str
    amount: Decimal
    granted: Decimal | None  # approved: the extra room for the budget's current period
    note: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> OverrideTicket:
        granted = body.get("granted")
        return cls(
            str(body["id"]),
            str(body["status"]),
            str(body["budget_id"]),
            str(body["scope_id"]),
            Decimal(str(body["amount"])),
            None if granted is None else Decimal(str(granted)),
            str(body.get("note") or ""),
        )


def _authorization(api_key: str | None) -> str | None:
    key = api_key or os.environ.get("SPENDGATE_API_KEY")
    if key:
        return f"Bearer {key}"
    headers = dict(parse_env_headers(os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", ""), liberal=True))
    return headers.get("authorization")


def _call(
    method: str, path: str, body: dict[str, Any] | None, api_url: str | None, api_key: str | None
) -> Any:
    url = (api_url or os.environ.get("SPENDGATE_URL") or DEFAULT_API_URL).rstrip("/") + path
    headers = {"content-type": "application/json"}
    if authorization := _authorization(api_key):
        headers["authorization"] = authorization
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail", exc.reason)
        except ValueError:
            detail = exc.reason
        raise OverrideError(f"{method} {path}: {exc.code} {detail}") from None
    except OSError as exc:
        raise OverrideError(f"cannot reach the collector at {url}: {exc}") from None


def request_override(
    budget_id: str,
    amount: Decimal | str | int,
    reason: str,
    *,
    scope_id: str | None = None,
    requested_by: str | None = None,
    api_url: str | None = None,
    api_key: str | None = None,
) -> OverrideTicket:
    """Ask for ``amount`` more (USD, or tokens for a token budget) in the budget's current period;
    ``scope_id`` names the scope of a default (``*``) budget (``BudgetExceeded.scope_id``)."""
    body: dict[str, Any] = {"amount": str(amount), "reason": reason}
    if scope_id:
        body["scope_id"] = scope_id
    if requested_by:
        body["requested_by"] = requested_by
    path = f"/api/v1/costs/budgets/{budget_id}/override-requests"
    return OverrideTicket.of(_call("POST", path, body, api_url, api_key))


def override_status(
    request_id: str, *, api_url: str | None = None, api_key: str | None = None
) -> OverrideTicket:
    path = f"/api/v1/costs/override-requests/{request_id}"
    return OverrideTicket.of(_call("GET", path, None, api_url, api_key))


def wait_for_decision(
    request_id: str,
    timeout: float = 300.0,
    *,
    poll: float = 1.0,
    api_url: str | None = None,
    api_key: str | None = None,
) -> OverrideTicket:
    """The request once approved or denied, or as it is (pending) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        ticket = override_status(request_id, api_url=api_url, api_key=api_key)
        if ticket.status != "pending" or time.monotonic() >= deadline:
            return ticket
        time.sleep(min(poll, max(deadline - time.monotonic(), 0)))
