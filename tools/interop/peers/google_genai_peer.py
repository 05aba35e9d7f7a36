"""The official OpenTelemetry google-genai instrumentation (1.3b0, google-genai<3) against the fake Gemini."""

from __future__ import annotations

from collections.abc import Callable

from _runtime import API_KEY, PROMPT, arguments, flush, install_tracer_provider, run_case, url
from google import genai
from google.genai import types
from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor


def client() -> genai.Client:
    return genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=url("gemini")))


def generate(model: str, config: types.GenerateContentConfig | None = None) -> str:
    gemini = client()  # held: a Client closes its HTTP client once it is garbage-collected
    return gemini.models.generate_content(model=model, contents=PROMPT, config=config).text or ""


def stream(model: str) -> str:
    gemini = client()
    return "".join(c.text or "" for c in gemini.models.generate_content_stream(model=model, contents=PROMPT))


def cases() -> dict[str, Callable[[], object]]:
    thinking = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=1024))
    return {
        "chat": lambda: generate("gemini-2.5-flash"),
        "stream": lambda: stream("gemini-2.5-flash"),
        "cached": lambda: generate("gemini-2.5-flash"),
        "reasoning": lambda: generate("gemini-2.5-flash", thinking),
        "long_context": lambda: generate("gemini-2.5-pro"),  # priced higher above 200k input tokens
    }


def main() -> None:
    peer, case = arguments()
    install_tracer_provider(peer)
    GoogleGenAiSdkInstrumentor().instrument()
    run_case(cases(), case)
    flush()


if __name__ == "__main__":
    main()
