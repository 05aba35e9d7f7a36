"""Webhook delivery: at least once, in order, from the stored events after the webhook's cursor.

One thread per webhook reads the events after its cursor (positions survive restarts), posts them
(a run of batched types as one CloudEvents batch, any other event as one structured event), and
moves the cursor on only after a 2xx. A failed POST is retried with exponential backoff and jitter
(tenacity) until it succeeds or the collector stops, so an event is never skipped; a receiver sees
an event again only after a failure or a restart, and then with the same id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterator, Sequence

import requests
import tenacity
from spendgate.collector.event_config import EventWebhook
from spendgate.collector.events.batch import Stored
from spendgate.collector.events.record import BATCH, STRUCTURED, Event
from spendgate.collector.events.store import EventStore

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Spendgate-Signature"
_POLL_S = 2.0  # also read the store this often, whatever the bus says


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def posts(webhook: EventWebhook, events: Sequence[Event]) -> Iterator[list[Event]]:
    """The events in POSTs, in order: consecutive events of batched types together."""
    run: list[Event] = []
    for event in events:
        if event.type in webhook.batch_types:
            run.append(event)
            if len(run) >= webhook.max_batch:
                yield run
                run = []
            continue
        if run:
            yield run
            run = []
        yield [event]
    if run:
        yield run


class WebhookDelivery:
    def __init__(self, webhook: EventWebhook, store: EventStore, source: str) -> None:
        self.webhook = webhook
        self._store = store
        self._source = source
        self._session = requests.Session()
        self._stop = threading.Event()
        self._new = threading.Event()
        self._cursor = 0
        self._thread = threading.Thread(
            target=self._run, name=f"spendgate-webhook-{webhook.key}", daemon=True
        )
        self.stats = {"posts": 0, "events": 0, "failures": 0}

    def start(self) -> None:
        cursor = self._store.cursor(self.webhook.key)
        if cursor is None:  # a new webhook gets what happens from now on, not the stored history
            cursor = self._store.last_position()
            self._store.set_cursor(self.webhook.key, cursor)
        self._cursor = cursor
        self._thread.start()

    def notify(self, stored: Stored) -> None:
        if stored.types.intersection(self.webhook.types):
            self._new.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._new.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                events = self._store.after(self._cursor, self.webhook.types, self.webhook.max_batch)
            except Exception as exc:
                log.warning("webhook %s: cannot read events: %s", self.webhook.key, exc)
                events = []
            if not events:
                self._new.wait(_POLL_S)
                self._new.clear()
                if not self._stop.is_set() and self.webhook.batch_wait:
                    self._stop.wait(self.webhook.batch_wait)  # let a batch fill
                continue
            for post in posts(self.webhook, events):
                if not self._deliver(post):
                    return  # stopping
                self._cursor = post[-1].position
                self._save_cursor()

    def _save_cursor(self) -> None:
        try:
            self._store.set_cursor(self.webhook.key, self._cursor)
        except Exception as exc:  # a cursor not saved costs only a redelivery after a restart
            log.warning("webhook %s: cursor not saved: %s", self.webhook.key, exc)

    def _deliver(self, post: list[Event]) -> bool:
        """POST until acknowledged; False if the collector stopped first."""
        retrying = tenacity.Retrying(
            wait=tenacity.wait_exponential_jitter(initial=0.2, max=self.webhook.max_backoff),
            stop=lambda _state: self._stop.is_set(),
            sleep=self._pause,
            retry=tenacity.retry_if_exception_type(Exception),
            before_sleep=self._failed,
            reraise=True,
        )
        try:
            retrying(self._post, post)
        except Exception:
            return False
        return True

    def _pause(self, seconds: float) -> None:
        self._stop.wait(seconds)  # a stop ends the wait at once

    def _failed(self, state: tenacity.RetryCallState) -> None:
        self.stats["failures"] += 1
        error = state.outcome.exception() if state.outcome else None
        log.warning("webhook %s: POST failed (attempt %d): %s", self.webhook.key, state.attempt_number, error)

    def _post(self, post: list[Event]) -> None:
        batched = post[0].type in self.webhook.batch_types
        payload = [e.cloudevent(self._source) for e in post] if batched else post[0].cloudevent(self._source)
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {**self.webhook.headers, "Content-Type": BATCH if batched else STRUCTURED}
        if self.webhook.secret:
            headers[SIGNATURE_HEADER] = signature(self.webhook.secret, body)
        response = self._session.post(
            self.webhook.url, data=body, headers=headers, timeout=self.webhook.timeout
        )
        response.raise_for_status()
        self.stats["posts"] += 1
        self.stats["events"] += len(post)
