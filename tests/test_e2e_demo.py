"""End to end: the real CLI crawls the simulator into an archive that warcio, verify and the JSONL agree on."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.jsonl import iter_row_files, read_rows
from crawler.simulator import Simulator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


# The CLI at the pace `demo` uses for the simulator (no politeness delays; tests/local_crawl.py).
LOCAL_CRAWL = Path(__file__).with_name("local_crawl.py")


def run_cli(
    args: list[str], env: dict[str, str], timeout: float = 300, *, local_pace: bool = False
) -> subprocess.CompletedProcess[str]:
    entry = [str(LOCAL_CRAWL)] if local_pace else ["-m", "crawler.cli"]
    return subprocess.run(
        [sys.executable, *entry, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _rows(root: Path) -> list[dict]:
    return [row for path in iter_row_files(root) for row in read_rows(path)]


def test_article_files_are_gzip_json_lines_with_parquet_twins(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _ = demo_archive
    files = sorted(p for p in (root / "articles").rglob("*") if p.is_file())
    row_files = [p for p in files if p.suffix != ".parquet"]
    assert row_files and all(p.name.endswith(".jsonl.gz") for p in row_files), row_files
    for path in row_files:
        outlet = path.parent.parent.name.removeprefix("outlet=")
        assert path.name.endswith(f"-{outlet}-00000.jsonl.gz")
        lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
        assert lines and all(json.loads(line)["outlet"] == outlet for line in lines)
        assert path.with_name(path.name.removesuffix(".jsonl.gz") + ".parquet") in files


def test_demo_exits_zero_and_reports(demo_archive: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    _root, proc = demo_archive
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    # progress lines on stderr name both outlets; the summary on stdout says where things are
    assert "jiji:" in proc.stderr and "asahi:" in proc.stderr
    assert "WARC files:" in proc.stdout and "Run manifest:" in proc.stdout
    assert "Verify: OK" in proc.stdout


def test_every_warc_record_has_valid_digests(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _ = demo_archive
    warcs = sorted((root / "warc").rglob("*.warc.gz"))
    assert warcs, "no WARC file written"
    assert not list(root.rglob("*.open")), "a file was left open"
    types: list[str] = []
    for path in warcs:
        with path.open("rb") as fh:
            file_types = []
            for record in ArchiveIterator(fh, check_digests="raise"):
                record.content_stream().read()  # reading to the end is what checks the digests
                assert record.digest_checker.passed is not False, (path.name, record.digest_checker.problems)
                if record.rec_type in ("request", "response"):
                    assert record.digest_checker.passed is True, path.name
                file_types.append(record.rec_type)
            assert file_types[0] == "warcinfo"
            types += file_types
        check = subprocess.run(
            [str(Path(sys.executable).parent / "warcio"), "check", "-v", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
    assert types.count("request") == types.count("response") > 100


def test_robots_feeds_and_sitemaps_are_archived(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _ = demo_archive
    uris = set()
    for path in (root / "warc").rglob("*.warc.gz"):
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    uris.add(record.rec_headers.get_header("WARC-Target-URI"))
    paths = {u.split("/", 3)[3] for u in uris}
    for expected in ("robots.txt", "rss/ranking.rdf", "sitemap.xml", "rss/asahi/newsheadlines.rdf"):
        assert expected in paths, expected
    assert any(p.startswith("jc/list?g=flash") for p in paths)
    # mobile variants found in listings are canonicalised before fetching, never fetched
    assert not any(p.startswith(("sp/article?", "sp/articles/")) for p in paths)


def test_every_row_points_at_its_response_record(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _ = demo_archive
    rows = _rows(root)
    assert rows
    for row in rows:
        assert row["published_at"].endswith("+09:00")
        assert row["topics"] and row["topics"][0]["name"] == "russia-dprk"
        pointer = row["warc"]
        with (root / pointer["path"]).open("rb") as fh:
            fh.seek(pointer["offset"])
            member = fh.read(pointer["length"])
        record = next(iter(ArchiveIterator(io.BytesIO(member))))
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Record-ID") == pointer["record_id"]
        assert record.rec_headers.get_header("WARC-Target-URI") == row["fetched_url"]
        encoding = record.http_headers.get_header("Content-Encoding")
        stored = record.raw_stream.read()
        if encoding == "gzip":
            # the payload is stored as received: still compressed
            assert stored[:2] == b"\x1f\x8b", row["url"]
            raw = gzip.decompress(stored)
        else:
            raw = stored
        charset = "cp932" if b"Shift_JIS" in raw[:2000] else "utf-8"
        assert row["title"] in raw.decode(charset), row["url"]


def test_kept_articles_are_exactly_the_on_topic_ones_in_the_window(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    root, _ = demo_archive
    with Simulator() as sim:  # the same seed as the demo: the same site
        expected = {a.url for a in sim.articles if a.on_topic and a.in_window}
    kept = {row["url"] for row in _rows(root)}
    assert kept == expected


def test_manifest_lists_every_file_with_sha256(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    import hashlib

    root, _ = demo_archive
    manifests = list((root / "runs").glob("*/manifest.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text("utf-8"))
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {str(p.relative_to(root)) for p in (root / "warc").rglob("*.warc.gz")}
    on_disk |= {str(p.relative_to(root)) for p in iter_row_files(root)}
    assert on_disk <= listed
    for entry in manifest["files"]:
        data = (root / entry["path"]).read_bytes()
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert set(manifest["counts"]["outlets"]) == {"jiji", "asahi"}
    assert manifest["versions"]["scrapy"]


def test_verify_accepts_then_catches_a_flipped_byte(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    import os
    import shutil

    root, _ = demo_archive
    env = dict(os.environ)
    ok = run_cli(["verify", str(root)], env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    row = _rows(copy)[0]
    path = copy / row["warc"]["path"]
    data = bytearray(path.read_bytes())
    # flip one byte inside the compressed member of an article's response record
    pos = row["warc"]["offset"] + row["warc"]["length"] // 2
    data[pos] ^= 0xFF
    path.write_bytes(bytes(data))
    bad = run_cli(["verify", str(copy)], env)
    assert bad.returncode == 1
    assert row["warc"]["filename"] in bad.stdout


def test_gzip_member_per_record(demo_archive: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    root, _ = demo_archive
    row = _rows(root)[0]
    with (root / row["warc"]["path"]).open("rb") as fh:
        fh.seek(row["warc"]["offset"])
        member = fh.read(row["warc"]["length"])
    text = gzip.decompress(member)
    assert text.startswith(b"WARC/1.1\r\n")


def test_crawl_with_base_url_and_json_logs(tmp_path: Path) -> None:
    import os

    from tests.conftest import NETGUARD_DIR

    env = dict(os.environ)
    env["PYTHONPATH"] = str(NETGUARD_DIR)
    log = tmp_path / "requests.jsonl"
    root = tmp_path / "archive"
    with Simulator(log_path=log) as sim:
        flags = [f"--base-url={name}={url}" for name, url in sim.base_urls.items()]
        proc = run_cli(
            [
                "crawl",
                "jiji",
                *flags[:1],
                "--archive",
                str(root),
                "--since",
                "2025-03-15",
                "--until",
                "2025-03-21",
                "--max-articles",
                "5",
                "--archive-all",
                "--log-format",
                "json",
                "--log-level",
                "INFO",
                "--contact",
                "tests@localhost",
            ],
            env,
            local_pace=True,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]  # every line is JSON
    assert any(e["event"] == "progress" for e in events)
    assert any(e["event"] == "log" for e in events)
    summary = json.loads(proc.stdout)
    assert summary["ok"] is True
    assert summary["outlets"]["jiji"]["kept"] == 5  # --archive-all keeps all five newest
    served = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    article_paths = [r["path"] for r in served if r["path"].startswith("/jc/article")]
    assert len(article_paths) == 5
    newest = sorted(
        (a for a in sim.articles if a.outlet == "jiji" and a.in_window),
        key=lambda a: a.published_at,
        reverse=True,
    )[:5]
    assert {p.split("&")[0] for p in article_paths} == {a.path.split("&")[0] for a in newest}
    # the User-Agent carries the contact; every row is what --archive-all promises
    rows = _rows(root)
    assert len(rows) == 5
    assert any(not t["accepted"] for r in rows for t in r["topics"])


def test_reextract_command_writes_a_new_run(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    import os
    import shutil

    root, _ = demo_archive
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    proc = run_cli(["reextract", str(copy), "--workers", "1"], dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list((copy / "runs").glob("*/manifest.json"))) == 2
    rows = _rows(copy)
    by_run: dict[str, set[str]] = {}
    for row in rows:
        by_run.setdefault(row["run_id"], set()).add(row["url"])
    assert len(by_run) == 2
    first, second = by_run.values()
    assert first == second  # nothing changed: the same articles kept
    assert run_cli(["verify", str(copy)], dict(os.environ)).returncode == 0


def test_records_hold_exactly_what_the_simulator_sent(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """Byte-level: every archived response body equals the simulator's bytes for the request the crawler
    really sent (its Accept-Encoding), Content-Encoding kept, query strings kept, both Set-Cookie kept."""
    from urllib.parse import urlsplit

    root, _ = demo_archive
    sim = Simulator()  # same seed as the demo: the same site, byte for byte (not started: no sockets)
    ports: dict[str, str] = {}
    checked = {"gzip": 0, "chunked": 0, "shift_jis": 0, "query": 0}
    chunked_paths = {a.path for a in sim.articles if a.chunked}
    sjis_paths = {a.path for a in sim.articles if a.charset == "shift_jis"}
    for path in sorted((root / "warc").rglob("*.warc.gz")):
        requests: dict[str, str] = {}
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "warcinfo":
                    info = record.content_stream().read().decode()
                    for line in info.splitlines():
                        if line.startswith("outlet-base-urls:"):
                            mapping = json.loads(line.split(":", 1)[1])
                            ports = {urlsplit(url).netloc: outlet for outlet, url in mapping.items()}
                    continue
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if record.rec_type == "request":
                    requests[record.rec_headers.get_header("WARC-Concurrent-To")] = (
                        record.http_headers.get_header("Accept-Encoding") or ""
                    )
                    continue
                if record.rec_type != "response":
                    continue
                parts = urlsplit(uri)
                path_qs = parts.path + (f"?{parts.query}" if parts.query else "")
                accept = requests.get(record.rec_headers.get_header("WARC-Record-ID"), "")
                status, headers, body = sim.served_bytes(ports[parts.netloc], path_qs, accept_encoding=accept)
                assert record.http_headers.get_statuscode() == str(status), uri
                assert record.raw_stream.read() == body, uri
                sent = [(k.lower(), v) for k, v in headers]
                got = [(k.lower(), v) for k, v in record.http_headers.headers]
                for name in ("content-encoding", "set-cookie", "content-type", "etag"):
                    assert [v for k, v in got if k == name] == [v for k, v in sent if k == name], (uri, name)
                if ("content-encoding", "gzip") in sent:
                    checked["gzip"] += 1
                checked["chunked"] += path_qs in chunked_paths
                checked["shift_jis"] += path_qs in sjis_paths
                checked["query"] += "?" in path_qs
    assert all(checked.values()), checked
