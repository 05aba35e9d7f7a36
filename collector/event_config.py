"""The ``extensions.events`` section: which events are kept, and the webhooks that receive them."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from spendgate.collector.config_fields import Seconds, Strict

# Every event type the collector publishes (seed 003 and issue 13); collector/events/record.py uses it.
EVENT_TYPES = (
    "cost.recorded",
    "cost.budget.warning",
    "cost.budget.exceeded",
    "budget.created",
    "budget.updated",
    "budget.deleted",
    "scope.paused",
    "scope.unpaused",
)


_DEFAULT_TYPES = frozenset(EVENT_TYPES) - {"cost.recorded"}


def _known_types(value: list[str]) -> list[str]:
    unknown = [kind for kind in value if kind not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event type {unknown[0]!r} (known: {', '.join(EVENT_TYPES)})")
    return value


class EventWebhook(Strict):
    url: str = Field(pattern=r"^https?://[^\s/]+")
    # The cursor of this webhook is stored under its name (the url unless given).
    name: str | None = None
    types: list[str] = Field(min_length=1)
    # With a secret, every POST carries X-Spendgate-Signature: sha256=<HMAC-SHA256 of the body>.
    secret: str | None = None
    headers: dict[str, str] = {}
    # Events of these types go many to a POST (application/cloudevents-batch+json).
    batch_types: list[str] = ["cost.recorded"]
    max_batch: int = Field(default=500, gt=0, le=10_000)
    # After new events arrive, wait this long for more before posting (fuller batches).
    batch_wait: Seconds = 0.2
    timeout: Seconds = 10.0
    # Failed POSTs are retried forever (at-least-once), with exponential backoff and jitter up to this.
    max_backoff: Seconds = 60.0

    _types = field_validator("types", "batch_types")(classmethod(lambda cls, v: _known_types(v)))

    @property
    def key(self) -> str:
        return self.name or self.url


class EventsExtension(Strict):
    enabled: bool = True
    # The CloudEvents source attribute of every event.
    source: str = Field(default="/spendgate/collector", min_length=1)
    # The types that are published (stored, streamed, delivered) at all. Unset: every type but
    # cost.recorded (a stored row per call, so it is opt-in), plus the types a webhook subscribes to.
    types: list[str] | None = None
    webhooks: list[EventWebhook] = []

    _types = field_validator("types")(classmethod(lambda cls, v: v if v is None else _known_types(v)))

    @property
    def published(self) -> tuple[str, ...]:
        if self.types is not None:
            return tuple(self.types)
        wanted = {kind for webhook in self.webhooks for kind in webhook.types} | _DEFAULT_TYPES
        return tuple(kind for kind in EVENT_TYPES if kind in wanted)

    @model_validator(mode="after")
    def _webhooks_fit(self) -> EventsExtension:
        keys = [webhook.key for webhook in self.webhooks]
        if len(set(keys)) < len(keys):
            raise ValueError("two webhooks share a url: give each a distinct name")
        for webhook in self.webhooks:
            if missing := sorted(set(webhook.types) - set(self.published)):
                raise ValueError(f"webhook {webhook.key}: type {missing[0]!r} is not in events.types")
        return self
