"""Where the article records of an archive root are, found before any extraction (for `reextract`).

Every WARC file under `warc/`, in order: its warcinfo facts (crawl run id, `outlet-base-urls`) and the
location of its response and metadata records, read from its `.cdxj` index (no payload decompressed but
the warcinfo's) or, for a file without one, from a warcio scan. The response records with status 200
whose target URI is an article URL of a known outlet become `ArticleJob`s; the crawl's article metadata
records say how each page was discovered.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastwarc.warc import ArchiveIterator as FastArchiveIterator
from fastwarc.warc import WarcRecordType
from warcio.archiveiterator import ArchiveIterator

from archive.cdxj import cdxj_path_for, read_cdxj
from archive.paths import WARC_DIR, relpath
from archive.readback import read_record
from crawler.parse_page import outlet_for_url

logger = logging.getLogger(__name__)

_METADATA_PER_TASK = 64  # metadata records read per worker task


@dataclass(frozen=True)
class ArticleJob:
    """Where one candidate article record is: the worker process reads it itself (main sends no payload)."""

    path: str  # the WARC file, as opened
    rel: str  # the same, relative to the archive root (what the article's pointer says)
    offset: int
    length: int
    outlet: str
    base_url: str | None


def _warcinfo(payload: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def _base_urls(info: dict[str, str], path: Path) -> dict[str, str]:
    raw = info.get("outlet-base-urls")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        logger.warning("%s: warcinfo outlet-base-urls is not JSON; matching by host only", path)
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


@dataclass
class WarcFile:
    """One WARC file as the main process sees it: its warcinfo facts and where its records are."""

    path: Path
    rel: str
    run_id: str = ""
    base_urls: dict[str, str] = field(default_factory=dict)
    # (offset, length, target uri, http status) of every response record with an HTTP block, in order
    responses: list[tuple[int, int, str, str]] = field(default_factory=list)
    metadata: list[tuple[int, int]] = field(default_factory=list)  # indexed metadata records, in order
    indexed: bool = False  # from the .cdxj (else from a warcio scan, and discovery from a fastwarc pass)


def _from_cdxj(path: Path, rel: str) -> WarcFile | None:
    """The file's records from its .cdxj and its warcinfo from the first record: no payload decompressed
    but the warcinfo's. None when that does not work (no index, or no warcinfo at offset 0)."""
    index = cdxj_path_for(path)
    if not index.is_file():
        return None
    try:
        first = read_record(path, 0)
    except Exception:
        return None
    if first.rec_type != "warcinfo":
        return None  # a foreign file may carry its warcinfo elsewhere: the scan finds it
    info = _warcinfo(first.raw_payload)
    found = WarcFile(path, rel, info.get("isPartOf", ""), _base_urls(info, path), indexed=True)
    lines = sorted(read_cdxj(index), key=lambda line: int(line.fields["offset"]))
    for line in lines:
        f = line.fields
        offset, length = int(f["offset"]), int(f["length"])
        mime = f.get("mime")
        # cdxj-indexer gives a status only to response and revisit records with an HTTP block (a
        # metadata record has none, whatever its URI); a revisit's mime is warc/revisit.
        if "status" in f and mime != "warc/revisit":
            found.responses.append((offset, length, str(f.get("url") or ""), str(f["status"])))
        elif mime != "warc/revisit":
            found.metadata.append((offset, length))  # or a resource record: the reader checks the type
    return found


def _scanned(path: Path, rel: str) -> WarcFile:
    """The same as _from_cdxj for a file without an index: a warcio pass over the whole file."""
    found = WarcFile(path, rel)
    with path.open("rb") as fh:
        it = ArchiveIterator(fh)
        for record in it:
            if record.rec_type == "warcinfo":
                info = _warcinfo(record.raw_stream.read())
                found.base_urls = _base_urls(info, path)
                found.run_id = found.run_id or info.get("isPartOf", "")
                continue
            if record.rec_type != "response" or record.http_headers is None:
                continue
            record.raw_stream.read()  # the offset and length are known once the record is read
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            status = record.http_headers.get_statuscode() or ""
            found.responses.append((it.get_record_offset(), it.get_record_length(), uri, status))
    return found


