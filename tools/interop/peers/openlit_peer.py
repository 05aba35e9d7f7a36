"""OpenLIT 1.45 (``openlit.init``) against the fake provider, with openai<3 and anthropic<1.

OpenLIT sets up its own tracer provider (resource telemetry.sdk.name=openlit) from
OTEL_EXPORTER_OTLP_ENDPOINT, as its documentation shows; each case makes the OpenAI call and the
Anthropic call that the case has.
"""

from __future__ import annotations

import os
import tempfile

import _anthropic_calls
import _openai_calls
import openlit
from _runtime import arguments, combined, flush, run_case


def no_prices() -> str:
    """An empty price list: OpenLIT would download its own (gen_ai.usage.cost), which needs the network."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as prices:
        prices.write("{}")
    return prices.name


def main() -> None:
    peer, case = arguments()
    prices = no_prices()
    openlit.init(
        application_name=f"interop-{peer}",
        otlp_endpoint=os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"],
        disable_metrics=True,
        pricing_json=prices,
    )
    os.unlink(prices)  # read once, inside init
    run_case(combined(_openai_calls.cases(), _anthropic_calls.cases()), case)
    flush()


if __name__ == "__main__":
    main()
