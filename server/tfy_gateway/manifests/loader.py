"""Read manifests from YAML or JSON text, keeping where each value was written.

A file holds one or many documents: `---` separated, or a top-level list of manifests (both occur in
the platform's docs). Data is built from the same node tree the positions come from, so a finding's
path always maps to the line the user wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tfy_gateway.manifests.findings import Finding, ManifestLoadError
from tfy_gateway.manifests.gc_pause import gc_paused

try:  # libyaml's parser is an order of magnitude faster on large manifests
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

PathKey = tuple[str | int, ...]
Position = tuple[int, int]


@dataclass
class Document:
    """One manifest as written, with the 1-based line/column of every key and value."""

    data: Any
    index: int
    file: str
    values: dict[PathKey, Position] = field(default_factory=dict, repr=False)
    keys: dict[PathKey, Position] = field(default_factory=dict, repr=False)
    duplicate_keys: list[PathKey] = field(default_factory=list, repr=False)

    def position(self, path: PathKey, *, key: bool = False) -> Position | None:
        """Position of `path`, or of its nearest written ancestor when it is missing."""
        table = self.keys if key else self.values
        probe = path
        while True:
            if probe in table:
                return table[probe]
            if key and probe in self.values:
                return self.values[probe]
            if not probe:
                return None
            probe = probe[:-1]
            table = self.values


_MISSING = object()
_MERGE = "<<"


class _Frame:
    __slots__ = ("container", "key", "merge_pending", "path")

    def __init__(self, container: dict[Any, Any] | list[Any], path: PathKey):
        self.container = container
        self.path = path
        self.key: Any = _MISSING
        self.merge_pending = False


class _Scalars:
    """YAML 1.1 scalar resolution exactly as PyYAML's SafeLoader does it, cached per distinct text.

    Manifests repeat the same plain scalars (field values, numbers) thousands of times; resolving
    each distinct one once is what makes large files load in a fraction of a second.
    """

    def __init__(self) -> None:
        self._resolver = yaml.resolver.Resolver()
        # PyYAML's stubs leave resolve() unannotated; this is its signature (node kind, text, implicit) -> tag.
        self._resolve: Callable[[type[yaml.Node], str, tuple[bool, bool]], str] = self._resolver.resolve
        self._constructor = yaml.constructor.SafeConstructor()
        self._plain: dict[str, Any] = {}
        self._implicit_first_chars = frozenset(self._resolver.yaml_implicit_resolvers)

    def value(self, event: Any) -> Any:
        explicit_tag = event.tag not in (None, "!")
        if not explicit_tag and event.style:  # quoted or block scalars are strings
            return event.value
        if not explicit_tag:
            text = event.value
            if text and text[0] not in self._implicit_first_chars:
                return text  # no implicit type starts with this character: a plain string
            cached = self._plain.get(text, _MISSING)
            if cached is not _MISSING:
                return cached
        tag = event.tag if explicit_tag else self._resolve(yaml.ScalarNode, event.value, event.implicit)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        result = self._constructor.construct_object(node, deep=True)
        if not explicit_tag and (result is None or isinstance(result, str | int | float | bool)):
            self._plain[event.value] = result
        return result


def _position(event: Any) -> Position:
    return (event.start_mark.line + 1, event.start_mark.column + 1)


def _documents_from_events(events: Iterator[Any], file: str) -> Iterator[Document]:
    """Build plain data from parser events, recording the position of every key and value."""
    scalars = _Scalars()
    doc = Document(data=None, index=0, file=file)
    anchors: dict[str, Any] = {}
    stack: list[_Frame] = []

    def child_path() -> PathKey | None:
        """Path of the value the next node fills, or None when the node is a mapping key."""
        if not stack:
            return ()
        frame = stack[-1]
        if isinstance(frame.container, list):
            return (*frame.path, len(frame.container))
        if frame.key is _MISSING:
            return None
        return (*frame.path, frame.key)

    def attach(value: Any) -> None:
        if not stack:
            doc.data = value
            return
        frame = stack[-1]
        if isinstance(frame.container, list):
            frame.container.append(value)
            return
        if frame.merge_pending:
            sources = value if isinstance(value, list) else [value]
            for source in sources:
                if isinstance(source, dict):
                    for key, item in source.items():
                        frame.container.setdefault(key, item)
            frame.merge_pending = False
        else:
            frame.container[frame.key] = value
        frame.key = _MISSING

    scalar_event, mapping_end, sequence_end = yaml.ScalarEvent, yaml.MappingEndEvent, yaml.SequenceEndEvent
    for event in events:
        kind = type(event)
        if kind is mapping_end or kind is sequence_end:
            finished = stack.pop()
            attach(finished.container)
            continue
        if kind is scalar_event and stack and isinstance(stack[-1].container, dict) and stack[-1].key is _MISSING:
            frame = stack[-1]  # a mapping key
            if event.value == _MERGE and not event.style:
                frame.merge_pending = True
                frame.key = _MERGE
                continue
            key = scalars.value(event)
            key = key if isinstance(key, str | int) else str(key)
            key_path = (*frame.path, key)
            if key in frame.container:
                doc.duplicate_keys.append(key_path)
            doc.keys[key_path] = _position(event)
            frame.key = key
            continue
        if isinstance(event, yaml.DocumentStartEvent):
            doc = Document(data=None, index=0, file=file)
            anchors = {}
            continue
        if isinstance(event, yaml.DocumentEndEvent):
            yield doc
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        path = child_path()
        if path is None:  # scalar keys took the fast path above; this key is a mapping or a list
            raise yaml.MarkedYAMLError(
                problem="complex mapping keys are not supported", problem_mark=getattr(event, "start_mark", None)
            )
        if not (stack and stack[-1].merge_pending):
            doc.values[path] = _position(event)
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                raise yaml.MarkedYAMLError(
                    problem=f"found undefined alias {event.anchor!r}", problem_mark=getattr(event, "start_mark", None)
                )
            attach(anchors[event.anchor])
        elif isinstance(event, yaml.ScalarEvent):
            value = scalars.value(event)
            if event.anchor:
                anchors[event.anchor] = value
            attach(value)
        else:
            container: dict[Any, Any] | list[Any] = {} if isinstance(event, yaml.MappingStartEvent) else []
            if event.anchor:
                anchors[event.anchor] = container
            stack.append(_Frame(container, path))


def _error(file: str, message: str, line: int | None = None, column: int | None = None) -> ManifestLoadError:
    return ManifestLoadError(Finding("error", "parse-error", message, file=file, line=line, column=column))


def _yaml_error(file: str, exc: yaml.YAMLError) -> ManifestLoadError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    if mark is None:
        return _error(file, message)
    return _error(file, message, mark.line + 1, mark.column + 1)


def load_text(text: str, file: str = "<input>") -> list[Document]:
    """Parse YAML (or JSON, a subset of YAML) into documents; raises ManifestLoadError with a position."""
    if "\t" in text and text.lstrip().startswith(("{", "[")):
        text = text.expandtabs(2)  # JSON allows tabs as whitespace, YAML does not
    documents: list[Document] = []
    try:
        with gc_paused():
            parsed_documents = list(_documents_from_events(yaml.parse(text, Loader=_Loader), file))
        for parsed in parsed_documents:
            if parsed.data is None:
                continue
            if isinstance(parsed.data, list):
                for offset, item in enumerate(parsed.data):
                    documents.append(_rebase(parsed, item, offset, len(documents)))
                continue
            parsed.index = len(documents)
            documents.append(parsed)
    except yaml.YAMLError as exc:
        raise _yaml_error(file, exc) from None
    if not documents:
        raise _error(file, "no manifest found: the file is empty (write at least `name:` and `type:`)")
    return documents


def _rebase(parent: Document, data: Any, offset: int, index: int) -> Document:
    """A document taken from a top-level list: its paths drop the list index."""
    doc = Document(data=data, index=index, file=parent.file)
    for table_name in ("values", "keys"):
        source: dict[PathKey, Position] = getattr(parent, table_name)
        target: dict[PathKey, Position] = getattr(doc, table_name)
        for path, position in source.items():
            if path and path[0] == offset:
                target[path[1:]] = position
    doc.duplicate_keys = [p[1:] for p in parent.duplicate_keys if p and p[0] == offset]
    return doc


def load_file(path: str | Path) -> list[Document]:
    """Read one manifest file; a missing or unreadable file is a ManifestLoadError, not a traceback."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _error(name, f"file not found: {name}") from None
    except IsADirectoryError:
        raise _error(name, f"{name} is a directory; pass manifest files") from None
    except UnicodeDecodeError as exc:
        raise _error(name, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except OSError as exc:
        raise _error(name, f"cannot read {name}: {exc.strerror}") from None
    return load_text(text, name)
