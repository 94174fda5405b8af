"""Outlet name -> spider class: hand-written outlets, the builtin TOML outlets and the user's TOML files.

Precedence, later wins: hand-written (jiji, asahi) < builtin TOML (spiders/outlets/*.toml) < the outlets
folder (`folder`, e.g. the OUTLETS_DIR setting) < files named on the command line (`extra_files`). A user
file may therefore override a builtin outlet by reusing its name. Any bad file raises ConfigError naming
the file and the field before anything is crawled.

`OUTLETS` stays the hand-written outlets only: existing callers (the demo, whose simulator serves only
jiji and asahi) must not start crawling real sites because a TOML outlet was added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

from core.config import ConfigError
from spiders.asahi import AsahiSpider
from spiders.base import NewsSpider
from spiders.generic import spider_class
from spiders.jiji import JijiSpider
from spiders.outlet_config import OutletConfig, builtin_outlet_configs, load_outlet_file

OUTLETS: dict[str, type[NewsSpider]] = {cls.name: cls for cls in (JijiSpider, AsahiSpider)}


@lru_cache(maxsize=1)
def _builtin_configs() -> tuple[OutletConfig, ...]:
    return tuple(builtin_outlet_configs())


def outlet_files(folder: Path) -> list[Path]:
    """The *.toml files of an outlets folder, in name order; ConfigError when the folder is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: outlets folder not found")
    return sorted(p for p in folder.iterdir() if p.suffix == ".toml" and p.is_file())


def load_outlets(extra_files: Iterable[Path] = (), folder: Path | None = None) -> dict[str, type[NewsSpider]]:
    """Every outlet usable in this run, by name (see module docstring for precedence)."""
    outlets: dict[str, type[NewsSpider]] = dict(OUTLETS)
    for config in _builtin_configs():
        outlets[config.name] = spider_class(config)
    for group in (outlet_files(folder) if folder is not None else [], list(extra_files)):
        seen: dict[str, Path] = {}
        for path in group:
            config = load_outlet_file(Path(path))
            if config.name in seen:
                raise ConfigError(
                    f"{path}: field 'name': outlet '{config.name}' is also defined in {seen[config.name]}"
                )
            seen[config.name] = Path(path)
            outlets[config.name] = spider_class(config)
    return outlets


def _lookup(name: str, outlets: Mapping[str, type[NewsSpider]] | None) -> type[NewsSpider]:
    table = load_outlets() if outlets is None else outlets
    try:
        return table[name]
    except KeyError:
        raise KeyError(f"unknown outlet '{name}' (known: {', '.join(sorted(table))})") from None


def enabled_by_default(name: str, outlets: Mapping[str, type[NewsSpider]] | None = None) -> bool:
    """Whether a crawl without an explicit outlet list includes this outlet."""
    return bool(getattr(_lookup(name, outlets), "enabled", True))


def exclusion_reason(name: str, outlets: Mapping[str, type[NewsSpider]] | None = None) -> str:
    """Why the outlet is left out of default crawls ("" when it is not)."""
    cls = _lookup(name, outlets)
    return "" if getattr(cls, "enabled", True) else str(getattr(cls, "disabled_reason", "") or "disabled")


def default_outlets(outlets: Mapping[str, type[NewsSpider]]) -> list[str]:
    """The outlets a crawl without explicit names runs: the enabled ones, in registry order."""
    return [name for name in outlets if enabled_by_default(name, outlets)]


def outlet_sources(name: str, outlets: Mapping[str, type[NewsSpider]] | None = None) -> dict[str, list[str]]:
    """{"feeds": [...], "sitemaps": [...], "listings": [...], "search": [...]} for one outlet; KeyError
    names the outlet. Search entries are URL templates with {query} (asked only where robots.txt allows)."""
    cls = _lookup(name, OUTLETS if outlets is None and name in OUTLETS else outlets)
    return {
        "feeds": list(cls.feeds),
        "sitemaps": list(cls.sitemaps),
        "listings": list(cls.listings),
        "search": list(getattr(cls, "search_urls", ())),
    }


def outlet_summary(name: str, outlets: Mapping[str, type[NewsSpider]] | None = None) -> dict[str, object]:
    """One row of `newsarchive outlets`: name, kind, status, reason, language, origin, sources, file."""
    cls = _lookup(name, outlets)
    config: OutletConfig | None = getattr(cls, "outlet_config", None)
    enabled = bool(getattr(cls, "enabled", True))
    return {
        "name": name,
        "display_name": config.display_name if config else getattr(cls, "display_name", name),
        "kind": "toml" if config else "hand-written",
        "source": config.source if config else f"{cls.__module__}.{cls.__qualname__}",
        "language": config.language if config else "ja",
        "origin": cls.origin,
        "status": "enabled" if enabled else "disabled",
        "reason": "" if enabled else exclusion_reason(name, {name: cls}),
        **outlet_sources(name, {name: cls}),
    }
