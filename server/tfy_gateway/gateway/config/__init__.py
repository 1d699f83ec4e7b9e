"""The applied configuration compiled for the hot path, and the hub that swaps it atomically."""

from tfy_gateway.gateway.config.catalog import CatalogEntry, ModelCatalog
from tfy_gateway.gateway.config.compiled import EMPTY_CONFIG, CompiledConfig, CompileError, ConfigCompiler
from tfy_gateway.gateway.config.hub import ConfigHub

__all__ = [
    "EMPTY_CONFIG",
    "CatalogEntry",
    "CompileError",
    "CompiledConfig",
    "ConfigCompiler",
    "ConfigHub",
    "ModelCatalog",
]
