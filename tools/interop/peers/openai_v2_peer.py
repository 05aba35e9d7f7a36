"""The official OpenTelemetry OpenAI instrumentation (opentelemetry-instrumentation-openai-v2 2.4b0)."""

from __future__ import annotations

import _openai_calls
from _runtime import arguments, flush, install_tracer_provider, run_case
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor


def main() -> None:
    peer, case = arguments()
    install_tracer_provider(peer)
    OpenAIInstrumentor().instrument()
    run_case(_openai_calls.cases(), case)
    flush()


if __name__ == "__main__":
    main()
