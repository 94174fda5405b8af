"""Outlets described by data: the TOML model, its validation and the builtin files in spiders/outlets/.

A bad file stops the run before any request: `load_outlet_file` raises `ConfigError("<file>: field 'x.y':
why")` for unknown keys, wrong types, regexes that do not compile, CSS selectors cssselect cannot read,
URLs that are not http(s) or not on the outlet's hosts. Every key is documented in docs/outlets.md.

Hand validation rather than pydantic (not a dependency), in the style of core.config's topic loader.
No Scrapy here: the spider class is built from an OutletConfig by spiders.generic.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.config import ConfigError, load_toml
from spiders.pages.generic import LayoutRules, PageRules, check_css, check_source

LANGUAGES = ("ja", "en")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class ListingConfig:
    """Listing markup as CSS selectors (converted to the XPath that spiders.discovery reads)."""

    item: str
    link: str = "a[href]"
    time: str = "time, span"
    next: str = "a[rel=next]"


@dataclass(frozen=True)
class PathRewrite:
    pattern: re.Pattern[str]
    replace: str


@dataclass(frozen=True)
class OutletConfig:
    name: str
    display_name: str
    language: str
    origin: str
    hosts: frozenset[str]
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()
    listing: ListingConfig | None = None
    article_patterns: tuple[re.Pattern[str], ...] = ()
    exclude_patterns: tuple[re.Pattern[str], ...] = ()
    strip_params: tuple[str, ...] = ()
    drop_query: bool = False
    path_rewrites: tuple[PathRewrite, ...] = ()
    date_pattern: re.Pattern[str] | None = None
    date_format: str = "%Y%m%d"
    layouts: tuple[LayoutRules, ...] = (LayoutRules(date(2000, 1, 1), "default", PageRules()),)
    enabled: bool = True
    disabled_reason: str = ""
    robots: str = ""
    notes: str = ""
    source: str = ""  # the file it was loaded from
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def url_day(self, url: str) -> date | None:
        """The publication day written in the URL (`urls.date_pattern` + `urls.date_format`)."""
        if self.date_pattern is None:
            return None
        match = self.date_pattern.search(url)
        if not match:
            return None
        try:
            return datetime.strptime("".join(g for g in match.groups() if g), self.date_format).date()
        except ValueError:
            return None


class _Reader:
    """Typed access to one TOML table, every error naming the file and the dotted field."""

    def __init__(self, data: dict[str, Any], source: str, prefix: str = ""):
        self.data, self.source, self.prefix = data, source, prefix
        self.seen: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, why: str) -> ConfigError:
        return ConfigError(f"{self.source}: field '{self.where(key)}': {why}")

    def get(
        self, key: str, kind: type | tuple[type, ...], default: Any = None, required: bool = False
    ) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                raise self.fail(key, "missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(key, f"must be {_kind_names(kinds)}, got a boolean")
        if not isinstance(value, kinds):
            raise self.fail(key, f"must be {_kind_names(kinds)}, got {_toml_type(value)}")
        return value

    def text(self, key: str, default: str = "", required: bool = False) -> str:
        value = self.get(key, str, default, required)
        if required and not value.strip():
            raise self.fail(key, "must not be empty")
        return str(value)

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{key}[{i}]", "must be a non-empty string")
        return tuple(value)

    def regexes(self, key: str) -> tuple[re.Pattern[str], ...]:
        return tuple(self.regex_value(f"{key}[{i}]", p) for i, p in enumerate(self.strings(key)))

    def regex_value(self, key: str, pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern)
        except re.error as exc:
            raise self.fail(key, f"invalid regular expression '{pattern}' ({exc})") from None

    def table(self, key: str) -> _Reader | None:
        value = self.get(key, dict)
        return None if value is None else _Reader(value, self.source, f"{self.where(key)}.")

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise self.fail(unknown[0], "unknown key (see docs/outlets.md)")


def _kind_names(kinds: tuple[type, ...]) -> str:
    names = {str: "a string", list: "a list", dict: "a table", bool: "true or false", date: "a date"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _toml_type(value: Any) -> str:
    return {str: "a string", list: "a list", dict: "a table", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _check_url(reader: _Reader, key: str, url: str, hosts: frozenset[str]) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise reader.fail(key, f"'{url}' is not an http(s) URL")
    if parts.hostname.lower() not in hosts:
        raise reader.fail(key, f"'{url}' is not on the outlet's hosts ({', '.join(sorted(hosts))})")
    return url


def _sources(reader: _Reader, key: str, default: tuple[str, ...], marker: bool = False) -> tuple[str, ...]:
    if key not in reader.data:
        reader.seen.add(key)
        return default
    values = reader.strings(key)
    for i, spec in enumerate(values):
        try:
            check_source(spec, marker=marker)
        except ValueError as exc:
            raise reader.fail(f"{key}[{i}]", str(exc)) from None
    return values


def _css_list(reader: _Reader, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    if key not in reader.data:
        reader.seen.add(key)
        return default
    values = reader.strings(key)
    for i, selector in enumerate(values):
        try:
            check_css(selector)
        except ValueError as exc:
            raise reader.fail(f"{key}[{i}]", str(exc)) from None
    return values


def _layout(reader: _Reader) -> LayoutRules:
    d = PageRules()
    valid_from = reader.get("valid_from", date, date(2000, 1, 1))
    if isinstance(valid_from, datetime):
        raise reader.fail("valid_from", "must be a date (YYYY-MM-DD), not a date-time")
    version = reader.text("version", str(valid_from.year))
    if not re.fullmatch(r"[A-Za-z0-9._-]+", version):
        raise reader.fail("version", f"'{version}' may use only letters, digits, '.', '_' and '-'")
    for i, pattern in enumerate(reader.strings("title_strip")):
        reader.regex_value(f"title_strip[{i}]", pattern)
    for i, pattern in enumerate(reader.strings("authors_strip")):
        reader.regex_value(f"authors_strip[{i}]", pattern)
    authors_split = reader.text("authors_split", d.authors_split)
    reader.regex_value("authors_split", authors_split)
    for i, fmt in enumerate(reader.strings("date_formats")):
        if "%" not in fmt:
            raise reader.fail(f"date_formats[{i}]", f"'{fmt}' has no strptime directive (e.g. %Y)")
    rules = PageRules(
        title=_sources(reader, "title", d.title),
        title_strip=reader.strings("title_strip"),
        subtitle=_sources(reader, "subtitle", d.subtitle),
        lead=_sources(reader, "lead", d.lead),
        published=_sources(reader, "published", d.published),
        modified=_sources(reader, "modified", d.modified),
        date_formats=reader.strings("date_formats"),
        authors=_sources(reader, "authors", d.authors),
        authors_strip=reader.strings("authors_strip"),
        authors_split=authors_split,
        section=_sources(reader, "section", d.section),
        tags=_sources(reader, "tags", d.tags),
        tags_ignore=reader.strings("tags_ignore"),
        body=_css_list(reader, "body", d.body),
        body_exclude=_css_list(reader, "body_exclude"),
        images=_css_list(reader, "images"),
        paywall=_sources(reader, "paywall", d.paywall, marker=True),
        registration=_sources(reader, "registration", d.registration, marker=True),
    )
    if not rules.title or not rules.published or not rules.body:
        raise reader.fail(
            "title" if not rules.title else "published" if not rules.published else "body",
            "must list at least one source",
        )
    reader.finish()
    return LayoutRules(valid_from, version, rules)


def parse_outlet(data: dict[str, Any], source: str) -> OutletConfig:
    """Validate one outlet table (a parsed TOML document) into an OutletConfig."""
    top = _Reader(data, source)
    name = top.text("name", required=True)
    if not _NAME.match(name):
        raise top.fail("name", f"'{name}' must be lower-case letters, digits, '-' or '_' (max 40)")
    display_name = top.text("display_name", name)
    language = top.text("language", "ja")
    if language not in LANGUAGES:
        raise top.fail("language", f"'{language}' must be one of {', '.join(LANGUAGES)}")
    origin = top.text("origin", required=True)
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise top.fail("origin", f"'{origin}' must be scheme://host, e.g. https://www.example.jp")
    origin = f"{parts.scheme}://{parts.netloc}"
    hosts = frozenset({parts.hostname.lower(), *(h.lower() for h in top.strings("hosts"))})
    for i, host in enumerate(sorted(hosts)):
        if not re.fullmatch(r"[a-z0-9.-]+", host):
            raise top.fail(f"hosts[{i}]", f"'{host}' is not a host name")
    enabled = top.get("enabled", bool, True)
    disabled_reason = top.text("disabled_reason")
    if not enabled and not disabled_reason.strip():
        raise top.fail("disabled_reason", "required when enabled = false (say why, e.g. 'login required')")

    discovery = top.table("discovery") or _Reader({}, source, "discovery.")
    feeds = tuple(
        _check_url(discovery, f"feeds[{i}]", u, hosts) for i, u in enumerate(discovery.strings("feeds"))
    )
    sitemaps = tuple(
        _check_url(discovery, f"sitemaps[{i}]", u, hosts) for i, u in enumerate(discovery.strings("sitemaps"))
    )
    listings = tuple(
        _check_url(discovery, f"listings[{i}]", u, hosts) for i, u in enumerate(discovery.strings("listings"))
    )
    listing = None
    listing_reader = discovery.table("listing")
    if listing_reader is not None:
        d = ListingConfig(item="")
        values = {
            key: listing_reader.text(key, getattr(d, key), required=key == "item")
            for key in ("item", "link", "time", "next")
        }
        for key, selector in values.items():
            try:
                check_css(selector)
            except ValueError as exc:
                raise listing_reader.fail(key, str(exc)) from None
        listing_reader.finish()
        listing = ListingConfig(**values)
    if listings and listing is None:
        raise discovery.fail("listing", "required when discovery.listings is not empty")
    discovery.finish()

    urls = top.table("urls") or _Reader({}, source, "urls.")
    article_patterns = urls.regexes("article")
    if not article_patterns:
        raise urls.fail("article", "list at least one regular expression matching article URLs")
    exclude_patterns = urls.regexes("exclude")
    strip_params = urls.strings("strip_params")
    drop_query = urls.get("drop_query", bool, False)
    rewrites = []
    for i, item in enumerate(urls.get("path_rewrites", list, [])):
        key = f"path_rewrites[{i}]"
        if not isinstance(item, dict):
            raise urls.fail(key, "must be a table {pattern = '...', replace = '...'}")
        sub = _Reader(item, source, f"urls.{key}.")
        pattern = sub.regex_value("pattern", sub.text("pattern", required=True))
        rewrites.append(PathRewrite(pattern, sub.text("replace", "")))
        sub.finish()
    date_text = urls.text("date_pattern")
    date_pattern = urls.regex_value("date_pattern", date_text) if date_text else None
    if date_pattern is not None and date_pattern.groups < 1:
        raise urls.fail("date_pattern", "needs at least one (group) holding the date")
    date_format = urls.text("date_format", "%Y%m%d")
    if "%" not in date_format:
        raise urls.fail("date_format", f"'{date_format}' has no strptime directive (e.g. %Y%m%d)")
    urls.finish()

    layouts: list[LayoutRules] = []
    raw_page = top.get("page", (dict, list), {})
    tables = raw_page if isinstance(raw_page, list) else [raw_page]
    for i, table in enumerate(tables):
        prefix = f"page[{i}]." if isinstance(raw_page, list) else "page."
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: field '{prefix[:-1]}': must be a table")
        layouts.append(_layout(_Reader(table, source, prefix)))
    if len({layout.valid_from for layout in layouts}) != len(layouts):
        raise top.fail("page", "two layouts share the same valid_from")
    robots = top.text("robots")
    notes = top.text("notes")
    top.finish()
    return OutletConfig(
        name=name,
        display_name=display_name,
        language=language,
        origin=origin,
        hosts=hosts,
        feeds=feeds,
        sitemaps=sitemaps,
        listings=listings,
        listing=listing,
        article_patterns=article_patterns,
        exclude_patterns=exclude_patterns,
        strip_params=strip_params,
        drop_query=drop_query,
        path_rewrites=tuple(rewrites),
        date_pattern=date_pattern,
        date_format=date_format,
        layouts=tuple(sorted(layouts, key=lambda layout: layout.valid_from)),
        enabled=enabled,
        disabled_reason=disabled_reason,
        robots=robots,
        notes=notes,
        source=source,
    )


def load_outlet_file(path: Path) -> OutletConfig:
    """One user or builtin outlet file -> OutletConfig; ConfigError names the file and the field."""
    return parse_outlet(load_toml(Path(path)), str(path))


def builtin_outlet_configs() -> list[OutletConfig]:
    """The outlets shipped in spiders/outlets/*.toml, in file-name order."""
    configs = []
    # A data folder inside the spiders package, not a package itself (pyproject's package-data ships it).
    folder = resources.files("spiders").joinpath("outlets")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            source = f"builtin:spiders/outlets/{entry.name}"
            try:
                data = tomllib.loads(entry.read_text("utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{source}: invalid TOML ({exc})") from None
            configs.append(parse_outlet(data, source))
    return configs
