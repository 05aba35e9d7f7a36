"""Attribution: who a model call is billed to.

``scope(project=..., agent=...)`` puts ``spendgate.*`` entries into
OpenTelemetry baggage, so the attribution follows the context across threads
(with context propagation), asyncio tasks and, through W3C ``baggage``
headers, into other services. Every LLM span is stamped with the entries of
the context its call was made in.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from opentelemetry import baggage, context

from spendgate.dimensions import AGENT_DIMENSIONS as DIMENSIONS
from spendgate.dimensions import PREFIX

_MAX_VALUE_CHARS = 256

F = TypeVar("F", bound=Callable[..., Any])


def _entries(values: Mapping[str, object]) -> dict[str, str]:
    entries = {}
    for name, value in values.items():
        if name not in DIMENSIONS:
            raise TypeError(
                f"scope() got an unknown dimension {name!r}; expected one of {', '.join(DIMENSIONS)}"
            )
        if value is None:
            continue
        text = str(value)
        entries[PREFIX + name] = text[:_MAX_VALUE_CHARS]
    return entries


class scope:  # noqa: N801 - used like a function: ``with spendgate.scope(...)``
    """Attribute every LLM call made inside to the given dimensions.

    Works as a context manager and as a decorator of sync and async
    functions; nested scopes inherit and override the outer entries.
    """

    def __init__(self, **dimensions: object) -> None:
        self.entries = _entries(dimensions)
        self._tokens: list[object] = []

    def _attach(self) -> object:
        ctx = context.get_current()
        for key, value in self.entries.items():
            ctx = baggage.set_baggage(key, value, ctx)
        return context.attach(ctx)

    def __enter__(self) -> scope:
        self._tokens.append(self._attach())
        return self

    def __exit__(self, *exc_info: object) -> None:
        context.detach(self._tokens.pop())  # type: ignore[arg-type]

    async def __aenter__(self) -> scope:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)

    def __call__(self, func: F) -> F:
        entries = self.entries

        # A fresh scope per call keeps concurrent invocations independent.
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with _from_entries(entries):
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        if inspect.isasyncgenfunction(func):

            @functools.wraps(func)
            async def run_async_gen(*args: Any, **kwargs: Any) -> Any:
                with _from_entries(entries):
                    async for item in func(*args, **kwargs):
                        yield item

            return run_async_gen  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with _from_entries(entries):
                return func(*args, **kwargs)

        return run  # type: ignore[return-value]


def _from_entries(entries: dict[str, str]) -> scope:
    fresh = scope()
    fresh.entries = entries
    return fresh


def attribution_of(ctx: context.Context | None = None) -> dict[str, str]:
    """The ``spendgate.*`` baggage entries of a context (the current one by default)."""
    return {key: str(value) for key, value in baggage.get_all(ctx).items() if key.startswith(PREFIX)}


def current_attribution() -> dict[str, str]:
    """The dimensions in effect here, without the prefix: ``{"project": "x", ...}``."""
    return {key[len(PREFIX) :]: value for key, value in attribution_of().items()}
