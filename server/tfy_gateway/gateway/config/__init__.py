"""The applied configuration compiled for the hot path, the hub that holds it, and the writer that changes it."""

from tfy_gateway.gateway.config.catalog import CatalogEntry, ModelCatalog
from tfy_gateway.gateway.config.compiled import EMPTY_CONFIG, CompiledConfig, CompileError, ConfigCompiler
from tfy_gateway.gateway.config.hub import ConfigHub
from tfy_gateway.gateway.config.writer import ChangedElsewhere, ConfigWriter, Operation, TokenReveals

__all__ = [
    "EMPTY_CONFIG",
    "CatalogEntry",
    "ChangedElsewhere",
    "CompileError",
    "CompiledConfig",
    "ConfigCompiler",
    "ConfigHub",
    "ConfigWriter",
    "ModelCatalog",
    "Operation",
    "TokenReveals",
]
