"""The web console in a real browser (headless Chromium): every tab against the API's numbers, budget
changes that reach the agents' flags, a block shown live, the key prompt, phone width, the keyboard.

One collector (with API keys) and one browser for the module; each test has its own browser context
(so its own session storage, hence its own key prompt).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from .conftest import RunningCollector, wait_until
from .console_fixtures import CHROMIUM, CHROMIUM_ARGS, KEYS, bearer, export, get, keyed, seed
from .test_budgets import _span_at

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")
__all__ = ["keyed"]  # the module's collector fixture

WIDE, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def seeded(keyed: RunningCollector) -> RunningCollector:
    seed(keyed)
    wait_until(lambda: len(get(keyed, "/api/v1/costs/records", limit=100)) == 29, what="29 records")
    return keyed


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Console:
    """A page of the console in a fresh context, with the console errors it logged."""

    def __init__(self, browser: Any, running: RunningCollector) -> None:
        self.context = browser.new_context(viewport=WIDE)
        # A wait ends as soon as the page is ready; the ceiling only matters on a loaded 2-core
        # machine, where a live update (a 2 s poll, then an evaluation) once took over 10 s.
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.url = running.http_url

    def open(self, role: str = "admin", tab: str = "") -> Any:
        self.page.goto(self.url + "/costs" + (f"?tab={tab}" if tab else ""))
        self.page.fill("#key-input", KEYS[role])
        self.page.click("#key-form button[type=submit]")
        self.page.wait_for_selector("#key-dialog", state="hidden")
        return self.page

    def tab(self, name: str) -> Any:
        self.page.click(f"#tab-{name}")
        return self.page.locator(f"#{name}")

    def values(self, selector: str) -> list[str]:
        return [
            str(v) for v in self.page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.value)")
        ]

    def overflows(self) -> bool:
        return bool(self.page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


@pytest.fixture
def console(browser: Any, seeded: RunningCollector) -> Iterator[Console]:
    opened = Console(browser, seeded)
    yield opened
    opened.context.close()


def today_utc() -> str:
    return datetime.now(UTC).date().isoformat()


def next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _money(value: str) -> str:
    amount = Decimal(value)
    return f"${amount:,.2f}" if abs(amount) >= 1 or not amount else f"${amount:,.4f}"


def test_key_prompt_and_overview_numbers(console: Console, seeded: RunningCollector) -> None:
    page = console.page
    page.goto(console.url + "/")  # redirects to /costs
    page.wait_for_selector("#key-dialog[open]")
    page.fill("#key-input", "not-a-key")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#key-error:has-text('not one of the collector')")
    console.errors.clear()  # the refused key's 401, on purpose
    page.fill("#key-input", KEYS["admin"])
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("[data-testid=card-total] [data-value]")
    summary = get(seeded, "/api/v1/costs/summary", period="month")["totals"]
    assert console.values("[data-testid=card-total] [data-value]") == [summary["total_cost"]]
    assert page.inner_text("[data-testid=card-total] .value") == _money(summary["total_cost"])
    tokens = summary["input_tokens"] + summary["output_tokens"]
    assert console.values("[data-testid=card-tokens] .value [data-value]") == [str(tokens)]
    today = get(seeded, "/api/v1/costs/summary", period="day")["totals"]["total_cost"]
    assert console.values("[data-testid=card-today] [data-value]") == [today]
    assert "no budget" in page.inner_text("[data-testid=card-budget]")
    daily = get(seeded, "/api/v1/usage/daily", period="month")["days"]
    bars = page.eval_on_selector_all(
        "[data-testid=daily-chart] rect.day", "els => els.map(e => [e.dataset.day, e.dataset.value])"
    )
    assert {day: value for day, value in bars if value != "0"} == {d["day"]: d["total_cost"] for d in daily}
    assert bars[-1][0] == daily[-1]["day"]  # up to today, days without spend as 0
    for dimension in ("agent", "model", "provider", "project"):  # project: one of the scopes the routes list
        rows = get(seeded, f"/api/v1/usage/by-{dimension}", period="month")[dimension + "s"]
        shown = page.eval_on_selector_all(
            f"[data-testid=by-{dimension}] li[data-name]",
            "els => els.map(e => [e.dataset.name, e.querySelector('.cost').dataset.value])",
        )
        assert shown == [[r[dimension], r["total_cost"]] for r in rows], dimension
    page.select_option("#period", "custom")
    day = today_utc()  # the seeded calls are today's: a range of today alone has them all
    page.fill("#period-start", day)
    page.dispatch_event("#period-start", "change")
    page.fill("#period-end", day)
    page.dispatch_event("#period-end", "change")
    ranged = get(seeded, "/api/v1/costs/summary", start=f"{day}T00:00:00Z", end=f"{next_day(day)}T00:00:00Z")
    page.wait_for_function(
        "document.querySelector('[data-testid=card-total] [data-value]').dataset.value"
        f" === {ranged['totals']['total_cost']!r}"
    )
    page.select_option("#period", "day")
    page.wait_for_function(
        f"document.querySelector('[data-testid=card-total] [data-value]').dataset.value === {today!r}"
    )
    assert not console.overflows()
    page.set_viewport_size(PHONE)
    assert not console.overflows()
    # Keyboard: the tabs are reachable and move with the arrow keys.
    page.focus("#tab-overview")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#records [data-testid=record]")
    assert page.get_attribute("#tab-records", "aria-selected") == "true"
    assert page.evaluate("document.activeElement.id") == "tab-records"
    assert not console.overflows()
    assert console.errors == []


def test_records_filter_and_load_more(console: Console, seeded: RunningCollector) -> None:
    page = console.open(tab="records")
    page.wait_for_selector("[data-testid=record]")
    api = get(seeded, "/api/v1/costs/records", limit=20)
    cards = page.locator("[data-testid=record]")
    assert cards.count() == 20
    assert [c.get_attribute("data-span") for c in cards.all()] == [r["span_id"] for r in api]
    first = cards.first.inner_text()
    assert all(part in first for part in (api[0]["task"], api[0]["agent"], "openai", "1,000 in / 200 out"))
    assert "ago" in first
    page.click("[data-testid=load-more]")
    page.wait_for_function("document.querySelectorAll('[data-testid=record]').length === 29")
    assert page.is_hidden("[data-testid=load-more]")
    page.fill("#records input[name=agent]", "tester")
    page.click("#records button[type=submit]")
    page.wait_for_function("document.querySelectorAll('[data-testid=record]').length === 3")
    tester = get(seeded, "/api/v1/costs/records", agent="tester")
    assert console.values("[data-testid=record] .cost") == [r["total_cost"] for r in tester]
    page.set_viewport_size(PHONE)
    assert not console.overflows()
    assert console.errors == []


def _flags(running: RunningCollector) -> list[dict[str, Any]]:
    return list(get(running, "/v1/flags")["flags"])


def test_budgets_from_the_page_reach_the_agents(console: Console, seeded: RunningCollector) -> None:
    page = console.open(tab="budgets")
    page.click("[data-testid=create-budget]")
    page.select_option("#modal select[name=scope_type]", "project")
    page.fill("#modal input[name=scope_id]", "shop")
    page.fill("#modal input[name=name]", "shop daily")
    page.fill("#modal input[name=limit]", "0.01")
    page.select_option("#modal select[name=period]", "day")
    page.fill("#modal input[name=alert]", "70")
    page.click("#modal button[type=submit]")
    page.wait_for_selector("#modal", state="hidden")
    budget = next(b for b in get(seeded, "/api/v1/costs/budgets") if b["name"] == "shop daily")
    assert (budget["scope_id"], budget["limit"], budget["period"], budget["hard"]) == (
        "shop",
        "0.01",
        "day",
        True,
    )
    assert budget["thresholds"] == [70, 100]
    blocked = lambda: any(f["budget_id"] == budget["id"] and f["state"] == "block" for f in _flags(seeded))  # noqa: E731
    wait_until(blocked, what="the new budget's block flag")
    card = page.locator(f"[data-budget='{budget['id']}']")
    card.locator("[data-testid=state]:has-text('block')").wait_for()
    status = get(seeded, "/api/v1/costs/budgets/status", scope_type="project", scope_id="shop")["scopes"]
    spend = next(s for s in status if s["budget_id"] == budget["id"])["spend"]
    assert spend in [v for v in console.values(f"[data-budget='{budget['id']}'] [data-value]")]
    page.wait_for_selector(f"[data-testid=block][data-budget='{budget['id']}']")  # the live banner
    card.locator("button:has-text('Pause')").click()
    wait_until(lambda: not blocked(), what="the paused budget's flag to lift")
    card.locator("[data-testid=state]:has-text('paused')").wait_for()
    card.locator("button:has-text('Resume')").click()
    wait_until(blocked, what="the block again")
    card.locator("button:has-text('Override')").click()
    page.fill("#modal input[name=minutes]", "30")
    page.click("#modal button[type=submit]")
    wait_until(lambda: not blocked(), what="the override to lift the block")
    assert get(seeded, f"/api/v1/costs/budgets/{budget['id']}")["unblocked_until"]
    card.locator("button:has-text('Edit')").click()
    assert page.input_value("#modal input[name=limit]") == "0.01"
    page.fill("#modal input[name=limit]", "250")
    page.click("#modal button[type=submit]")
    wait_until(
        lambda: get(seeded, f"/api/v1/costs/budgets/{budget['id']}")["limit"] == "250", what="the edit"
    )
    card.locator("[data-testid=state]:has-text('ok')").wait_for()
    assert get(seeded, f"/api/v1/costs/budgets/{budget['id']}")["thresholds"] == [70, 100]  # kept
    card.locator("[data-testid=delete]").click()
    card.locator("[data-testid=delete]:has-text('Confirm')").click()
    page.wait_for_selector(f"[data-budget='{budget['id']}']", state="detached")
    assert budget["id"] not in [b["id"] for b in get(seeded, "/api/v1/costs/budgets")]
    # The per-agent table pauses an agent: its agents are told at once.
    row = page.locator("[data-testid=agents] tr[data-agent=tester]")
    row.locator("button:has-text('Pause')").click()
    paused = lambda: any(f["scope_id"] == "tester" and f["metric"] == "pause" for f in _flags(seeded))  # noqa: E731
    wait_until(paused, what="the agent's pause flag")
    row.locator("[data-testid=agent-state]:has-text('paused')").wait_for()
    row.locator("button:has-text('Unpause')").click()
    wait_until(lambda: not paused(), what="the unpause")
    assert not console.overflows()
    assert console.errors == []


def test_a_block_shows_up_live(console: Console, seeded: RunningCollector) -> None:
    page = console.open()
    page.wait_for_selector("[data-testid=card-total] [data-value]")
    spent = Decimal(
        get(seeded, "/api/v1/costs/summary", scope_type="project", scope_id="blog")["totals"]["total_cost"]
    )
    body = {
        "id": "blog-live",
        "scope_type": "project",
        "scope_id": "blog",
        "limit": str(spent * 2),
        "period": "day",
        "grace_percent": 0,
    }
    created = httpx.post(seeded.http_url + "/api/v1/costs/budgets", json=body, headers=bearer("admin"))
    assert created.status_code == 200, created.text
    assert page.locator("[data-testid=block]").count() == 0
    writer = {"spendgate.project": "blog", "spendgate.agent": "writer"}
    more = [
        _span_at(_now() - timedelta(seconds=i), model="claude-sonnet-4-5", provider="anthropic", **writer)
        for i in range(2)
    ]
    export(seeded, more)
    page.wait_for_selector("[data-testid=block][data-budget=blog-live]")  # no reload
    assert "project blog" in page.inner_text("#live")
    httpx.delete(seeded.http_url + "/api/v1/costs/budgets/blog-live", headers=bearer("admin"))
    page.wait_for_selector("[data-testid=block][data-budget=blog-live]", state="detached")
    assert console.errors == []


def _now() -> datetime:
    return datetime.now(UTC)


def test_forecast_and_insights(console: Console, seeded: RunningCollector) -> None:
    page = console.open(tab="forecast")
    page.wait_for_selector("[data-testid=forecast-low] [data-value]")
    body = {
        "pending_task_count": 10,
        "provider": "openai",
        "model": "gpt-4o",
        "safety_buffer_multiplier": "1.2",
    }
    expected = httpx.post(
        seeded.http_url + "/api/v1/costs/forecast", json=body, headers=bearer("read")
    ).json()
    for level in ("low", "mid", "high"):
        assert console.values(f"[data-testid=forecast-{level}] [data-value]") == [
            expected[f"estimated_cost_{level}"]
        ]
    assert "× 1.2" in page.inner_text("[data-testid=assumptions]")
    page.fill("#forecast input[name=pending_task_count]", "40")
    page.fill("#forecast input[name=safety_buffer_multiplier]", "1.5")
    page.click("[data-testid=recalculate]")
    custom = httpx.post(
        seeded.http_url + "/api/v1/costs/forecast",
        headers=bearer("read"),
        json=body | {"pending_task_count": 40, "safety_buffer_multiplier": "1.5"},
    ).json()
    page.wait_for_function(
        "document.querySelector('[data-testid=forecast-high] [data-value]').dataset.value"
        f" === {custom['estimated_cost_high']!r}"
    )
    assert "× 1.5" in page.inner_text("[data-testid=assumptions]")
    insights = console.tab("insights")
    found = get(seeded, "/api/v1/costs/insights")["insights"]
    assert any(i["kind"] == "cheaper_model" and i["agent"] == "coder" for i in found)
    insights.locator("[data-testid=insight]").first.wait_for()
    assert [c.get_attribute("data-insight") for c in insights.locator("[data-testid=insight]").all()] == [
        i["id"] for i in found
    ]
    first = found[0]["id"]
    insights.locator(f"[data-insight='{first}'] button:has-text('Dismiss')").click()
    page.wait_for_selector(f"#insights [data-testid=insights] [data-insight='{first}']", state="detached")
    assert [d["insight_id"] for d in get(seeded, "/api/v1/costs/insights/dismissals")["dismissals"]] == [
        first
    ]
    page.reload()  # stored, not only hidden in the page
    page.wait_for_selector("[data-testid=show-dismissed]")
    assert page.locator(f"[data-testid=insights] [data-insight='{first}']").count() == 0
    page.click("[data-testid=show-dismissed]")
    page.click(f"[data-testid=dismissed] [data-insight='{first}'] button:has-text('Restore')")
    page.wait_for_selector(f"[data-testid=insights] [data-insight='{first}']")
    assert get(seeded, "/api/v1/costs/insights/dismissals")["dismissals"] == []
    page.set_viewport_size(PHONE)
    assert not console.overflows()
    assert console.errors == []


def test_a_read_key_views_and_is_refused_changes(console: Console, seeded: RunningCollector) -> None:
    created = httpx.post(
        seeded.http_url + "/api/v1/costs/budgets",
        headers=bearer("admin"),
        json={"id": "read-only", "scope_type": "agent", "scope_id": "writer", "limit": "100"},
    )
    assert created.status_code == 200, created.text
    page = console.open(role="read", tab="budgets")
    card = page.locator("[data-budget=read-only]")
    card.wait_for()
    card.locator("button:has-text('Pause')").click()
    page.wait_for_selector("[data-testid=notice]:has-text('admin role')")
    assert get(seeded, "/api/v1/costs/budgets/read-only")["active"] is True
    page.set_viewport_size(PHONE)  # the budgets and the agents' table fit a phone too
    assert not console.overflows()
    assert [e for e in console.errors if "403" not in e] == []  # the refusal itself is a 403
    httpx.delete(seeded.http_url + "/api/v1/costs/budgets/read-only", headers=bearer("admin"))
