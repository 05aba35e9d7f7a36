"""boto3's bedrock-runtime client, instrumented, against the fake provider."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest
from opentelemetry.trace import StatusCode
from spendgate.instrumentation.bedrock import BedrockInstrumentor
from spendgate.instrumentation.fake_provider import FakeProvider, Usage

from .conftest import CapturedSpans, instrumented

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "hi"}]}]
USAGE = Usage(input_tokens=1100, output_tokens=70, cache_read_tokens=300, cache_write_tokens=100)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(usage=USAGE) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def instrumentation(captured: CapturedSpans) -> Iterator[Any]:
    yield from instrumented(BedrockInstrumentor, captured)


@pytest.fixture
def client(fake: FakeProvider) -> Any:
    return boto3.client(
        "bedrock-runtime", endpoint_url=fake.url("bedrock"), region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip


def _assert_usage(attrs: dict[str, Any]) -> None:
    assert attrs["gen_ai.provider.name"] == "aws.bedrock"
    assert attrs["gen_ai.request.model"] == MODEL
    assert attrs["gen_ai.usage.input_tokens"] == 1100  # 700 uncached + 300 read + 100 written
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 300
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 100
    assert attrs["gen_ai.usage.output_tokens"] == 70


def test_converse(client: Any, spans: CapturedSpans) -> None:
    response = client.converse(modelId=MODEL, messages=MESSAGES)
    assert response["output"]["message"]["content"][0]["text"] == "Hello from the fake provider."
    assert response["usage"]["inputTokens"] == 700  # the caller sees Bedrock's own numbers
    attrs = spans.attrs()
    _assert_usage(attrs)
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)


def test_converse_stream_and_early_break(client: Any, spans: CapturedSpans) -> None:
    events = list(client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"])
    assert [next(iter(e)) for e in events][0] == "messageStart" and "metadata" in events[-1]
    _assert_usage(spans.attrs())
    spans.clear()
    stream = client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]
    for _ in stream:
        break
    stream.close()
    assert len(spans.get()) == 1


def test_throttling_and_server_errors_pass_through(
    client: Any, fake: FakeProvider, spans: CapturedSpans
) -> None:
    fake.fail_next(429)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.converse(modelId=MODEL, messages=MESSAGES)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    span = spans.one()
    assert span.status.status_code == StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "ThrottlingException"  # botocore's modelled ClientError


def test_other_aws_calls_are_not_metered(fake: FakeProvider, spans: CapturedSpans) -> None:
    s3 = boto3.client(
        "s3", endpoint_url=fake.base_url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_bucket(Bucket="nothing-here")
    assert spans.get() == []


def test_uninstrument_restores_botocore() -> None:
    import botocore.client

    assert type(botocore.client.BaseClient.__dict__["_make_api_call"]).__name__ == "FunctionWrapper"
    BedrockInstrumentor().uninstrument()
    try:
        assert type(botocore.client.BaseClient.__dict__["_make_api_call"]).__name__ == "function"
    finally:
        BedrockInstrumentor().instrument()
