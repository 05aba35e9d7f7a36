"""Terminate run: a streamed call is stopped mid-way when it crosses its run's hard per-run limit.

Only a stream in a run with a hard per-run limit gets a :class:`StreamMeter`
(the others pay one ``None`` check per chunk). The meter keeps the output
seen so far: tokens estimated from the text deltas (the SDK patch says where
a chunk's text is, :attr:`Surface.chunk_text`), or the provider's own count
when a chunk carries a larger one. Every :data:`CHECK_EVERY` chunks it asks
the guard whether the run's spend plus this call's usage so far crosses a
limit; the stream proxy then closes the SDK's stream and raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import enforcement
from .enforcement import BudgetExceeded, RunLimits
from .estimate import count_tokens
from .recorder import LLMCall

# Chunks between two checks: tokenizing and pricing once per few chunks keeps the cost small while
# stopping within a few chunks of the limit.
CHECK_EVERY = 4
TERMINATED_ATTRIBUTE = "spendgate.terminated"

ChunkText = Callable[[Any], "str | None"]  # the text a chunk adds to the output, if any


class StreamMeter:
    """The running usage of one streamed call whose run has a hard limit."""

    __slots__ = ("call", "limits", "chunk_text", "request", "prompt", "output", "pending", "chunks")

    def __init__(self, call: LLMCall, limits: RunLimits, chunk_text: ChunkText, request: dict[str, Any]):
        self.call = call
        self.limits = limits
        self.chunk_text = chunk_text
        self.request = request
        self.prompt: int | None = None  # the prompt's estimated tokens, computed once when needed
        self.output = 0  # output tokens estimated from the text counted so far
        self.pending: list[str] = []  # text not counted yet
        self.chunks = 0

    def observe(self, chunk: Any) -> BudgetExceeded | None:
        """Note one chunk; the run limit it crossed, if it did (checked every few chunks)."""
        text = self.chunk_text(chunk)
        if text:
            self.pending.append(text)
        self.chunks += 1
        if self.chunks % CHECK_EVERY:
            return None
        input_tokens, output_tokens = self.usage()
        return self.limits.run_overrun(self.call, input_tokens, output_tokens)

    def usage(self) -> tuple[int, int]:
        """(input, output) tokens so far: the provider's figures, or estimates where they are larger."""
        if self.pending:
            self.output += count_tokens("".join(self.pending))
            self.pending.clear()
        call = self.call
        input_tokens = call.input_tokens
        if input_tokens is None:
            if self.prompt is None:
                self.prompt = self.limits.prompt_tokens(self.request)
            input_tokens = self.prompt
        return input_tokens, max(call.output_tokens or 0, self.output)

    def settle(self, call: LLMCall) -> None:
        """Put the usage seen on the stopped call's span, marked terminated (and estimated where it is)."""
        input_tokens, output_tokens = self.usage()
        if call.input_tokens is None or (call.output_tokens or 0) < output_tokens:
            call.usage_estimated = True
        call.input_tokens, call.output_tokens = input_tokens, output_tokens
        call.set_attribute(TERMINATED_ATTRIBUTE, True)


def meter_for(call: LLMCall, chunk_text: ChunkText | None, request: dict[str, Any]) -> StreamMeter | None:
    """A meter when the call is in a run with a hard per-run limit and its chunks' text can be read."""
    if call.budget is None or chunk_text is None:
        return None
    guard = enforcement.installed_guard()
    if guard is None or not guard.limits_run(call):
        return None
    return StreamMeter(call, guard, chunk_text, request)
