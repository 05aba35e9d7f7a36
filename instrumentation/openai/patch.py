"""How each OpenAI SDK surface is metered: Chat Completions, Responses, Embeddings, Completions.

Streamed Chat Completions only report usage when asked with
``stream_options={"include_usage": true}``; when the caller did not ask,
the request asks for them and the extra usage-only chunk is hidden from the
caller. If no usage arrives anyway, tokens are estimated and the span says so.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Tracer

from ..estimate import count_tokens, text_of
from ..openai_shape import chat_chunk_text, chat_response, chat_usage
from ..recorder import LLMCall
from ..wrappers import Surface, int_or_none

# OpenAI-compatible services reached through the openai SDK, by host.
_PROVIDER_BY_HOST = {
    "api.openai.com": "openai",
    "api.groq.com": "groq",
    "api.mistral.ai": "mistral_ai",
    "api.deepseek.com": "deepseek",
    "api.x.ai": "x_ai",
    "api.perplexity.ai": "perplexity",
    "api.moonshot.ai": "moonshot_ai",
    "openrouter.ai": "openrouter",
    "api.together.xyz": "together",
    "api.fireworks.ai": "fireworks",
}
_LOCAL_PORTS = {11434: "ollama", 1234: "lmstudio", 8000: "vllm"}
_client_info: dict[int, tuple[str, str | None, int | None]] = {}


def _client_of(instance: Any) -> tuple[str, str | None, int | None]:
    """(provider, server address, server port) of the client behind a resource, cached per client."""
    client = getattr(instance, "_client", None)
    key = id(client)
    info = _client_info.get(key)
    if info is None:
        url = getattr(client, "base_url", None)
        host = getattr(url, "host", None) or None
        port = getattr(url, "port", None)
        if type(client).__name__.endswith("AzureOpenAI") or host and host.endswith(".openai.azure.com"):
            provider = "azure.ai.openai"
        elif host in ("localhost", "127.0.0.1") and port in _LOCAL_PORTS:
            provider = _LOCAL_PORTS[port]
        else:
            provider = _PROVIDER_BY_HOST.get(host or "", "openai")
        info = (provider, host, port)
        if len(_client_info) > 1024:  # clients are usually few; bound the cache anyway
            _client_info.clear()
        _client_info[key] = info
    return info


def _start(operation: str) -> Any:
    def start(tracer: Tracer, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall:
        provider, host, port = _client_of(instance)
        call = LLMCall(tracer, provider, operation, str(kwargs.get("model") or ""))
        call.server_address = host
        call.server_port = port
        return call

    return start


def _parsed(response: Any) -> Any:
    # ``with_raw_response`` hands back a wrapper whose parse() reads the already-loaded
    # body once and caches it. Streaming-response wrappers are left alone: parsing them
    # would consume the body the caller is about to read.
    if type(response).__name__ == "LegacyAPIResponse":
        return None if getattr(response, "_stream", False) else response.parse()
    return response


# --- Chat Completions --------------------------------------------------------------------------


class _ChatStreamState:
    __slots__ = ("hide_usage_chunk", "prompt", "text")

    def __init__(self, hide_usage_chunk: bool, prompt: Any) -> None:
        self.hide_usage_chunk = hide_usage_chunk
        self.prompt = prompt
        self.text: list[str] = []


def _ask_for_usage(kwargs: dict[str, Any], prompt: Any) -> _ChatStreamState:
    """Ask a stream for its usage chunk unless the caller decided; hide it only if we asked."""
    options = kwargs.get("stream_options")
    asked = isinstance(options, dict) and "include_usage" in options
    if not asked:
        kwargs["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    return _ChatStreamState(hide_usage_chunk=not asked, prompt=prompt)


def _start_chat(tracer: Tracer, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall:
    call = _start("chat")(tracer, instance, args, kwargs)
    if kwargs.get("stream") is True:
        call.state = _ask_for_usage(kwargs, kwargs.get("messages"))
    return call


def _on_chat_response(call: LLMCall, response: Any) -> None:
    response = _parsed(response)
    if response is not None:
        chat_response(call, response)


def _chunk_reader(text_of_choice: Any) -> Any:
    """A chunk handler for Chat Completions and legacy Completions streams, which differ in where text is."""

    def on_chunk(call: LLMCall, chunk: Any) -> bool:
        state: _ChatStreamState = call.state
        if call.response_id is None:
            call.response_id = chunk.id
            call.response_model = chunk.model
        choices = chunk.choices
        for choice in choices:
            text = text_of_choice(choice)
            if text:
                state.text.append(text)
            if choice.finish_reason:
                call.finish_reasons = [*(call.finish_reasons or ()), choice.finish_reason]
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            chat_usage(call, usage)
            if not choices and state.hide_usage_chunk:
                return False  # the usage-only chunk we asked for: the caller never sees it
        return True

    return on_chunk


_on_chat_chunk = _chunk_reader(lambda choice: choice.delta.content if choice.delta is not None else None)
_on_completion_chunk = _chunk_reader(lambda choice: choice.text)


def _completion_chunk_text(chunk: Any) -> str:
    return "".join(choice.text or "" for choice in chunk.choices)


def _responses_event_text(event: Any) -> str | None:
    # Text, refusal, reasoning and argument deltas all carry their piece in ``delta``.
    delta = getattr(event, "delta", None)
    return delta if isinstance(delta, str) else None


def _on_chat_stream_end(call: LLMCall, stream: Any) -> None:
    if call.input_tokens is None:
        state: _ChatStreamState = call.state
        call.input_tokens = count_tokens(text_of(state.prompt))
        call.output_tokens = count_tokens("".join(state.text))
        call.usage_estimated = True


CHAT = Surface(
    start=_start_chat,
    on_response=_on_chat_response,
    on_chunk=_on_chat_chunk,
    on_stream_end=_on_chat_stream_end,
    chunk_text=chat_chunk_text,
)
CHAT_PARSE = Surface(start=_start("chat"), on_response=_on_chat_response)


# --- Responses ---------------------------------------------------------------------------------


def _on_responses_response(call: LLMCall, response: Any) -> None:
    response = _parsed(response)
    if response is None:
        return
    call.response_model = response.model
    call.response_id = response.id
    status = getattr(response, "status", None)
    if status:
        call.finish_reasons = [status]
    usage = response.usage
    if usage is None:
        return
    call.input_tokens = int_or_none(usage.input_tokens)
    call.output_tokens = int_or_none(usage.output_tokens)
    details = getattr(usage, "input_tokens_details", None)
    if details is not None:
        call.cache_read_tokens = int_or_none(details.cached_tokens)
        call.cache_write_tokens = int_or_none(getattr(details, "cache_write_tokens", None))
    output_details = getattr(usage, "output_tokens_details", None)
    if output_details is not None:
        call.reasoning_tokens = int_or_none(output_details.reasoning_tokens)


_FINAL_RESPONSE_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _on_responses_event(call: LLMCall, event: Any) -> bool:
    if getattr(event, "type", None) in _FINAL_RESPONSE_EVENTS:
        _on_responses_response(call, event.response)
    return True


RESPONSES = Surface(
    start=_start("chat"),
    on_response=_on_responses_response,
    on_chunk=_on_responses_event,
    chunk_text=_responses_event_text,
)


# --- Embeddings and legacy Completions ----------------------------------------------------------


def _on_embeddings_response(call: LLMCall, response: Any) -> None:
    response = _parsed(response)
    if response is None:
        return
    call.response_model = response.model
    usage = response.usage
    if usage is not None:
        call.input_tokens = int_or_none(usage.prompt_tokens)
        call.output_tokens = 0


EMBEDDINGS = Surface(start=_start("embeddings"), on_response=_on_embeddings_response)


def _start_completion(
    tracer: Tracer, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> LLMCall:
    call = _start("text_completion")(tracer, instance, args, kwargs)
    if kwargs.get("stream") is True:
        call.state = _ask_for_usage(kwargs, kwargs.get("prompt"))
    return call


COMPLETIONS = Surface(
    start=_start_completion,
    on_response=_on_chat_response,  # the same fields as a chat completion
    on_chunk=_on_completion_chunk,
    on_stream_end=_on_chat_stream_end,
    chunk_text=_completion_chunk_text,
)
