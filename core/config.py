"""Typed configuration models loaded from TOML: topics (and small value parsers shared by the CLI).

A leaf module: no Scrapy, no project imports. Every loader raises `ConfigError` whose message is one line
naming the file and the field, so the CLI can print it and exit 2 without a traceback.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A user-supplied configuration value is wrong. str(err) is a complete one-line explanation."""


@dataclass(frozen=True)
class TermGroup:
    name: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class TopicConfig:
    """A research topic: term groups with aliases, required groups, exclusions and a threshold."""

    name: str
    description: str
    groups: tuple[TermGroup, ...]
    required: tuple[str, ...] = ()  # group names that must all match
    exclude: tuple[str, ...] = ()  # terms that veto the topic
    threshold: float = 1.0
    title_weight: float = 3.0
    prefilter: bool = False  # may stage 1 (titles before fetching) prune candidates?
    source: str = ""  # where it was loaded from
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    # Queries for the outlets' site search; None = derived (see search_queries), () = no site search.
    search_terms: tuple[str, ...] | None = None

    @property
    def search_queries(self) -> tuple[str, ...]:
        """What to type into an outlet's site search for this topic.

        Explicit `search_terms` win. Otherwise one query: the first term of every required group joined
        by spaces (site search engines AND the words, and an article lacking a required group can never
        match the topic); without required groups, the first term of each group as its own query.
        """
        if self.search_terms is not None:
            return self.search_terms
        by_name = {g.name: g for g in self.groups}
        if self.required:
            return (" ".join(by_name[r].terms[0] for r in self.required),)
        return tuple(dict.fromkeys(g.terms[0] for g in self.groups))


def _require(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise ConfigError(f"{where}: missing field '{key}'")
    value = data[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"{where}: field '{key}' must be {kind.__name__}, got {type(value).__name__}")
    return value


def parse_topic(data: dict[str, Any], source: str) -> TopicConfig:
    name = _require(data, "name", str, source)
    description = data.get("description", "")
    raw_groups = _require(data, "groups", dict, source)
    groups = []
    for gname, terms in raw_groups.items():
        if not isinstance(terms, list) or not terms or not all(isinstance(t, str) and t for t in terms):
            raise ConfigError(f"{source}: field 'groups.{gname}' must be a non-empty list of strings")
        groups.append(TermGroup(gname, tuple(terms)))
    required = data.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise ConfigError(f"{source}: field 'required' must be a list of group names")
    for r in required:
        if r not in raw_groups:
            raise ConfigError(f"{source}: field 'required' names unknown group '{r}'")
    exclude = data.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(t, str) for t in exclude):
        raise ConfigError(f"{source}: field 'exclude' must be a list of strings")
    threshold = data.get("threshold", 1.0)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold <= 0:
        raise ConfigError(f"{source}: field 'threshold' must be a positive number")
    title_weight = data.get("title_weight", 3.0)
    if isinstance(title_weight, bool) or not isinstance(title_weight, int | float) or title_weight < 1:
        raise ConfigError(f"{source}: field 'title_weight' must be a number >= 1")
    prefilter = data.get("prefilter", False)
    if not isinstance(prefilter, bool):
        raise ConfigError(f"{source}: field 'prefilter' must be true or false")
    search_terms = data.get("search_terms")
    if search_terms is not None and (
        not isinstance(search_terms, list) or not all(isinstance(t, str) and t.strip() for t in search_terms)
    ):
        raise ConfigError(f"{source}: field 'search_terms' must be a list of non-empty strings")
    known = {
        "name",
        "description",
        "groups",
        "required",
        "exclude",
        "threshold",
        "title_weight",
        "prefilter",
        "search_terms",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown field '{unknown[0]}'")
    return TopicConfig(
        name=name,
        description=str(description),
        groups=tuple(groups),
        required=tuple(required),
        exclude=tuple(exclude),
        threshold=float(threshold),
        title_weight=float(title_weight),
        prefilter=prefilter,
        source=source,
        search_terms=None if search_terms is None else tuple(t.strip() for t in search_terms),
    )


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None


def load_topic_file(path: Path) -> TopicConfig:
    return parse_topic(load_toml(path), str(path))


def builtin_topics() -> dict[str, TopicConfig]:
    """The topics shipped with the project (core/topics/*.toml), by name."""
    topics: dict[str, TopicConfig] = {}
    for entry in sorted(resources.files("core.topics").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            topic = parse_topic(tomllib.loads(entry.read_text("utf-8")), f"builtin:{entry.name}")
            topics[topic.name] = topic
    return topics


def resolve_topic(spec: str) -> TopicConfig:
    """A topic named on the command line: a builtin name or a path to a TOML file."""
    if spec.endswith(".toml") or "/" in spec:
        return load_topic_file(Path(spec))
    topics = builtin_topics()
    if spec not in topics:
        raise ConfigError(
            f"unknown topic '{spec}' (known: {', '.join(sorted(topics))}; or give a .toml path)"
        )
    return topics[spec]


def parse_base_url(spec: str) -> tuple[str, str]:
    """`outlet=http://host:port` -> (outlet, origin) for the per-outlet base-URL override."""
    outlet, sep, url = spec.partition("=")
    if not sep or not outlet or not url:
        raise ConfigError(f"--base-url '{spec}': expected OUTLET=URL, e.g. jiji=http://127.0.0.1:8001")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--base-url '{spec}': URL must be http(s)://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"--base-url '{spec}': give only scheme://host[:port], no path")
    return outlet, f"{parts.scheme}://{parts.netloc}"
