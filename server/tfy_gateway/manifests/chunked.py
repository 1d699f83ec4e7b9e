"""Validate a manifest's long lists in pieces, so no single call into pydantic-core runs for long.

pydantic-core validates a model in one call that holds the GIL throughout: for a 25,000-rule config
that is 100-250 ms during which no other thread of the process runs, the gateway's event loop
included (its `/health` stalled for that long during such an apply). Here each top-level list longer
than `CHUNK` items is validated `CHUNK` items at a time through the field's own type, and the model is
then validated with the validated items, which it takes as they are (instances of its own classes are
not validated again; the model's own checks across the list still run). Between two pieces other
threads get the GIL. The result is the same model; an invalid piece falls back to validating the raw
manifest in one call, so errors are reported exactly as before.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

M = TypeVar("M", bound=BaseModel)

CHUNK = 500
"""Items per call into pydantic-core: ~2-5 ms each for a routing rule on this machine."""


@functools.cache
def _list_type(model_class: type[BaseModel], field: str) -> TypeAdapter[list[Any]]:
    adapter: TypeAdapter[list[Any]] = TypeAdapter(model_class.model_fields[field].annotation)  # type: ignore[arg-type]
    return adapter


def validate_in_chunks(model_class: type[M], manifest: Mapping[str, Any]) -> M:
    """`model_class.model_validate(manifest)`, with long top-level lists validated piece by piece."""
    long_lists = [
        name
        for name, value in manifest.items()
        if isinstance(value, list) and len(value) > CHUNK and name in model_class.model_fields
    ]
    if not long_lists:
        return model_class.model_validate(manifest)
    prepared = dict(manifest)
    for name in long_lists:
        items: list[Any] = manifest[name]
        adapter = _list_type(model_class, name)
        validated: list[Any] = []
        try:
            for start in range(0, len(items), CHUNK):
                validated += adapter.validate_python(items[start : start + CHUNK])
        except ValidationError:
            return model_class.model_validate(manifest)  # the same errors, with their paths, as without chunks
        prepared[name] = validated
    return model_class.model_validate(prepared)
