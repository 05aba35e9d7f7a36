"""OpenLLMetry (traceloop's opentelemetry-instrumentation-openai / -anthropic) against the fake provider.

Peers: openllmetry-openai, openllmetry-anthropic, and anthropic-native-openllmetry (the same
instrumentor with the anthropic SDK's own tracing left on, so one call has two spans).
The agent case goes through traceloop-sdk's ``Traceloop.init`` and its ``@workflow`` / ``@agent``
decorators, which need the SDK's own tracer setup.
"""

from __future__ import annotations

import _anthropic_calls
import _openai_calls
from _runtime import arguments, exporter, flush, install_tracer_provider, run_case


def instrument(peer: str) -> None:
    install_tracer_provider(peer)
    if peer == "openllmetry-openai":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    else:
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

        AnthropicInstrumentor().instrument()


def agent_case(peer: str) -> None:
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import agent, workflow
    from traceloop.sdk.instruments import Instruments

    openai_peer = peer == "openllmetry-openai"
    Traceloop.init(
        app_name=f"interop-{peer}",
        exporter=exporter(),
        telemetry_enabled=False,
        instruments={Instruments.OPENAI if openai_peer else Instruments.ANTHROPIC},
    )

    @agent(name="greeter")
    def greet() -> object:
        if openai_peer:
            return _openai_calls.chat(_openai_calls.MODELS["agent"])
        return _anthropic_calls.message(_anthropic_calls.MODELS["agent"])

    @workflow(name="greeting")
    def run() -> object:
        return greet()

    run()


def main() -> None:
    peer, case = arguments()
    if case == "agent":
        agent_case(peer)
    else:
        instrument(peer)
        calls = _openai_calls.cases() if peer == "openllmetry-openai" else _anthropic_calls.cases()
        run_case(calls, case)
    flush()


if __name__ == "__main__":
    main()
