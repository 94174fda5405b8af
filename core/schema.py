"""The JSON Schema of the article record, generated from `core.items.Article`.

`python -m core.schema > schema/article-<SCHEMA_VERSION>.json` writes the published file; a test
fails when the committed file differs from what this module generates, so the dataclass and the schema
cannot drift apart.

Choices, and why:
- `required` = the fields without a default: those every producer must set.
- `additionalProperties` is left open (true) at every level. Compatible additions bump only the minor
  version; a consumer that validates 1.1 rows with the 1.0 schema it pinned must keep accepting them. The
  producer is kept honest by a test instead: every key `Article.to_json()` emits is declared here.
- `schema_version` is constrained to the same major version, for the same reason.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from typing import Any, Literal, get_args, get_origin, get_type_hints

from core.items import SCHEMA_VERSION, Article

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_filename(version: str = SCHEMA_VERSION) -> str:
    return f"article-{version}.json"


def schema_relpath(version: str = SCHEMA_VERSION) -> str:
    """Where the schema lives, in the repository and in every archive root."""
    return f"schema/{schema_filename(version)}"


def _type_schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = get_origin(tp)
    if tp is Any:
        return {}
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is type(None):
        return {"type": "null"}
    if origin is Literal:
        values = list(get_args(tp))
        return {"type": "string", "enum": values}
    if origin in (types.UnionType, typing.Union):
        options = [_type_schema(arg, defs) for arg in get_args(tp)]
        simple = [o for o in options if set(o) == {"type"} and isinstance(o["type"], str)]
        if len(simple) == len(options):
            return {"type": [o["type"] for o in simple]}
        return {"anyOf": options}
    if origin is list:
        (item,) = get_args(tp)
        return {"type": "array", "items": _type_schema(item, defs)}
    if origin is dict:
        key, value = get_args(tp)
        if key is not str:
            raise TypeError(f"JSON object keys are strings, not {key}")
        return {"type": "object", "additionalProperties": _type_schema(value, defs)}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder: a recursive dataclass would otherwise loop
            defs[name] = _object_schema(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON Schema mapping for {tp!r}")


def _object_schema(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        properties[f.name] = _type_schema(hints[f.name], defs)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": True,
    }


def article_schema(version: str = SCHEMA_VERSION) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    body = _object_schema(Article, defs)
    major = version.split(".", 1)[0]
    body["properties"]["schema_version"] = {
        "type": "string",
        "pattern": rf"^{major}\.[0-9]+\.[0-9]+$",
        "default": version,
    }
    if "schema_version" not in body["required"]:
        body["required"].append("schema_version")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"urn:newsarchive:schema:{schema_filename(version)}",
        "title": f"newsarchive article record {version}",
        "description": (
            "One archived article, one JSON object per line under articles/. Generated from "
            "core.items.Article; fields are documented in docs/article-schema.md."
        ),
        **body,
        "$defs": dict(sorted(defs.items())),
    }


def schema_text(version: str = SCHEMA_VERSION) -> str:
    """The exact text of the published schema file (stable: sorted $defs, two-space indent, newline)."""
    return json.dumps(article_schema(version), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_text())
