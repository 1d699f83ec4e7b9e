"""Errors raised by the control-plane client.

Each error says what went wrong, where (the URL of the control plane) and what to do next, so the
CLI and the MCP tools can show `str(error)` as is. Messages never carry the API key.
"""

from __future__ import annotations

from typing import Any


class ControlPlaneError(Exception):
    """A control-plane call failed; `status` is the HTTP status when there was a response."""

    def __init__(self, message: str, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}; {self.hint}"
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for tool results."""
        return {
            "error": type(self).__name__,
            "message": self.message,
            "status": self.status,
            "hint": self.hint,
        }


class ConfigurationError(ControlPlaneError):
    """The environment does not say where the control plane is or which key to use."""


class AuthenticationError(ControlPlaneError):
    """The control plane rejected TFY_API_KEY (401), or the key lacks a permission (403)."""


class PermissionDeniedError(AuthenticationError):
    """The key is valid but not allowed to do this (403)."""


class NotFoundError(ControlPlaneError):
    """404: usually a TFY_BASE_URL that is not the bare origin of the control plane."""


class UnsupportedFeatureError(ControlPlaneError):
    """404 for an optional endpoint (explain, logs, usage): this control plane does not serve it."""

    def __init__(self, message: str, feature: str, status: int | None = 404, hint: str | None = None) -> None:
        super().__init__(message, status, hint)
        self.feature = feature


class ResourceNotFoundError(ControlPlaneError):
    """404 for a resource (e.g. deleting what does not exist) while the control plane's URL is right."""


class ValidationFailed(ControlPlaneError):
    """The control plane refused the request body (4xx); `findings` holds structured details if sent."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        hint: str | None = None,
        findings: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, status, hint)
        self.findings: list[dict[str, Any]] = list(findings or [])

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "findings": self.findings}


class UnreachableError(ControlPlaneError):
    """No HTTP response at all: connection refused, DNS failure or timeout."""
