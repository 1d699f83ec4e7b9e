"""AWS Signature Version 4 for Bedrock access-key auth, by botocore's own signer.

A signature covers the method, URL, signed headers, body and time, so it is made per attempt, once
every header is final (`openai_bedrock.plan`). botocore is the optional extra `tfy-gateway[bedrock]`:
signing is security-critical and botocore's is AWS's own, kept current by AWS (canonical URI
double-encoding, header canonicalisation), where a hand-written signer would be one more thing to get
subtly wrong. Bearer (api-key) auth needs none of it. botocore is loaded when a target that signs is
built (a config apply), never at import, so the gateway starts without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from tfy_gateway.gateway.errors import ConfigError

SERVICE = "bedrock"
EXTRA_HINT = "pip install 'tfy-gateway[bedrock]'"
_SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


class SigningUnavailable(ConfigError):
    """botocore is not installed: access-key auth cannot sign (the message says how to fix it)."""


def _botocore() -> tuple[Any, Any, Any]:
    try:
        auth = importlib.import_module("botocore.auth")
        awsrequest = importlib.import_module("botocore.awsrequest")
        credentials = importlib.import_module("botocore.credentials")
    except ImportError:
        raise SigningUnavailable(
            f"access-key-based auth signs every request with AWS SigV4, which needs botocore: {EXTRA_HINT} "
            "(or use api-key auth, a Bedrock API key sent as a bearer token, which needs nothing extra)"
        ) from None
    return auth, awsrequest, credentials


class SigV4Signer:
    """A `RequestSigner` (providers/base.py) for one set of AWS credentials and one region."""

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        region: str,
        *,
        session_token: str | None = None,
        service: str = SERVICE,
    ) -> None:
        auth, self._awsrequest, credentials = _botocore()
        creds = credentials.Credentials(access_key_id, secret_access_key, session_token)
        self._auth = auth.SigV4Auth(creds, service, region)
        self._secrets = tuple(value for value in (secret_access_key, session_token) if value)
        self.region = region

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def sign(self, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        """The headers that carry the signature of a POST of `body` to `url` with `headers`."""
        request = self._awsrequest.AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
        self._auth.add_auth(request)
        return {name.lower(): str(request.headers[name]) for name in _SIGNATURE_HEADERS if name in request.headers}
