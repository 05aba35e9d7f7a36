"""Capture the OTLP export requests of real third-party Python instrumentations as interop fixtures.

Each peer runs in its own virtualenv under ~/.cache/spendgate-interop/<env> (their pins conflict),
made from tools/interop/requirements/<env>.txt and reused while that file is unchanged. For each
peer and case this sets the fake provider's usage, runs tools/interop/peers/<script> with the
venv's python against the fake provider and an OTLP sink (both in this process), and writes
tests/interop/fixtures/<peer>/<case>.json. Run it from the main virtualenv:

    python tools/interop/capture.py [--peer NAME ...] [--case NAME ...] [--show]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ExpectedCall,
    Fixture,
    OtlpSink,
    contradicted_limits,
    decode_spans,
    print_spans,
    shown,
    unseen_usage,
)
from spendgate.instrumentation.fake_provider.formats import Usage  # noqa: E402
from spendgate.instrumentation.fake_provider.server import FakeProvider, Received  # noqa: E402

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("SPENDGATE_INTEROP_CACHE", Path.home() / ".cache" / "spendgate-interop"))
PYTHON = os.environ.get("SPENDGATE_INTEROP_PYTHON", sys.executable)
CASE_TIMEOUT_S = 180

# Distinct numbers per case, so a count seen on a span can be traced back to one usage field.
CASES: dict[str, Usage] = {
    "chat": Usage(input_tokens=1234, output_tokens=56, cache_read_tokens=0),
    "stream": Usage(input_tokens=2101, output_tokens=73, cache_read_tokens=400),
    "cached": Usage(input_tokens=3456, output_tokens=78, cache_read_tokens=1280),
    "cache_1h": Usage(
        input_tokens=4321,
        output_tokens=91,
        cache_read_tokens=500,
        cache_write_tokens=1000,
        cache_write_1h_tokens=600,
    ),
    "reasoning": Usage(input_tokens=1500, output_tokens=640, cache_read_tokens=0, reasoning_tokens=512),
    "embeddings": Usage(input_tokens=777, output_tokens=0, cache_read_tokens=0),
    "responses": Usage(input_tokens=2222, output_tokens=99, cache_read_tokens=256),
    "long_context": Usage(input_tokens=300_123, output_tokens=321, cache_read_tokens=0),
    "agent": Usage(input_tokens=1111, output_tokens=22, cache_read_tokens=0),
}
OPENAI_CASES = ("chat", "stream", "cached", "reasoning", "embeddings", "responses", "long_context")
ANTHROPIC_CASES = ("chat", "stream", "cached", "cache_1h", "long_context")
BOTH_CASES = ("chat", "stream", "cached", "cache_1h", "reasoning", "embeddings", "responses", "long_context")
# The anthropic SDK traces itself once a tracer provider is set: off, unless that is the peer.
NO_NATIVE = {"ANTHROPIC_OPEN_TELEMETRY": "false"}
LITELLM = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", **NO_NATIVE}  # no cost-map download (no network here)


@dataclass(frozen=True)
class Peer:
    name: str
    env: str  # the virtualenv (and requirements file) it runs in
    script: str  # under tools/interop/peers/
    cases: tuple[str, ...]
    environ: dict[str, str] = field(default_factory=dict)
    notes: str = ""  # copied into every fixture of the peer


PEERS = [
    Peer("openllmetry-openai", "openllmetry", "openllmetry_peer.py", (*OPENAI_CASES, "agent"), NO_NATIVE),
    Peer(
        "openllmetry-anthropic", "openllmetry", "openllmetry_peer.py", (*ANTHROPIC_CASES, "agent"), NO_NATIVE
    ),
    Peer(
        "openinference-openai", "openinference", "openinference_peer.py", (*OPENAI_CASES, "agent"), NO_NATIVE
    ),
    Peer(
        "openinference-anthropic",
        "openinference",
        "openinference_peer.py",
        (*ANTHROPIC_CASES, "agent"),
        NO_NATIVE,
    ),
    Peer(
        "openlit",
        "openlit",
        "openlit_peer.py",
        BOTH_CASES,
        NO_NATIVE,
        "openlit.init also instruments httpx: each call has an extra POST span without usage",
    ),
    Peer("litellm", "litellm", "litellm_peer.py", BOTH_CASES, LITELLM),
    Peer(
        "litellm-semconv",
        "litellm",
        "litellm_peer.py",
        BOTH_CASES,
        {**LITELLM, "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental"},
    ),
    Peer(
        "pydantic-ai",
        "pydantic-ai",
        "pydantic_ai_peer.py",
        (*BOTH_CASES, "agent"),
        NO_NATIVE,
        "each call runs in an Agent: invoke_agent spans sum their children under gen_ai.aggregated_usage.*",
    ),
    Peer("anthropic-native", "anthropic-native", "anthropic_native_peer.py", ANTHROPIC_CASES),
    Peer(
        "anthropic-native-openllmetry",
        "openllmetry",
        "openllmetry_peer.py",
        ANTHROPIC_CASES,
        {},
        "two model-call spans per call (the SDK's and OpenLLMetry's), siblings with one gen_ai.response.id",
    ),
    Peer(
        "anthropic-native-openinference",
        "openinference",
        "openinference_peer.py",
        ANTHROPIC_CASES,
        {},
        "two model-call spans per call: the SDK's span is a child of OpenInference's",
    ),
    # openai-v2 2.4b0 does not trace responses.create: that call would leave no span to capture.
    Peer("openai-v2", "openai-v2", "openai_v2_peer.py", tuple(c for c in OPENAI_CASES if c != "responses")),
    Peer(
        "google-genai-otel",
        "google-genai-otel",
        "google_genai_peer.py",
        ("chat", "stream", "cached", "reasoning", "long_context"),
    ),
]


# --- virtualenvs ----------------------------------------------------------------------------------


def requirements(env: str) -> Path:
    return HERE / "requirements" / f"{env}.txt"


def venv_python(env: str) -> Path:
    return CACHE / env / "bin" / "python"


def ensure_venv(env: str) -> str:
    """Create or update the env's virtualenv; a stamp of the requirements file skips an unchanged one."""
    text = requirements(env).read_text()
    stamp = CACHE / env / ".requirements.sha256"
    digest = hashlib.sha256(text.encode()).hexdigest()
    if venv_python(env).exists() and stamp.exists() and stamp.read_text() == digest:
        return f"{env}: reused"
    if not venv_python(env).exists():
        subprocess.run([PYTHON, "-m", "venv", str(CACHE / env)], check=True)
    started = time.monotonic()
    pip = [str(venv_python(env)), "-m", "pip", "install", "-q", "-r", str(requirements(env))]
    result = subprocess.run(pip, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{env}: pip install failed\n{result.stderr[-3000:]}")
    stamp.write_text(digest)
    return f"{env}: installed in {time.monotonic() - started:.0f} s"


def ensure_venvs(envs: set[str]) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores: two pip processes at a time
        for message in pool.map(ensure_venv, sorted(envs)):
            print(message, flush=True)


def installed_versions(env: str) -> dict[str, str]:
    """The installed version of every package the env's requirements file names."""
    names = []
    for line in requirements(env).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.append(re.split(r"[\[=<>!~ ;]", line, maxsplit=1)[0])
    script = (
        "import importlib.metadata as m, json, sys\n"
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    command = [str(venv_python(env)), "-c", script, *names]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


# --- expected calls -------------------------------------------------------------------------------


def operation_of(received: Received) -> str:
    if received.provider == "gemini":
        return "generate_content"
    if received.path.endswith("/embeddings"):
        return "embeddings"
    if received.path.endswith("/v1/completions"):
        return "text_completion"
    return "chat"  # chat completions, the Responses API and Anthropic messages


def model_of(received: Received) -> str:
    if received.provider == "gemini":  # .../models/gemini-2.5-flash:generateContent
        return received.path.rpartition("/")[2].partition(":")[0]
    return str(received.body.get("model", ""))


def on_wire(provider: str, operation: str, usage: Usage) -> Usage:
    """The part of the fake provider's usage that this provider's wire format reports."""
    if operation == "embeddings":  # only prompt_tokens
        return Usage(input_tokens=usage.input_tokens, output_tokens=0, cache_read_tokens=0)
    if provider == "anthropic":  # thinking is inside output_tokens, not reported apart
        return replace(usage, reasoning_tokens=0)
    return replace(usage, cache_write_tokens=0, cache_write_1h_tokens=0)  # OpenAI and Gemini: no cache writes


@dataclass(frozen=True)
class Limit:
    """Usage that no attribute of a peer's spans carries (seen in the captured spans), and why."""

    expressible: Callable[[Usage], Usage]  # the wire usage -> what the spans carry
    reason: str


def _zero(*fields: str) -> Callable[[Usage], Usage]:
    return lambda usage: replace(usage, **dict.fromkeys(fields, 0))


_NO_1H = "the 1-hour part of the cache writes is on no attribute (it would need {})"
LIMITS: dict[tuple[str, str, str], Limit] = {  # (peer, case, provider)
    ("openllmetry-anthropic", "cache_1h", "anthropic"): Limit(
        _zero("cache_write_1h_tokens"),
        "OpenLLMetry keeps only the cache-write total (gen_ai.usage.cache_creation.input_tokens); "
        + _NO_1H.format("anthropic.usage.cache_creation.ephemeral_1h_input_tokens"),
    ),
    ("openllmetry-anthropic", "stream", "anthropic"): Limit(
        lambda usage: replace(usage, output_tokens=usage.output_tokens + 1),
        "OpenLLMetry adds message_start's output count (1) to message_delta's cumulative one: "
        "gen_ai.usage.output_tokens is one high and no attribute has the true count",
    ),
    ("openlit", "cache_1h", "anthropic"): Limit(
        _zero("cache_write_1h_tokens"),
        "OpenLIT keeps only the cache-write total (gen_ai.usage.cache_creation.input_tokens); "
        + _NO_1H.format("anthropic.usage.cache_creation.ephemeral_1h_input_tokens"),
    ),
    ("openlit", "stream", "anthropic"): Limit(
        lambda usage: replace(usage, input_tokens=usage.uncached_input, cache_read_tokens=0),
        "OpenLIT's Anthropic stream span drops message_start's cache counts: gen_ai.usage.input_tokens is "
        "the uncached input and gen_ai.usage.cache_read.input_tokens is 0",
    ),
    ("openlit", "reasoning", "openai"): Limit(
        _zero("reasoning_tokens"),
        "OpenLIT sets no reasoning attribute for chat completions "
        "(would need gen_ai.usage.reasoning.output_tokens from completion_tokens_details.reasoning_tokens)",
    ),
    **{
        ("openai-v2", case, "openai"): Limit(
            _zero("cache_read_tokens"),
            "openai-v2 2.4b0 sets no gen_ai.usage.cache_read.input_tokens for chat completions "
            "(prompt_tokens_details.cached_tokens)",
        )
        for case in ("stream", "cached")
    },
    ("openai-v2", "reasoning", "openai"): Limit(
        _zero("reasoning_tokens"),
        "openai-v2 2.4b0 sets no gen_ai.usage.reasoning.output_tokens "
        "(completion_tokens_details.reasoning_tokens)",
    ),
}


STORED_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "gemini": "gcp.gemini"}


def expected_calls(peer: str, case: str, received: list[Received], usage: Usage) -> list[ExpectedCall]:
    calls = []
    for request in received:
        provider, operation = STORED_PROVIDER[request.provider], operation_of(request)
        call = ExpectedCall(provider, model_of(request), operation, on_wire(provider, operation, usage))
        limit = LIMITS.get((peer, case, provider))
        if limit is not None:
            call.expressible, call.limit = limit.expressible(call.usage), limit.reason
        calls.append(call)
    return calls


# --- running one case -----------------------------------------------------------------------------


def peer_environment(peer: Peer, fake: FakeProvider, sink: OtlpSink) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_", "OPENAI_"))}
    environ.pop("VIRTUAL_ENV", None)
    environ.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=sink.endpoint + "/v1/traces",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OPENAI_API_KEY="sk-interop-fake",
        ANTHROPIC_API_KEY="sk-ant-interop-fake",
        GEMINI_API_KEY="interop-fake",
        SPENDGATE_FAKE_OPENAI_URL=fake.url("openai"),
        SPENDGATE_FAKE_ANTHROPIC_URL=fake.url("anthropic"),
        SPENDGATE_FAKE_GEMINI_URL=fake.base_url + "/gemini",
        PYTHONDONTWRITEBYTECODE="1",  # no __pycache__ inside the repository's peers/ folder
    )
    environ.update(peer.environ)
    return environ


