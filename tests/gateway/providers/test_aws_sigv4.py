"""SigV4 for Bedrock access-key accounts: what the gateway sends is signed exactly as botocore signs
that same request, with a fixed clock and credentials."""

from __future__ import annotations

import datetime
from typing import Any

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tfy_gateway.gateway.providers import CallOptions, SecretResolver, target_for
from tfy_gateway.gateway.providers.aws_sigv4 import SigV4Signer
from tfy_gateway.gateway.providers.openai_bedrock import plan
from tfy_gateway.manifests.providers import AwsBedrockAccount

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = datetime.datetime(2015, 8, 30, 12, 36, 0)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: NOW)


def account(**auth: Any) -> AwsBedrockAccount:
    return AwsBedrockAccount.model_validate(
        {
            "name": "bedrock",
            "type": "provider-account/aws-bedrock",
            "region": "eu-west-1",
            "auth_data": {"type": "access-key-based", "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY},
            "integrations": [
                {
                    "type": "integration/model/bedrock",
                    "name": "claude",
                    "model_id": "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
                    "model_types": ["chat"],
                }
            ],
        }
    )


def test_aws_reference_vector() -> None:
    """AWS's SigV4 test suite, `post-vanilla`: an independent check of the signer we call."""
    signed = SigV4Signer(ACCESS_KEY, SECRET_KEY, "us-east-1", service="service").sign(
        "https://example.amazonaws.com/", {}, b""
    )
    assert signed == {
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        "x-amz-date": "20150830T123600Z",
    }


@pytest.mark.parametrize("stream", [False, True])
def test_the_request_the_gateway_sends_is_what_botocore_signs(stream: bool) -> None:
    bedrock = account()
    target = target_for(bedrock, bedrock.integrations[0], SecretResolver())
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9, "stream": stream}
    options = CallOptions(headers_override={"set": {"x-team": "search"}}, trace_headers={"traceparent": "00-ab-cd-01"})
    sent = plan(target, "chat", body, options).request
    assert sent.url == (
        "https://bedrock-runtime.eu-west-1.amazonaws.com/model/"
        f"us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/{'converse-stream' if stream else 'converse'}"
    )
    unsigned = {k: v for k, v in sent.headers.items() if k not in ("authorization", "x-amz-date")}
    expected = AWSRequest(method="POST", url=sent.url, data=sent.body, headers=unsigned)
    botocore.auth.SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "bedrock", "eu-west-1").add_auth(expected)
    assert sent.headers["authorization"] == expected.headers["Authorization"]
    assert sent.headers["x-amz-date"] == "20150830T123600Z"
    signed_headers = sent.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "content-type", "accept", "x-team"} <= set(
        signed_headers
    )  # botocore leaves traceparent out
    assert SECRET_KEY not in repr(target)
