"""``GET|PUT /api/v1/alerts/config``: alert thresholds and notification channels, changed at run time.

The body is the ``alerts`` section of the config file (:class:`~spendgate.collector.config.Alerts`),
every field optional (what is left out stays as it is), with seed 000's names: ``thresholds`` as a
list of ``{percent, level, message}`` and ``notifications`` either as the native object or as the
seed's list of channels (``in_app``, always on; ``email`` with ``recipients``; ``webhook`` with
``url``). A channel with ``enabled: false`` is not sent to. Email's SMTP server, sender and password,
and a webhook's headers, come from the current settings (the config file's at first) when left
out; passwords and headers are never returned. The result is stored in ClickHouse
(:mod:`spendgate.collector.budgets.alert_config`) and the evaluator uses it from its next run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from spendgate.collector.api.auth import changed_by
from spendgate.collector.api.costs import jsonable
from spendgate.collector.budgets.alert_config import AlertConfigStore, StoredAlertConfig
from spendgate.collector.budgets.alerts import Alert, level_of
from spendgate.collector.budgets.model import DEFAULT_THRESHOLDS
from spendgate.collector.config import Alerts, Email, Notifications, Webhook


class Channel(BaseModel):
    """One of seed 000's ``alerts.notifications``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["in_app", "email", "webhook"]
    enabled: bool = True
    recipients: list[str] | None = None  # email
    smtp_host: str | None = None
    smtp_port: int | None = None
    sender: str | None = None
    username: str | None = None
    starttls: bool | None = None
    url: str | None = None  # webhook
    format: Literal["json", "slack"] | None = None
    headers: dict[str, str] | None = None


# The Alerts fields, each optional (what the body leaves out stays as it is); Alerts validates the result.
if TYPE_CHECKING:
    _OptionalAlerts = BaseModel
else:
    _OptionalAlerts = create_model(
        "_OptionalAlerts",
        **{name: (info.annotation | None, None) for name, info in Alerts.model_fields.items()},
    )


class AlertConfigBody(_OptionalAlerts):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "thresholds": [
                        {"percent": 50, "level": "info", "message": "50% of daily budget used"},
                        {"percent": 80, "level": "warning", "message": "80% of daily budget used"},
                        {"percent": 95, "level": "critical", "message": "95% of daily budget used"},
                    ],
                    "notifications": [
                        {"type": "in_app"},
                        {"type": "webhook", "enabled": True, "url": "https://hooks.example.com/alerts"},
                    ],
                }
            ]
        },
    )

    # The native object, or seed 000's list of channels.
    notifications: list[Channel] | Notifications | None = None
    min_level: str | None = Field(default=None, pattern=r"^(info|warning|critical|exceeded)$")


def _email(channel: Channel, current: Email | None) -> Email:
    given = channel.model_dump(
        include={"recipients", "smtp_host", "smtp_port", "sender", "username", "starttls"}, exclude_none=True
    )
    base = current.model_dump() if current is not None else {}
    try:
        return Email.model_validate(base | given)
    except ValidationError as exc:
        missing = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise HTTPException(422, f"notifications: email needs {missing} (not in the config either)") from None


def _webhook(channel: Channel, current: list[Webhook]) -> Webhook:
    same = next((w for w in current if w.url == channel.url), None)
    given = channel.model_dump(include={"url", "format", "headers"}, exclude_none=True)
    try:
        return Webhook.model_validate((same.model_dump() if same else {}) | given)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise HTTPException(422, f"notifications: webhook {problems}") from None


def notifications_of(channels: list[Channel], current: Notifications) -> Notifications:
    """The seed's channel list as the native notifications (disabled channels left out)."""
    if any(c.type == "in_app" and not c.enabled for c in channels):
        raise HTTPException(422, "notifications: in_app is always on (alerts are always listed)")
    emails = [c for c in channels if c.type == "email" and c.enabled]
    if len(emails) > 1:
        raise HTTPException(422, "notifications: one email channel (with any number of recipients)")
    webhooks = [_webhook(c, current.webhooks) for c in channels if c.type == "webhook" and c.enabled]
    email = _email(emails[0], current.email) if emails else None
    return Notifications(webhooks=webhooks, email=email, min_level=current.min_level)


def merged(body: AlertConfigBody, current: Alerts) -> Alerts:
    """``current`` with what ``body`` gives."""
    given = body.model_dump(exclude_none=True, exclude={"notifications", "min_level"})
    notifications = body.notifications
    if isinstance(notifications, list):
        notifications = notifications_of(notifications, current.notifications)
    notifications = notifications or current.notifications
    if (min_level := body.min_level) is not None:
        notifications = notifications.model_copy(update={"min_level": min_level})
    try:
        delivery = {"notifications": notifications.model_dump()}
        return Alerts.model_validate(current.model_dump() | given | delivery)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise HTTPException(422, f"invalid alert config: {problems}") from None


def _channels(notifications: Notifications) -> list[dict[str, Any]]:
    channels: list[dict[str, Any]] = [{"type": "in_app", "enabled": True}]
    if (email := notifications.email) is not None:
        shown = email.model_dump(exclude={"password", "timeout"})
        channels.append({"type": "email", "enabled": True, **shown})
    for webhook in notifications.webhooks:
        channels.append({"type": "webhook", "enabled": True, "url": webhook.url, "format": webhook.format})
    return channels


def config_json(settings: Alerts, stored: StoredAlertConfig | None) -> dict[str, Any]:
    """The settings in the seed's shape (effective thresholds, channel list) with the native fields."""
    thresholds = [t.model_dump() for t in settings.thresholds] or [
        {"percent": p, "level": None, "message": ""} for p in DEFAULT_THRESHOLDS
    ]
    for t in thresholds:
        t["level"] = t["level"] or level_of(t["percent"])
    return jsonable(
        {
            "thresholds": thresholds,
            "notifications": _channels(settings.notifications),
            "min_level": settings.notifications.min_level,
            "cooldown": settings.cooldown,
            "anomaly_percent": settings.anomaly_percent,
            "anomaly_trailing_days": settings.anomaly_trailing_days,
            "anomaly_min_spend": settings.anomaly_min_spend,
            "source": "api" if stored else "config",
            "version": stored.version if stored else 0,
            "changed_by": stored.changed_by if stored else "config",
            "changed_at": stored.changed_at if stored else None,
        }
    )


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert with seed 000's names too: ``percent`` (the threshold) and ``created_at``."""
    return {**alert.to_json(), "percent": alert.threshold, "created_at": alert.at.isoformat()}


def add_routes(router: APIRouter, store: AlertConfigStore) -> None:
    @router.get("/api/v1/alerts/config", summary="The alert thresholds and notification channels in force")
    def read_config() -> dict[str, Any]:
        """From the last ``PUT``, else from the config file's ``extensions.budgets.alerts``."""
        return config_json(*store.effective())

    @router.put("/api/v1/alerts/config", summary="Change alert thresholds and notification channels")
    def write_config(body: AlertConfigBody, request: Request) -> dict[str, Any]:
        """Fields left out stay as they are; stored in ClickHouse, used from the next evaluation."""
        settings = merged(body, store.current())
        stored = store.put(settings, by=changed_by(request.scope))
        return config_json(settings, stored)