def run_case(peer: Peer, case: str, fake: FakeProvider, sink: OtlpSink, versions: dict[str, str]) -> Fixture:
    fake.usage = CASES[case]
    fake.requests.clear()
    sink.take_traces()
    command = [str(venv_python(peer.env)), str(HERE / "peers" / peer.script), peer.name, case]
    result = subprocess.run(
        command,
        env=peer_environment(peer, fake, sink),
        capture_output=True,
        text=True,
        timeout=CASE_TIMEOUT_S,
    )
    if result.returncode != 0:
        raise RuntimeError(f"exit {result.returncode}\n{result.stderr[-4000:]}")
    requests = sink.take_traces()
    if not requests:
        raise RuntimeError(f"no trace export requests arrived\n{result.stderr[-2000:]}")
    calls = expected_calls(peer.name, case, list(fake.requests), CASES[case])
    if not calls:
        raise RuntimeError("the peer made no call to the fake provider")
    return Fixture(peer.name, case, versions, calls, requests, peer.notes)


def report(fixture: Fixture, path: Path, seconds: float, show: bool) -> None:
    spans = len(decode_spans(fixture.requests))
    print(
        f"  {fixture.case}: {len(fixture.calls)} call(s), {len(fixture.requests)} request(s), {spans} span(s)"
        f" in {seconds:.1f} s -> {shown(path)}",
        flush=True,
    )
    if show:
        print_spans(fixture)
    # Both lists should stay empty: a number nobody explained, or a limit the spans contradict.
    for unseen in unseen_usage(fixture):
        print(f"    WARNING on no span and no limit: {unseen}", flush=True)
    for seen in contradicted_limits(fixture):
        print(f"    WARNING a declared limit looks stale: {seen}", flush=True)


def capture(peers: list[Peer], cases: set[str] | None, show: bool) -> int:
    failures = 0
    with FakeProvider() as fake, OtlpSink() as sink:
        for peer in peers:
            versions = installed_versions(peer.env)
            print(f"{peer.name}: {json.dumps(versions)}", flush=True)
            for case in peer.cases:
                if cases is not None and case not in cases:
                    continue
                started = time.monotonic()
                try:
                    fixture = run_case(peer, case, fake, sink, versions)
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    failures += 1
                    print(f"  {case}: FAILED {error}", flush=True)
                    continue
                report(fixture, fixture.write(), time.monotonic() - started, show)
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--peer", nargs="+", choices=[p.name for p in PEERS], help="peers to run (default: all)"
    )
    parser.add_argument("--case", nargs="+", choices=list(CASES), help="cases to run (default: each peer's)")
    parser.add_argument("--show", action="store_true", help="print every span's attributes")
    args = parser.parse_args()
    peers = [p for p in PEERS if args.peer is None or p.name in args.peer]
    ensure_venvs({p.env for p in peers})
    return 1 if capture(peers, set(args.case) if args.case else None, args.show) else 0


if __name__ == "__main__":
    raise SystemExit(main())