class ArchiveScan:
    """The WARC files in order, where their article records are, and what the crawl's metadata records say."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = sorted(p for p in (root / WARC_DIR).rglob("*.warc.gz") if p.is_file())
        self.run_ids: list[str] = []
        self.discovered_via: dict[tuple[str, str], str] = {}  # (refers-to record id, fetched url) -> source
        self.response_records = 0
        self.errors: Counter[str] = Counter()
        self.warcs: list[WarcFile] = []
        for path in self.files:
            rel = relpath(root, path)
            warc = _from_cdxj(path, rel) or _scanned(path, rel)
            self.warcs.append(warc)
            if warc.run_id and warc.run_id not in self.run_ids:
                self.run_ids.append(warc.run_id)
            self.response_records += len(warc.responses)

    def jobs(self) -> Iterator[ArticleJob]:
        """Response records with status 200 whose target URI is an article of a known outlet, in WARC
        order. Whether the payload is HTML is left to the worker: Scrapy decides it from all the
        headers, the URL and the start of the body, which an index line does not hold."""
        for warc in self.warcs:
            for offset, length, uri, status in warc.responses:
                if status != "200":
                    continue
                match = outlet_for_url(uri, warc.base_urls)
                if match.spider is None or not match.spider.is_article(match.spider.canonicalize(uri)):
                    continue
                path = str(warc.path)
                yield ArticleJob(path, warc.rel, offset, length, match.name, match.spider.base_url)

    def read_discovery(self, map_: Callable[..., Iterable[Any]] = map) -> None:
        """What the crawl's article metadata records say about discovery, read before any extraction
        (a metadata record follows its response, possibly in a later file). Indexed records are read
        one by one, through `map_` (a worker pool's map); a file without index gets a fastwarc pass,
        which skips every other record type without parsing it."""
        for warc in self.warcs:
            if warc.indexed:
                chunks = [
                    warc.metadata[i : i + _METADATA_PER_TASK]
                    for i in range(0, len(warc.metadata), _METADATA_PER_TASK)
                ]
                for pairs in map_(_discovery_in, [str(warc.path)] * len(chunks), chunks):
                    for key, via in pairs:
                        self.discovered_via[key] = via
                continue
            with warc.path.open("rb") as fh:
                for record in FastArchiveIterator(fh, record_types=WarcRecordType.metadata, parse_http=False):
                    found = _discovery(
                        record.headers.get("WARC-Refers-To"),
                        record.headers.get("Content-Type"),
                        record.reader.read(),
                    )
                    if found is not None:
                        self.discovered_via[found[0]] = found[1]


def _discovery(
    refers_to: str | None, content_type: str | None, payload: bytes
) -> tuple[tuple[str, str], str] | None:
    if not refers_to or "json" not in (content_type or ""):
        return None
    try:
        row = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(row, dict) and row.get("discovered_via"):
        return (str(refers_to), str(row.get("fetched_url") or "")), str(row["discovered_via"])
    return None


def _discovery_in(path: str, locations: list[tuple[int, int]]) -> list[tuple[tuple[str, str], str]]:
    """Runs in a worker process: the discovery facts of some metadata records of one file."""
    found = []
    for offset, length in locations:
        try:
            record = read_record(Path(path), offset, length)
        except Exception as exc:  # a damaged record only costs its discovered_via
            logger.warning("%s: cannot read the metadata record at %d: %s", path, offset, exc)
            continue
        if record.rec_type != "metadata":
            continue
        headers = {name.lower(): value for name, value in reversed(record.warc_headers)}
        item = _discovery(headers.get("warc-refers-to"), headers.get("content-type"), record.raw_payload)
        if item is not None:
            found.append(item)
    return found
