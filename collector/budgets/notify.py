"""Alert notifications: webhooks (JSON or Slack-compatible) and email over SMTP.

Delivery runs on its own thread so a slow endpoint never holds up the
evaluator; a failed delivery is retried with backoff (urllib3's Retry for
webhooks) and then logged. Every alert is also kept in ClickHouse for the
in-app list, whatever happens here.
"""

from __future__ import annotations

import logging
import queue
import smtplib
import threading
from email.message import EmailMessage
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from spendgate.collector.budgets.alert_config import AlertSettingsSource, FixedAlertSettings
from spendgate.collector.budgets.alerts import LEVELS, Alert
from spendgate.collector.config import Alerts, Email, Notifications, Webhook
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)


def slack_payload(alert: Alert) -> dict[str, Any]:
    icon = {
        "info": ":information_source:",
        "warning": ":warning:",
        "critical": ":rotating_light:",
        "exceeded": ":no_entry:",
    }.get(alert.level, "")
    return {"text": f"{icon} spendgate {alert.level}: {alert.message}".strip()}


def email_message(alert: Alert, settings: Email) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[spendgate {alert.level}] {alert.message[:150]}"
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    lines = [alert.message, ""] + [f"{key}: {value}" for key, value in alert.to_json().items()]
    message.set_content("\n".join(lines))
    return message


class Notifier:
    def __init__(self, settings: Notifications | AlertSettingsSource) -> None:
        # The channels are read at each alert: PUT /api/v1/alerts/config applies at once.
        if isinstance(settings, Notifications):
            settings = FixedAlertSettings(Alerts(notifications=settings))
        self._source = settings
        self._queue: queue.Queue[Alert | None] = queue.Queue()
        self._session = requests.Session()
        retry = Retry(
            total=3,
            backoff_factor=0.5,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"POST"}),
            respect_retry_after_header=True,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._thread: threading.Thread | None = None
        self.stats = {"sent": 0, "failed": 0}

    @property
    def _settings(self) -> Notifications:
        return self._source.current().notifications

    @property
    def configured(self) -> bool:
        return bool(self._settings.webhooks or self._settings.email)

    def start(self) -> None:
        # Always: channels may be configured later, at run time.
        self._thread = threading.Thread(target=self._run, name="spendgate-notify", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)

    def send(self, alerts: list[Alert]) -> None:
        if self._thread is None or not self.configured:
            return
        min_level = LEVELS.index(self._settings.min_level)
        for alert in alerts:
            if LEVELS.index(alert.level) >= min_level:
                self._queue.put(alert)

    def _run(self) -> None:
        while (alert := self._queue.get()) is not None:
            settings = self._settings
            for webhook in settings.webhooks:
                self._attempt(f"webhook {webhook.url}", self._post, webhook, alert)
            if settings.email is not None:
                self._attempt("email", self._mail, settings.email, alert)

    def _attempt(self, target: str, deliver: Any, settings: Any, alert: Alert) -> None:
        try:
            deliver(settings, alert)
            self.stats["sent"] += 1
        except Exception as exc:
            self.stats["failed"] += 1
            log.error("alert %s not delivered to %s: %s", alert.id, target, exc)

    def _post(self, webhook: Webhook, alert: Alert) -> None:
        payload = slack_payload(alert) if webhook.format == "slack" else alert.to_json()
        response = self._session.post(
            webhook.url, json=payload, headers=webhook.headers, timeout=webhook.timeout
        )
        response.raise_for_status()

    def _mail(self, settings: Email, alert: Alert) -> None:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(email_message(alert, settings))
