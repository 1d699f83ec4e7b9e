"""`Notifier`: sends one delivery to its receiver, over aiohttp (webhooks, Slack, PagerDuty) or SMTP.

Every HTTP delivery carries the delivery's `Idempotency-Key` (the same on every attempt), an email
its Message-ID. Every failure is a `DeliveryError` whose message says what happened in terms safe to
show: the receiver's host (never its URL), its status and a short scrubbed excerpt of its answer, or
the kind of network error. Secret values (webhook URLs, tokens, routing keys, passwords) and their
identifying pieces are removed from anything a receiver or an exception says before it reaches a log
line or the alert's status (`secrets_masking.scrub`). Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import orjson

from tfy_gateway.gateway.alerts import messages
from tfy_gateway.gateway.alerts.channels import ChannelSettings
from tfy_gateway.gateway.alerts.journal import Delivery
from tfy_gateway.gateway.errors import RemoteError
from tfy_gateway.gateway.secrets_masking import host_of, scrub

if TYPE_CHECKING:
    import aiohttp

DEFAULT_PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_SLACK_API_URL = "https://slack.com/api/chat.postMessage"
EXCERPT_CHARS = 200
IDEMPOTENCY_HEADER = "Idempotency-Key"  # the IETF httpapi draft's name; the same on every attempt
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class DeliveryError(RemoteError):
    """One attempt failed; the message is safe to log and show (no secret in it)."""


@dataclass(frozen=True)
class Endpoints:
    """Where the hosted APIs are (overridable for regions, proxies and tests) and how long to wait."""

    pagerduty_url: str = DEFAULT_PAGERDUTY_URL
    slack_api_url: str = DEFAULT_SLACK_API_URL
    timeout_s: float = 10.0


class Notifier:
    """Owns one aiohttp session for all HTTP deliveries; `open()` before use, `aclose()` after.

    The session (and aiohttp itself) is made at the first HTTP delivery: most gateways never send an
    alert, and importing aiohttp is a sixth of their start-up."""

    def __init__(self, endpoints: Endpoints | None = None) -> None:
        self.endpoints = endpoints or Endpoints()
        self._open = False
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._open = True

    def _client(self) -> aiohttp.ClientSession:
        if not self._open:
            raise DeliveryError("the notifier is not open (the outbox was not started)")
        if self._session is None:
            import aiohttp

            timeout = aiohttp.ClientTimeout(total=self.endpoints.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout, raise_for_status=False)
        return self._session

    async def aclose(self) -> None:
        self._open = False
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def send(self, delivery: Delivery, channel: ChannelSettings, wait_s: float | None = None) -> None:
        """Deliver once, waiting at most `wait_s` (default: the endpoints' timeout) for the answer;
        raise `DeliveryError` on any failure. Every HTTP delivery carries `Idempotency-Key`."""
        alert, kind = delivery.alert, delivery.target["type"]
        post = _Post(delivery.idempotency_key, wait_s or self.endpoints.timeout_s, channel)
        if kind == "slack-webhook":
            await self._post(channel["webhook_url"], messages.slack_webhook(alert), post)
        elif kind == "ms-teams-webhook":
            await self._post(channel["webhook_url"], messages.ms_teams(alert), post)
        elif kind == "pagerduty":
            url = channel.get("integration_url") or self.endpoints.pagerduty_url
            await self._post(url, messages.pagerduty(alert, channel["integration_key"]), post)
        elif kind == "slack-bot":
            url = channel.get("api_url") or self.endpoints.slack_api_url
            post = post.with_header("Authorization", f"Bearer {channel['bot_token']}")
            answer = await self._post(url, messages.slack_bot(alert, delivery.destination), post)
            _check_slack_answer(answer, channel)
        elif kind == "email":
            await self._email(delivery, channel)
        else:  # Alert validates target types; this guards a database edited by hand
            raise DeliveryError(f"unknown notification target type {kind!r}")

    async def _post(self, url: str, body: Any, post: _Post) -> bytes:
        import aiohttp  # loaded by _client() already: a lookup, on a path that is not per request

        session = self._client()
        host = host_of(url)
        secrets = post.channel.secrets()
        headers = {"Content-Type": "application/json; charset=utf-8", **post.headers}
        timeout = aiohttp.ClientTimeout(total=post.wait_s)
        try:
            async with session.post(
                url, data=orjson.dumps(body), headers=headers, allow_redirects=False, timeout=timeout
            ) as response:
                answer = await response.content.read(64 * 1024)
                status = response.status
        except asyncio.TimeoutError:
            raise DeliveryError(f"{host} did not answer within {post.wait_s:g}s") from None
        except aiohttp.ClientConnectorError as exc:
            raise DeliveryError(f"could not connect to {host}: {scrub(str(exc.os_error), secrets)}") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"sending to {host} failed: {type(exc).__name__}") from None
        if not 200 <= status < 300:
            excerpt = scrub(answer[:EXCERPT_CHARS].decode("utf-8", "replace"), secrets).strip()
            said = f": {excerpt}" if excerpt else ""
            raise DeliveryError(f"{host} answered {status}{said}")
        return answer

    async def _email(self, delivery: Delivery, channel: ChannelSettings) -> None:
        port_text = channel.get("port") or "587"
        tls_text = (channel.get("tls") or "true").strip().lower()
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise DeliveryError(f"email channel {channel.channel!r}: port must be 1-65535, got {port_text!r}")
        if tls_text not in _TRUE + _FALSE:
            raise DeliveryError(
                f"email channel {channel.channel!r}: tls must be true/false (1/0, yes/no, on/off), got {tls_text!r}"
            )
        try:
            message = messages.email(delivery.alert, channel["from_email"], delivery.destination)
        except ValueError as exc:  # e.g. a line break in an address: refused by the email package
            raise DeliveryError(f"email channel {channel.channel!r}: cannot build the message: {exc}") from None
        message["Message-ID"] = f"<{delivery.idempotency_key}@tfy-gateway>"  # the same for every attempt
        smtp = _Smtp(
            host=channel["host"],
            port=int(port_text),
            starttls=tls_text in _TRUE,
            username=channel.get("username"),
            password=channel.get("password"),
            timeout=self.endpoints.timeout_s,
        )
        try:
            await anyio.to_thread.run_sync(smtp.send, message)
        except (smtplib.SMTPException, OSError) as exc:
            detail = scrub(str(exc), channel.secrets())[:EXCERPT_CHARS]
            raise DeliveryError(f"SMTP {smtp.host}:{smtp.port}: {type(exc).__name__}: {detail}") from None


@dataclass(frozen=True)
class _Post:
    """What every HTTP delivery of one attempt shares: its key, how long it waits, its channel."""

    idempotency_key: str
    wait_s: float
    channel: ChannelSettings
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def headers(self) -> dict[str, str]:
        return {IDEMPOTENCY_HEADER: self.idempotency_key, **dict(self.extra)}

    def with_header(self, name: str, value: str) -> _Post:
        return _Post(self.idempotency_key, self.wait_s, self.channel, (*self.extra, (name, value)))


@dataclass(frozen=True)
class _Smtp:
    host: str
    port: int
    starttls: bool
    username: str | None
    password: str | None
    timeout: float

    def __repr__(self) -> str:
        return f"_Smtp(host={self.host!r}, port={self.port}, starttls={self.starttls})"

    def send(self, message: Any) -> None:
        """One SMTP session (blocking: run it in a worker thread)."""
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
            client.ehlo()
            if self.starttls:
                client.starttls()
                client.ehlo()
            if self.username:
                client.login(self.username, self.password or "")
            client.send_message(message)


def _check_slack_answer(answer: bytes, channel: ChannelSettings) -> None:
    """chat.postMessage answers 200 with `{"ok": false, "error": ...}` for most failures."""
    try:
        body = orjson.loads(answer)
    except orjson.JSONDecodeError:
        raise DeliveryError("Slack answered with something that is not JSON") from None
    if not isinstance(body, dict) or body.get("ok") is not True:
        error = body.get("error") if isinstance(body, dict) else None
        raise DeliveryError(f"Slack refused the message: {scrub(str(error or 'ok is not true'), channel.secrets())}")
