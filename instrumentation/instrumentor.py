"""Base class of the per-SDK instrumentors.

Each SDK package declares the methods it patches as :class:`Target` rows;
this class wraps them on ``instrument()`` and restores every original on
``uninstrument()``. It plugs into ``opentelemetry-instrument`` through the
``opentelemetry_instrumentor`` entry points.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.trace import Tracer, get_tracer

from spendgate import __version__

from . import enforcement
from .wrappers import Surface, async_wrapper, sync_wrapper

logger = logging.getLogger("spendgate.instrumentation")
SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"


@dataclass(frozen=True)
class Target:
    """``module``'s ``Class.method`` metered as ``surface``."""

    module: str
    method: str  # "Class.method"
    surface: Surface | Callable[[Tracer], Callable[..., Any]]
    is_async: bool = False


class SpendgateInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Patches the :attr:`targets` of one SDK."""

    sdk: str = ""  # the SDK's import name, as instrument(sdks=[...]) names it, e.g. "google.genai"
    package: str = ""  # the requirement checked before instrumenting, e.g. "openai >= 1.40"
    targets: tuple[Target, ...] = ()
    # (variable, value) that switches off the SDK's own tracing of the calls spendgate meters.
    native_tracing_switch: tuple[str, str] | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return (self.package,)

    def _instrument(self, **kwargs: Any) -> None:
        tracer = get_tracer(
            "spendgate.instrumentation", __version__, kwargs.get("tracer_provider"), schema_url=SCHEMA_URL
        )
        self._patched: list[tuple[Any, str]] = []
        for target in self.targets:
            owner, name = self._resolve(target)
            if owner is None:
                continue
            if isinstance(target.surface, Surface):
                make = async_wrapper if target.is_async else sync_wrapper
                wrapper = make(tracer, target.surface)
            else:
                wrapper = target.surface(tracer)
            wrapt.wrap_function_wrapper(owner, name, wrapper)
            self._patched.append((owner, name))
        self._switched_env: str | None = None
        if self.native_tracing_switch is not None:
            name, value = self.native_tracing_switch
            if name not in os.environ:
                os.environ[name] = value
                self._switched_env = name
        _enforce_budgets_from_environment()

    def _uninstrument(self, **kwargs: Any) -> None:
        for owner, name in getattr(self, "_patched", ()):
            unwrap(owner, name)
        self._patched = []
        switched = getattr(self, "_switched_env", None)
        if switched:
            os.environ.pop(switched, None)
            self._switched_env = None

    @staticmethod
    def _resolve(target: Target) -> tuple[Any, str]:
        # Surfaces missing from an older or newer SDK are skipped, not fatal.
        try:
            owner: Any = importlib.import_module(target.module)
            *path, name = target.method.split(".")
            for part in path:
                owner = getattr(owner, part)
            getattr(owner, name)
        except (ImportError, AttributeError):
            logger.debug("spendgate: %s.%s not found; not instrumented", target.module, target.method)
            return None, ""
        return owner, name


def _enforce_budgets_from_environment() -> None:
    """The zero-code path (``opentelemetry-instrument``): subscribe to budget flags when the
    environment names a collector, unless ``SPENDGATE_BUDGETS=off``."""
    if enforcement.installed_guard() is not None or enforcement.configured_explicitly:
        return
    if os.environ.get("SPENDGATE_BUDGETS", "on").lower() in ("off", "0", "false", "no"):
        return
    if not (os.environ.get("SPENDGATE_FLAGS_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")):
        return
    from .configure import enforce_budgets, flags_endpoint_for

    enforce_budgets(
        flags_endpoint_for(None, None), fail_closed=os.environ.get("SPENDGATE_FAIL_CLOSED") == "1"
    )
