"""Recorded article pages (fixtures) and the golden JSON their page objects produce.

A fixture is three files in `<folder>/<outlet>/`:

    <stem>.html          the response body, byte for byte (raw charset)
    <stem>.fixture.json  {"url", "status", "headers": {name: [values]}, "synthetic", "source", "recorded_at"}
    <stem>.golden.json   {"url", "outlet", "parser", "fields": PageFields as JSON}, written by
                         `regenerate_goldens`, never by hand

`synthetic: true` marks a page built from the markup documented in OUTLETS.md because no real capture
exists yet; `record_fixture` replaces it with a real one. The body is decoded the way Scrapy decodes a
response (w3lib's html_to_unicode over the Content-Type header and the body), so a page object sees
the same text in tests as in a crawl.

No network I/O here: `record_fixture` takes the fetcher as an argument (the CLI passes a real one).

    python -m spiders.fixtures regenerate tests/fixtures/outlets
    python -m spiders.fixtures check tests/fixtures/outlets
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from w3lib.encoding import html_to_unicode

from core.items import PageFields, PageParser
from spiders.base import NewsSpider

META_SUFFIX = ".fixture.json"
GOLDEN_SUFFIX = ".golden.json"
BODY_SUFFIX = ".html"
REQUIRED_FIELDS = ("title", "published_at", "body_paragraphs")


@dataclass
class Fixture:
    outlet: str
    url: str  # the canonical article URL the page object is called with
    body: bytes
    headers: dict[str, list[str]] = field(default_factory=dict)  # lower-case names
    status: int = 200
    synthetic: bool = False
    source: str = ""  # where the bytes come from (a capture, a repository, "synthetic from OUTLETS.md")
    recorded_at: str = ""
    path: Path | None = None  # the .fixture.json it was read from

    def content_type(self) -> str:
        values = self.headers.get("content-type") or []
        return values[0] if values else ""

    def text(self) -> str:
        """The body decoded as Scrapy would (header charset, then BOM/meta, then a guess)."""
        _, text = html_to_unicode(self.content_type() or None, self.body)
        return text


@dataclass(frozen=True)
class FetchResult:
    """What a fetcher returns for one URL (after redirects and content decoding)."""

    url: str
    status: int
    headers: dict[str, list[str]]
    body: bytes


Fetcher = Callable[[str], FetchResult]


def fixture_paths(folder: Path) -> list[Path]:
    """Every `<outlet>/<stem>.fixture.json` under `folder`, sorted."""
    return sorted(Path(folder).glob(f"*/*{META_SUFFIX}"))


def _stem(meta_path: Path) -> Path:
    return meta_path.with_name(meta_path.name[: -len(META_SUFFIX)])


def read_fixture(meta_path: Path) -> Fixture:
    meta_path = Path(meta_path)
    data = json.loads(meta_path.read_text("utf-8"))
    known = {"url", "status", "headers", "synthetic", "source", "recorded_at"}
    unknown = sorted(set(data) - known)
    if unknown or "url" not in data or not isinstance(data.get("synthetic"), bool):
        raise ValueError(f"{meta_path}: needs 'url' and a boolean 'synthetic' (unknown keys: {unknown})")
    headers = {str(k).lower(): [str(v) for v in vs] for k, vs in data.get("headers", {}).items()}
    return Fixture(
        outlet=meta_path.parent.name,
        url=data["url"],
        body=Path(str(_stem(meta_path)) + BODY_SUFFIX).read_bytes(),
        headers=headers,
        status=int(data.get("status", 200)),
        synthetic=data["synthetic"],
        source=str(data.get("source", "")),
        recorded_at=str(data.get("recorded_at", "")),
        path=meta_path,
    )


def write_fixture(folder: Path, fixture: Fixture, stem: str) -> Path:
    """Write the body and metadata of `fixture` under `folder/<outlet>/`; returns the metadata path."""
    directory = Path(folder) / fixture.outlet
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{stem}{BODY_SUFFIX}").write_bytes(fixture.body)
    meta = {
        "url": fixture.url,
        "status": fixture.status,
        "headers": fixture.headers,
        "synthetic": fixture.synthetic,
        "source": fixture.source,
        "recorded_at": fixture.recorded_at,
    }
    meta_path = directory / f"{stem}{META_SUFFIX}"
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return meta_path


def golden(fixture: Fixture, parser: PageParser) -> dict[str, Any]:
    fields = parser(fixture.text(), fixture.url)
    return {"url": fixture.url, "outlet": fixture.outlet, "parser": fields.parser, "fields": asdict(fields)}


def golden_path(fixture: Fixture) -> Path:
    assert fixture.path is not None, "a fixture read from disk"
    return Path(str(_stem(fixture.path)) + GOLDEN_SUFFIX)


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def _parsers(outlets: Mapping[str, type[NewsSpider]] | None) -> dict[str, PageParser]:
    if outlets is None:
        from spiders.registry import load_outlets  # late: the registry imports every outlet

        outlets = load_outlets()
    return {name: cls.page_parser for name, cls in outlets.items() if cls.page_parser is not None}


def _parser_for(fixture: Fixture, parsers: Mapping[str, PageParser]) -> PageParser:
    if fixture.outlet not in parsers:
        raise ValueError(f"{fixture.path}: folder names outlet '{fixture.outlet}', which is not registered")
    return parsers[fixture.outlet]


def regenerate_goldens(folder: Path, outlets: Mapping[str, type[NewsSpider]] | None = None) -> list[Path]:
    """Rewrite every golden file under `folder` from its fixture; returns the files written."""
    parsers = _parsers(outlets)
    written = []
    for meta_path in fixture_paths(folder):
        fixture = read_fixture(meta_path)
        path = golden_path(fixture)
        path.write_text(_dump(golden(fixture, _parser_for(fixture, parsers))), "utf-8")
        written.append(path)
    return written


def check_goldens(folder: Path, outlets: Mapping[str, type[NewsSpider]] | None = None) -> list[str]:
    """Problems found: a golden missing or different from a fresh parse, a required field empty."""
    parsers = _parsers(outlets)
    problems = []
    for meta_path in fixture_paths(folder):
        fixture = read_fixture(meta_path)
        fresh = golden(fixture, _parser_for(fixture, parsers))
        path = golden_path(fixture)
        if not path.exists():
            problems.append(f"{path}: missing (run: python -m spiders.fixtures regenerate {folder})")
        elif path.read_text("utf-8") != _dump(fresh):
            problems.append(
                f"{path}: differs from a fresh parse (parser changed? regenerate and review the diff)"
            )
        problems.extend(f"{meta_path}: {name} is empty" for name in missing_required(fresh["fields"]))
    return problems


def missing_required(fields: PageFields | Mapping[str, Any]) -> list[str]:
    data = asdict(fields) if isinstance(fields, PageFields) else fields
    return [name for name in REQUIRED_FIELDS if not data.get(name)]


def outlet_for_url(url: str, outlets: Mapping[str, type[NewsSpider]]) -> tuple[str, str]:
    """(outlet name, canonical URL) of the enabled-or-not outlet whose article patterns match `url`."""
    host = (urlsplit(url).hostname or "").lower()
    for name, cls in outlets.items():
        if host not in cls.hosts:
            continue
        spider = cls()
        canonical = spider.canonicalize(url)
        if spider.is_article(canonical):
            return name, canonical
    raise ValueError(f"{url}: no registered outlet recognises this as an article URL")


def fixture_stem(url: str) -> str:
    """A file name from the URL: the last meaningful path or query parts, safe characters only."""
    parts = urlsplit(url)
    raw = "_".join(p for p in (parts.path.strip("/").replace("/", "_"), parts.query) if p)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("_.")[-80:] or "page"


def record_fixture(
    url: str,
    fetch: Fetcher,
    folder: Path,
    outlets: Mapping[str, type[NewsSpider]] | None = None,
    stem: str | None = None,
) -> Path:
    """Fetch `url` with `fetch`, store it as a real fixture of its outlet and write its golden.

    Raises ValueError when no outlet recognises the URL or the page is not a 200 response.
    """
    if outlets is None:
        from spiders.registry import load_outlets

        outlets = load_outlets()
    outlet, canonical = outlet_for_url(url, outlets)
    result = fetch(url)
    if result.status != 200:
        raise ValueError(f"{url}: HTTP {result.status}, not recorded")
    headers = {k.lower(): list(v) for k, v in result.headers.items()}
    # Hop-by-hop and per-visit headers would only make the fixture differ between recordings.
    for name in (
        "set-cookie",
        "date",
        "connection",
        "transfer-encoding",
        "content-encoding",
        "content-length",
    ):
        headers.pop(name, None)
    fixture = Fixture(
        outlet=outlet,
        url=canonical,
        body=result.body,
        headers=headers,
        status=result.status,
        synthetic=False,
        source=f"recorded from {result.url}",
        recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    meta_path = write_fixture(folder, fixture, stem or fixture_stem(canonical))
    fixture = read_fixture(meta_path)
    parser = outlets[outlet].page_parser
    assert parser is not None
    golden_path(fixture).write_text(_dump(golden(fixture, parser)), "utf-8")
    return meta_path


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m spiders.fixtures", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("regenerate", "rewrite every golden file from its fixture"),
        ("check", "report goldens that differ from a fresh parse and empty required fields"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("folder", type=Path)
    args = ap.parse_args(argv)
    if args.command == "regenerate":
        for path in regenerate_goldens(args.folder):
            print(path)
        return 0
    problems = check_goldens(args.folder)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
