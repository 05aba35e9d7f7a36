"""The anthropic SDK's own tracing (scope com.anthropic.sdk.python), with no instrumentation library.

The SDK traces each API call as soon as a global tracer provider is set (unless
ANTHROPIC_OPEN_TELEMETRY=false), so setting one is all this peer does.
"""

from __future__ import annotations

import _anthropic_calls
from _runtime import arguments, flush, install_tracer_provider, run_case


def main() -> None:
    peer, case = arguments()
    install_tracer_provider(peer)
    run_case(_anthropic_calls.cases(), case)
    flush()


if __name__ == "__main__":
    main()
