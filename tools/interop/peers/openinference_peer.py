"""OpenInference (Arize's openinference-instrumentation-openai / -anthropic) against the fake provider.

Peers: openinference-openai, openinference-anthropic, and anthropic-native-openinference (the same
instrumentor with the anthropic SDK's own tracing left on, so one call has two spans). The agent
case wraps the call in ``OITracer.agent`` from openinference-instrumentation.
"""

from __future__ import annotations

import _anthropic_calls
import _openai_calls
from _runtime import arguments, flush, install_tracer_provider, run_case


def instrument(peer: str) -> None:
    install_tracer_provider(peer)
    if peer == "openinference-openai":
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument()
    else:
        from openinference.instrumentation.anthropic import AnthropicInstrumentor

        AnthropicInstrumentor().instrument()


def agent_case(peer: str) -> object:
    from openinference.instrumentation import OITracer, TraceConfig
    from opentelemetry import trace

    tracer = OITracer(trace.get_tracer("interop.agent"), config=TraceConfig())

    @tracer.agent(name="greeter")
    def greet() -> object:
        if peer == "openinference-openai":
            return _openai_calls.chat(_openai_calls.MODELS["agent"])
        return _anthropic_calls.message(_anthropic_calls.MODELS["agent"])

    return greet()


def main() -> None:
    peer, case = arguments()
    instrument(peer)
    calls = _openai_calls.cases() if peer == "openinference-openai" else _anthropic_calls.cases()
    calls["agent"] = lambda: agent_case(peer)
    run_case(calls, case)
    flush()


if __name__ == "__main__":
    main()
