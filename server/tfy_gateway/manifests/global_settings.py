"""`gateway-global-settings`: tenant-wide defaults (truefoundry-sdk 0.6.0 `GlobalSettings`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tfy_gateway.manifests.common import StrictModel
from tfy_gateway.manifests.routing import RetryConfig


class LoggingAlways(StrictModel):
    type: Literal["always"]


class LoggingNever(StrictModel):
    type: Literal["never"]


class LoggingHeaderControlled(StrictModel):
    type: Literal["header_controlled"]
    log_body_by_default: bool


class SemanticCacheSettings(StrictModel):
    semantic_cache_embedding_model: str


class GuardrailSettings(StrictModel):
    timeout_ms: int | None = Field(
        default=None, ge=1, description="How long a guardrail may take before it counts as failed (default 5000)."
    )
    enable_parallel_execution: bool | None = Field(
        default=None,
        description="Input validation alongside the model call (default true); false: before it.",
    )


class GlobalSettings(StrictModel):
    name: str = Field(min_length=1)
    type: Literal["gateway-global-settings"]
    retry_settings: RetryConfig | None = None
    logging_settings: (
        Annotated[LoggingAlways | LoggingNever | LoggingHeaderControlled, Field(discriminator="type")] | None
    ) = None
    semantic_cache_settings: SemanticCacheSettings | None = None
    guardrail_settings: GuardrailSettings | None = None
