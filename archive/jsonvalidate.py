"""Validate JSON values against the subset of JSON Schema (2020-12) our generated schemas use.

Hand-written because the `jsonschema` package is not among the project's dependencies (and pulls in
`referencing`, `rpds-py`, `attrs`); the article schema uses a dozen keywords. A keyword outside that
subset is refused loudly rather than ignored, so a richer future schema cannot pass rows unchecked:
switch to `jsonschema` then.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

_ANNOTATIONS = {
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "$defs",
    "definitions",
}
_SUPPORTED = {
    "type",
    "enum",
    "const",
    "pattern",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "$ref",
    "anyOf",
    "minimum",
    "maximum",
}


class UnsupportedSchemaError(ValueError):
    pass


def _is_type(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    raise UnsupportedSchemaError(f"unknown JSON Schema type {name!r}")


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def iter_errors(
    value: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, path: str = "$"
) -> Iterator[str]:
    """Yield one message per violation, naming the JSON path (`$.warc.offset: ...`)."""
    root = schema if root is None else root
    unknown = set(schema) - _SUPPORTED - _ANNOTATIONS
    if unknown:
        raise UnsupportedSchemaError(f"{path}: schema keywords {sorted(unknown)} are not supported here")
    if "$ref" in schema:
        yield from iter_errors(value, _resolve(root, schema["$ref"]), root, path)
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in allowed):
            yield f"{path}: {_kind(value)} is not of type {' or '.join(allowed)}"
            return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{path}: {value!r} is not one of {schema['enum']}"
    if "const" in schema and value != schema["const"]:
        yield f"{path}: {value!r} != {schema['const']!r}"
    if "pattern" in schema and isinstance(value, str) and not _regex(schema["pattern"]).search(value):
        yield f"{path}: {value!r} does not match {schema['pattern']!r}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            yield f"{path}: {value} < minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            yield f"{path}: {value} > maximum {schema['maximum']}"
    if "anyOf" in schema:
        branches = [list(iter_errors(value, sub, root, path)) for sub in schema["anyOf"]]
        if all(branches):
            yield f"{path}: matches none of the allowed forms ({'; '.join(b[0] for b in branches)})"
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                yield f"{path}: required property {name!r} is missing"
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                yield from iter_errors(item, properties[name], root, f"{path}.{name}")
            elif extra is False:
                yield f"{path}: property {name!r} is not allowed"
            elif isinstance(extra, Mapping):
                yield from iter_errors(item, extra, root, f"{path}.{name}")
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            yield from iter_errors(item, schema["items"], root, f"{path}[{i}]")


def errors(value: Any, schema: Mapping[str, Any]) -> list[str]:
    return list(iter_errors(value, schema))


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise UnsupportedSchemaError(f"only local $ref (#/...) is supported, not {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__
