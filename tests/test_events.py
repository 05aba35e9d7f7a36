"""Events against a running collector: CloudEvents webhooks (batches, retries, a restart) and SSE."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.formats.json import JSONFormat
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from spendgate.collector.config import ConfigError, parse_config
from spendgate.collector.event_config import EventsExtension, EventWebhook

from .collector_process import start_collector_process
from .conftest import (
    RunningCollector,
    chat_attributes,
    collector_running,
    collector_yaml,
    free_port,
    make_spans,
    wait_until,
)
from .event_receiver import Receiver

SECRET = "s3cret"
ALL_TYPES = ["cost.recorded", "cost.budget.warning", "cost.budget.exceeded", "budget.created",
             "budget.updated", "budget.deleted", "scope.paused", "scope.unpaused"]  # fmt: skip


def _events_yaml(hooks: list[dict[str, Any]], evaluate_every: str = "200ms") -> str:
    budgets = "{evaluate_every: " + evaluate_every + "}"
    return f"extensions:\n  budgets: {budgets}\n  events:\n    webhooks: {json.dumps(hooks)}\n"


@pytest.fixture(scope="module")
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    good, flaky = Receiver(), Receiver(fail_first=4)
    yield good, flaky
    good.close()
    flaky.close()


@pytest.fixture(scope="module")
def collector(chdb_dsn: str, receivers: tuple[Receiver, Receiver]) -> Iterator[RunningCollector]:
    good, flaky = receivers
    hooks = [
        {"url": good.url, "types": ALL_TYPES, "secret": SECRET, "batch_wait": "20ms"},
        {"url": flaky.url, "name": "flaky", "types": ["cost.recorded", "budget.created"],
         "batch_wait": "20ms", "max_backoff": "100ms"},
    ]  # fmt: skip
    with collector_running(chdb_dsn, _events_yaml(hooks)) as running:
        yield running


def _export(running: RunningCollector, count: int, **attributes: Any) -> list[Any]:
    spans = make_spans([{"attributes": chat_attributes(**attributes)} for _ in range(count)])
    exporter = OTLPSpanExporter(endpoint=running.grpc_endpoint, insecure=True)
    assert exporter.export(spans).name == "SUCCESS"
    return spans


def _create_budget(running: RunningCollector, **fields: Any) -> dict[str, Any]:
    response = requests.post(f"{running.http_url}/api/v1/costs/budgets", json=fields, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _stored_ids(running: RunningCollector, types: list[str]) -> set[str]:
    return {
        row[0] for row in running.rows("SELECT id FROM {db}.events WHERE type IN {t:Array(String)}", t=types)
    }


def test_budget_created_arrives_as_a_signed_cloudevent(
    collector: RunningCollector, receivers: tuple[Receiver, Receiver]
) -> None:
    good, _ = receivers
    budget = _create_budget(collector, scope_type="project", scope_id="ev-created", limit="12.50")
    wait_until(lambda: any(e["data"]["budget_id"] == budget["id"] for e in good.events("budget.created")))
    post = next(p for p in good.posts if p.events[0]["type"] == "budget.created")
    assert post.headers["Content-Type"] == "application/cloudevents+json"
    expected = "sha256=" + hmac.new(SECRET.encode(), post.body, hashlib.sha256).hexdigest()
    assert post.headers["X-Spendgate-Signature"] == expected
    # The CloudEvents SDK reads it as a structured event.
    event = from_http(HTTPMessage(post.headers, post.body), JSONFormat())
    assert event.get_specversion() == "1.0" and event.get_type() == "budget.created"
    assert event.get_source() == "/spendgate/collector" and event.get_id() and event.get_time()
    data = event.get_data()
    assert isinstance(data, dict) and data["budget_id"] == budget["id"]
    assert (data["scope_type"], data["scope_id"], data["limit_amount"]) == ("project", "ev-created", "12.5")


def test_cost_recorded_comes_in_batches_once_per_call(
    collector: RunningCollector, receivers: tuple[Receiver, Receiver]
) -> None:
    good, _ = receivers
    task = "task-" + uuid.uuid4().hex[:8]
    spans = _export(collector, 5, **{"spendgate.task": task, "spendgate.agent": "agent-7"})
    mine = lambda: [e for e in good.events("cost.recorded") if e["data"]["task_id"] == task]  # noqa: E731
    wait_until(lambda: len(mine()) == 5, what="five cost.recorded events")
    batch = next(p for p in good.posts if any(e["data"].get("task_id") == task for e in p.events))
    assert batch.headers["Content-Type"] == "application/cloudevents-batch+json"
    assert isinstance(json.loads(batch.body), list)
    for raw in mine():
        event = JSONFormat().read(None, json.dumps(raw))
        assert event.get_type() == "cost.recorded" and event.get_data() == {
            "task_id": task, "agent_id": "agent-7", "provider": "openai", "model": "gpt-4o",
            "total_cost": "0.0045", "total_tokens": 1200,
        }  # fmt: skip
    assert len({e["id"] for e in mine()}) == 5
    # The exporter sends the same calls again (a retry): stored once, so no new events. A new
    # call after them is the marker that everything sent before has been handled.
    assert OTLPSpanExporter(endpoint=collector.grpc_endpoint, insecure=True).export(spans).name == "SUCCESS"
    _export(collector, 1, **{"spendgate.task": task + "-marker"})
    wait_until(lambda: any(e["data"]["task_id"] == task + "-marker" for e in good.events("cost.recorded")))
    assert len(mine()) == 5


def test_thresholds_crossed_by_real_spans_send_warning_then_exceeded(
    collector: RunningCollector, receivers: tuple[Receiver, Receiver]
) -> None:
    good, _ = receivers
    project = "thr-" + uuid.uuid4().hex[:6]
    budget = _create_budget(collector, scope_type="project", scope_id=project, limit="0.005")
    of_budget = lambda kind: [e for e in good.events(kind) if e["data"]["budget_id"] == budget["id"]]  # noqa: E731
    _export(collector, 1, **{"spendgate.project": project})  # 0.0045 of 0.005: 90 %
    wait_until(lambda: any(e["data"]["threshold_percent"] == 80 for e in of_budget("cost.budget.warning")))
    warning = next(e for e in of_budget("cost.budget.warning") if e["data"]["threshold_percent"] == 80)
    assert warning["data"] | {"budget_id": ""} == {
        "budget_id": "", "scope_type": "project", "scope_id": project, "limit": "0.005",
        "spent": "0.0045", "remaining": "0.0005", "threshold_percent": 80,
    }  # fmt: skip
    assert not of_budget("cost.budget.exceeded")
    _export(collector, 1, **{"spendgate.project": project})  # 0.009: 180 %
    wait_until(lambda: of_budget("cost.budget.exceeded"), what="cost.budget.exceeded")
    exceeded = of_budget("cost.budget.exceeded")[0]["data"]
    assert (exceeded["spent"], exceeded["limit"], exceeded["overage"]) == ("0.009", "0.005", "0.004")


def test_a_failing_receiver_still_gets_every_event(
    collector: RunningCollector, receivers: tuple[Receiver, Receiver]
) -> None:
    _, flaky = receivers
    task = "flaky-" + uuid.uuid4().hex[:6]
    _create_budget(collector, scope_type="task", scope_id=task, limit="3")
    _export(collector, 3, **{"spendgate.task": task})
    _export(collector, 2, **{"spendgate.task": task})
    types = ["cost.recorded", "budget.created"]
    of_task = lambda: [e for e in flaky.events() if e["data"].get("task_id") == task]  # noqa: E731
    wait_until(lambda: len(of_task()) >= 5, timeout=30, what="the five calls at the flaky receiver")
    # Nothing stored was skipped: every event of these types, from every test so far, arrived.
    assert _stored_ids(collector, types) <= {e["id"] for e in flaky.events()}
    assert flaky.refused == 4  # it failed four times and was retried
    received = flaky.events()
    assert {e["type"] for e in received} <= set(types)
    # At least once: a repeat carries the same id and the same content.
    by_id: dict[str, dict[str, Any]] = {}
    for event in received:
        assert by_id.setdefault(event["id"], event) == event
    assert len({e["id"] for e in of_task()}) == 5


class _SseReader:
    """Reads an SSE stream on a thread: the messages so far as (id, event, data)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.messages: list[tuple[str, str, dict[str, Any]]] = []
        self.live = threading.Event()
        self.status = 0
        self._client = httpx.Client(timeout=httpx.Timeout(30.0))
        self._thread = threading.Thread(target=self._read, args=(url, headers or {}), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        fields: dict[str, str] = {}
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.status = response.status_code
                for line in response.iter_lines():
                    if line == ": live":
                        self.live.set()
                    elif line.startswith(("id: ", "event: ", "data: ")):
                        name, _, value = line.partition(": ")
                        fields[name] = value
                    elif line == "" and "data" in fields:
                        self.messages.append((fields["id"], fields["event"], json.loads(fields["data"])))
                        fields = {}
        except httpx.HTTPError:
            pass  # closed by the test

    def close(self) -> None:
        self._client.close()


def test_sse_stream_sends_ids_and_resumes_after_the_last_event_id(collector: RunningCollector) -> None:
    url = f"{collector.http_url}/api/v1/events?types=budget.created,budget.deleted"
    first = _SseReader(url)
    try:
        wait_until(first.live.is_set, what="the stream to go live")
        a = _create_budget(collector, scope_type="project", scope_id="sse-a", limit="1")
        wait_until(lambda: first.messages, what="the first message")
    finally:
        first.close()
    position, kind, event = first.messages[0]
    assert position.isdigit() and kind == "budget.created" and event["data"]["budget_id"] == a["id"]
    # While nobody listens: a budget is created, updated (not asked for) and deleted.
    b = _create_budget(collector, scope_type="project", scope_id="sse-b", limit="1")
    assert requests.put(
        f"{collector.http_url}/api/v1/costs/budgets/{b['id']}", json={"limit": "2"}, timeout=10
    ).ok
    assert requests.delete(f"{collector.http_url}/api/v1/costs/budgets/{b['id']}", timeout=10).ok
    resumed = _SseReader(url, {"Last-Event-ID": position})
    try:
        wait_until(lambda: len(resumed.messages) >= 2, what="the missed events")
        c = _create_budget(collector, scope_type="project", scope_id="sse-c", limit="1")
        wait_until(lambda: len(resumed.messages) >= 3, what="a live event after the replay")
    finally:
        resumed.close()
    kinds = [(kind, event["data"]["budget_id"]) for _, kind, event in resumed.messages]
    assert kinds == [("budget.created", b["id"]), ("budget.deleted", b["id"]), ("budget.created", c["id"])]
    positions = [int(p) for p, _, _ in resumed.messages]
    assert positions == sorted(positions) and positions[0] > int(position)


def test_sse_refuses_unknown_types_and_bad_ids(collector: RunningCollector) -> None:
    url = f"{collector.http_url}/api/v1/events"
    response = requests.get(url, params={"types": "cost.spent"}, timeout=10)
    assert response.status_code == 400 and "unknown event type 'cost.spent'" in response.text
    response = requests.get(url, headers={"Last-Event-ID": "yesterday"}, timeout=10)
    assert response.status_code == 400 and "Last-Event-ID" in response.text


@pytest.mark.parametrize(
    "hook, message",
    [
        ({"url": "ftp://example.com/hook", "types": ["cost.recorded"]}, "url: String should match"),
        ({"url": "http://example.com/hook", "types": ["cost.spent"]}, "unknown event type 'cost.spent'"),
        ({"url": "http://example.com/hook", "types": []}, "types: List should have at least 1 item"),
    ],
)
def test_bad_webhook_config_is_refused_with_the_key(hook: dict[str, Any], message: str) -> None:
    text = collector_yaml("chdb://memory", "x", 1, 2, _events_yaml([hook]))
    with pytest.raises(ConfigError, match=message):
        parse_config(text)


def test_a_collector_with_a_bad_webhook_does_not_start(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    hook = {"url": "http://example.com/hook", "types": ["cost.recorded", "budget.exploded"]}
    config.write_text(
        collector_yaml("chdb://./data", "spendgate", free_port(), free_port(), _events_yaml([hook]))
    )
    done = subprocess.run([sys.executable, "-m", "spendgate.collector", "collector", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "extensions.events.webhooks.0.types" in done.stderr and "'budget.exploded'" in done.stderr


def test_events_not_delivered_before_a_restart_are_delivered_after_it(tmp_path: Path) -> None:
    receiver = Receiver(fail_first=10**9)  # down until the collector has stopped
    hook = {"url": receiver.url, "types": ["budget.created"], "batch_wait": "20ms", "max_backoff": "200ms"}
    config, log = tmp_path / "otel-config.yaml", tmp_path / "collector.log"
    http_port = free_port()
    config.write_text(
        collector_yaml("chdb://./data", "spendgate", free_port(), http_port, _events_yaml([hook]))
    )
    process = start_collector_process(config, log)
    try:
        ids = []
        for n in range(3):
            response = requests.post(f"http://127.0.0.1:{http_port}/api/v1/costs/budgets",
                                     json={"scope_type": "project", "scope_id": f"r{n}", "limit": "1"}, timeout=10)  # fmt: skip
            ids.append(response.json()["id"])
        wait_until(lambda: receiver.refused >= 2, timeout=20, what="failed deliveries")
        stream = _SseReader(f"http://127.0.0.1:{http_port}/api/v1/events")
        wait_until(stream.live.is_set, what="an open SSE stream")
    finally:
        process.terminate()
        assert process.wait(30) == 0  # an open stream does not hold the shutdown up
    stream.close()
    receiver.fail_first = 0
    process = start_collector_process(config, log)
    try:
        wait_until(lambda: {e["data"]["budget_id"] for e in receiver.events()} >= set(ids), timeout=30,
                   what="the events held over the restart")  # fmt: skip
    finally:
        process.terminate()
        process.wait(30)
        receiver.close()
    assert [e["data"]["budget_id"] for e in receiver.events()][:3] == ids  # in order


def test_posts_keep_the_order_and_batch_runs_of_batched_types() -> None:
    from datetime import UTC, datetime

    from spendgate.collector.events.record import Event
    from spendgate.collector.events.webhooks import posts

    webhook = EventWebhook(url="http://x.example/hook", types=ALL_TYPES, max_batch=2)
    kinds = ["cost.recorded"] * 3 + ["budget.created"] + ["cost.recorded"] * 2 + ["budget.deleted"]
    now = datetime.now(UTC)
    events = [Event(str(n), kind, now, {}, position=n + 1) for n, kind in enumerate(kinds)]
    grouped = [[int(e.id) for e in post] for post in posts(webhook, events)]
    assert grouped == [[0, 1], [2], [3], [4, 5], [6]]


def test_cost_events_are_made_column_by_column_with_exact_json() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    import pyarrow as pa
    from spendgate.collector.events.costs import cost_recorded

    keys = [bytes(range(24)), bytes(range(24, 48)), bytes(range(48, 72))]
    block = pa.table({
        "call_key": pa.array(keys, pa.binary(24)),
        "end_time": pa.array([datetime(2026, 12, 1, 12, tzinfo=UTC)] * 3, pa.timestamp("us", tz="UTC")),
        "operation": ["chat", "chat", "chat"], "task": ["t-1", 'say "hi"\\\n', ""], "agent": ["a", "b", "ü"], "provider": ["openai"] * 3,
        "response_model": ["gpt-4o-2024-08-06", "", ""], "request_model": ["gpt-4o", "o1", "llama3"],
        "total_cost": pa.array([Decimal("0.0045"), Decimal(0), Decimal(100)], pa.decimal128(38, 18)),
        "input_tokens": pa.array([1000, 5, 0], pa.uint64()), "output_tokens": pa.array([200, 0, 7], pa.uint64()),
    })  # fmt: skip
    rows = cost_recorded(block.slice(0)).to_pylist()
    assert [row["id"] for row in rows] == ["call-" + key.hex() for key in keys]
    assert {row["type"] for row in rows} == {"cost.recorded"}
    assert [json.loads(row["data"]) for row in rows] == [
        {"task_id": "t-1", "agent_id": "a", "provider": "openai", "model": "gpt-4o-2024-08-06", "total_cost": "0.0045", "total_tokens": 1200},
        {"task_id": 'say "hi"\\\n', "agent_id": "b", "provider": "openai", "model": "o1", "total_cost": "0", "total_tokens": 5},
        {"task_id": "", "agent_id": "ü", "provider": "openai", "model": "llama3", "total_cost": "100", "total_tokens": 7},
    ]  # fmt: skip
    assert cost_recorded(block.slice(1, 1)).column("id").to_pylist() == ["call-" + keys[1].hex()]
    fixed = block.set_column(
        block.schema.get_field_index("operation"), "operation", pa.array(["infrastructure"] * 3)
    )
    assert cost_recorded(fixed).num_rows == 0  # a local model's daily fixed cost is not a call


def test_calls_stored_without_their_event_get_it_at_the_next_start(chdb_dsn: str) -> None:
    from spendgate.collector.app import Collector

    from .conftest import stop_collector

    database = "t_" + uuid.uuid4().hex[:10]

    def start() -> tuple[RunningCollector, threading.Thread]:
        events = "extensions:\n  events:\n    types: [cost.recorded]\n"
        collector = Collector(
            parse_config(collector_yaml(chdb_dsn, database, free_port(), free_port(), events))
        )
        thread = collector.serve_in_thread()
        return RunningCollector(collector, chdb_dsn, database), thread

    def ids() -> list[str]:
        return [
            r[0] for r in running.rows("SELECT id FROM {db}.events WHERE type = 'cost.recorded' ORDER BY id")
        ]

    running, thread = start()
    _export(running, 3, **{"spendgate.task": "lost"})
    wait_until(lambda: len(ids()) == 3, what="three cost.recorded events")
    before = ids()
    running.collector.request_stop()
    thread.join(30)
    # As if the collector had died between the insert and storing the events of two calls.
    running.client.command(
        f"ALTER TABLE {database}.events DELETE WHERE id != '{before[0]}' SETTINGS mutations_sync = 2"
    )
    assert ids() == before[:1]
    running, thread = start()
    try:
        wait_until(lambda: ids() == before, what="the two missing events")  # each once, the same ids
    finally:
        stop_collector(running, thread)


def test_cost_recorded_is_published_only_when_asked_for() -> None:
    # A stored row per call: off unless a webhook subscribes to it or the types list it.
    assert "cost.recorded" not in EventsExtension().published
    assert "budget.created" in EventsExtension().published
    hook = EventWebhook(url="http://x.example/hook", types=["cost.recorded"])
    assert "cost.recorded" in EventsExtension(webhooks=[hook]).published
    assert EventsExtension(types=["cost.recorded"]).published == ("cost.recorded",)
    with pytest.raises(ValueError, match="is not in events.types"):
        EventsExtension(types=["budget.created"], webhooks=[hook])


def test_pausing_a_scope_by_hand_is_an_event(
    collector: RunningCollector, receivers: tuple[Receiver, Receiver]
) -> None:
    good, _ = receivers
    scope = f"{collector.http_url}/api/v1/scopes/agent/ev-paused"
    assert requests.post(scope + "/pause", json={"reason": "runaway loop"}, timeout=10).status_code == 200
    assert requests.post(scope + "/unpause", timeout=10).status_code == 200
    wait_until(lambda: any(e["data"]["scope_id"] == "ev-paused" for e in good.events("scope.unpaused")))
    paused = [e["data"] for e in good.events("scope.paused") if e["data"]["scope_id"] == "ev-paused"]
    assert paused == [{"scope_type": "agent", "scope_id": "ev-paused", "by": "api", "reason": "runaway loop"}]
