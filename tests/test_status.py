"""`newsarchive status`: last runs, pending work, failures by reason and per-outlet freshness, read from
the demo archive, from synthetic manifests and from an s3:// archive, with an injected clock."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.jsonl import iter_row_files, read_rows
from archive.paths import hostname
from archive.publish import publish_run, queue_path
from archive.root_access import ArchiveRoot, open_root
from archive.status import archive_status
from archive.stores import open_store
from crawler.cli import main
from crawler.status_text import age, render_status
from tests.s3server import S3Env, build_run

pytest_plugins = ["tests.s3server"]

NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)


def copy_of(demo_archive: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> Path:
    root, proc = demo_archive
    assert proc.returncode == 0, proc.stderr[-2000:]
    # status refreshes the catalog inside the root: work on a copy of the shared archive
    return Path(shutil.copytree(root, tmp_path / "archive"))


def write_manifest(root: Path, run_id: str, started: datetime, counts: dict[str, Any], **extra: Any) -> None:
    manifest = {
        "manifest_version": 1,
        "run_id": run_id,
        "previous_run_id": None,
        "started_at": started.isoformat(),
        "finished_at": (started + timedelta(seconds=90)).isoformat(),
        "files": [],
        "counts": counts,
        "errors": {},
        "config": {},
        "versions": {},
        **extra,
    }
    path = root / "runs" / run_id / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def outlet_counts(pages: int, kept: int, errors: int = 0) -> dict[str, int]:
    return {"pages": pages, "kept": kept, "errors": errors}


def accounting(
    discovered: int, archived: int, pending: int, failed: dict[str, int], balanced: bool = True
) -> dict:
    excluded = discovered - archived - pending - sum(failed.values())
    return {
        "discovered": discovered,
        "archived": archived,
        "pending": pending,
        "failed": failed,
        "excluded": {"out_of_window": excluded},
        "balanced": balanced,
        "problems": [] if balanced else ["3 discovered but 2 accounted for"],
    }


# Four runs, oldest first: a manifest from before finish reasons and accounting existed; a good run of
# both outlets; a run where asahi's spider raised; an interrupted run with pending and failed URLs.
T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
OLD, GOOD, BROKEN, STOPPED = (f"2026120{d}T000000Z-00000{d}" for d in (1, 2, 3, 4))


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    write_manifest(root, OLD, T0, {"articles": 3})
    both = {"jiji": outlet_counts(50, 10), "asahi": outlet_counts(40, 8)}
    write_manifest(
        root,
        GOOD,
        T0 + timedelta(days=1),
        {
            "outlets": both,
            "errors_by_outlet": {"jiji": {}, "asahi": {}},
            "finish_reasons": {"jiji": "finished", "asahi": "finished"},
            "accounting": {"jiji": accounting(60, 10, 0, {}), "asahi": accounting(50, 8, 0, {})},
        },
    )
    write_manifest(
        root,
        BROKEN,
        T0 + timedelta(days=2),
        {
            "outlets": {"jiji": outlet_counts(30, 4), "asahi": outlet_counts(12, 0, 1)},
            "errors_by_outlet": {"jiji": {}, "asahi": {"spider_ValueError": 1}},
            "finish_reasons": {"jiji": "finished", "asahi": "finished"},
        },
    )
    write_manifest(
        root,
        STOPPED,
        T0 + timedelta(days=3),
        {
            "outlets": {"jiji": outlet_counts(20, 3, 3), "asahi": outlet_counts(9, 1)},
            "errors_by_outlet": {"jiji": {"http_503": 2, "TimeoutError": 1}, "asahi": {}},
            "finish_reasons": {"jiji": "shutdown", "asahi": "shutdown"},
            "accounting": {
                "jiji": accounting(60, 3, 40, {"http_503": 2, "TimeoutError": 1}),
                "asahi": accounting(50, 1, 30, {}, balanced=False),
            },
        },
    )
    return root


def fake_open_warc(root: Path, run_id: str, pid: int) -> Path:
    """A `.open` WARC file as a writer names it (host, pid), starting with a warcinfo naming its run."""
    name = f"newsarchive-20261204000000000-00000-{hostname()}-{pid}.warc.gz.open"
    path = root / "warc" / "2026" / "12" / "04" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    record = f"WARC/1.1\r\nWARC-Type: warcinfo\r\n\r\nisPartOf: {run_id}\r\n\r\n\r\n".encode()
    path.write_bytes(gzip.compress(record))
    return path


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_synthetic_runs_failures_pending_and_freshness(synthetic: Path) -> None:
    abandoned = fake_open_warc(synthetic, "20261205T000000Z-dead00", dead_pid())
    rows = synthetic / "articles" / "outlet=jiji" / "date=2025-03-01"
    rows.mkdir(parents=True)
    (rows / "20261205T000000Z-dead00-jiji-00000.jsonl.gz.open").write_bytes(b"")
    queue = queue_path(synthetic, STOPPED)
    queue.parent.mkdir()
    queue.write_text("{}")

    report = archive_status(open_root(synthetic), runs=3, now=NOW)

    assert [r.run_id for r in report.runs] == [STOPPED, BROKEN, GOOD]  # newest first, --runs 3
    stopped, broken, good = report.runs
    assert (good.ok, good.interrupted, good.problems) == (True, False, [])
    assert good.duration_s == 90.0 and good.started_at == (T0 + timedelta(days=1)).isoformat()
    assert good.outlets == {"asahi": {"kept": 8, "errors": 0}, "jiji": {"kept": 10, "errors": 0}}
    assert not broken.ok and broken.problems == ["asahi: spider raised (spider_ValueError 1)"]
    assert stopped.interrupted and not stopped.ok
    assert "asahi: URL accounting: 3 discovered but 2 accounted for" in stopped.problems
    assert stopped.outlets["jiji"] == {"kept": 3, "errors": 3}
    assert {r.published for r in report.runs} == {"local"}  # a local root publishes nowhere

    assert report.last_run == STOPPED
    assert report.queued_runs == [STOPPED]
    assert report.pending_urls == {"jiji": 40, "asahi": 30}
    assert report.errors_by_outlet == {"jiji": {"http_503": 2, "TimeoutError": 1}}
    assert report.failed_urls == {"jiji": {"http_503": 2, "TimeoutError": 1}}
    assert [(f.path, f.run_id, f.abandoned) for f in report.open_files] == [
        (abandoned.relative_to(synthetic).as_posix(), "20261205T000000Z-dead00", True),
        (
            "articles/outlet=jiji/date=2025-03-01/20261205T000000Z-dead00-jiji-00000.jsonl.gz.open",
            "20261205T000000Z-dead00",
            True,
        ),
    ]

    # Last successful crawl: jiji in BROKEN (day 2), asahi only back in GOOD (day 1); OLD never counts
    # for an outlet it does not name.
    fresh = {f.outlet: f for f in report.freshness}
    assert set(fresh) == {"jiji", "asahi"}
    assert (fresh["jiji"].last_ok_run, fresh["asahi"].last_ok_run) == (BROKEN, GOOD)
    broken_end = T0 + timedelta(days=2, seconds=90)
    assert fresh["jiji"].last_ok_finished_at == broken_end.isoformat()
    assert fresh["jiji"].last_ok_age_s == (NOW - broken_end).total_seconds()
    assert fresh["asahi"].newest_published_at is None  # no article rows in this root

    text = render_status(report)
    for expected in (
        f"{STOPPED}  2026-12-04 00:00:00  90 s      interrupted",
        f"{BROKEN}  2026-12-03 00:00:00  90 s      FAILED",
        f"runs queued for upload: {STOPPED}",
        "URLs left pending by the last run: asahi 30, jiji 40",
        "jiji: errors TimeoutError 1, http_503 2; failed URLs TimeoutError 1, http_503 2",
        "left by a stopped run; the next crawl repairs it",
        f"2 d 5 h ago ({GOOD})",
    ):
        assert expected in text, expected


def test_an_open_file_of_a_live_writer_is_being_written(synthetic: Path) -> None:
    import os

    fake_open_warc(synthetic, "20261205T000000Z-live00", os.getppid())  # a process that is alive
    [item] = archive_status(open_root(synthetic), now=NOW).open_files
    assert (item.run_id, item.abandoned) == ("20261205T000000Z-live00", False)


def test_old_manifests_without_counts_are_listed(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    write_manifest(root, OLD, T0, {"articles": 3})
    report = archive_status(open_root(root), now=NOW)
    [run] = report.runs
    assert (run.run_id, run.ok, run.interrupted, run.outlets) == (OLD, True, False, {})
    assert report.pending_urls == {} and report.failed_urls == {} and report.freshness == []
    assert "URLs left pending by the last run: none (not recorded by this run)" in render_status(report)


def test_age_formatting() -> None:
    assert [age(s) for s in (None, -1, 40, 125, 3 * 3600 + 120, 2 * 86400 + 7200)] == [
        "-",
        "in the future",
        "40 s",
        "2 min 5 s",
        "3 h 2 min",
        "2 d 2 h",
    ]


@pytest.mark.e2e
def test_status_of_the_demo_archive(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    root = copy_of(demo_archive, tmp_path)
    [manifest_path] = root.glob("runs/*/manifest.json")
    manifest = json.loads(manifest_path.read_text("utf-8"))
    rows = [row for path in iter_row_files(root) for row in read_rows(path)]

    report = archive_status(open_root(root), now=NOW)

    [run] = report.runs
    assert run.run_id == manifest["run_id"] and run.ok and not run.interrupted
    assert run.published == "local"
    assert run.outlets == {
        o: {"kept": c["kept"], "errors": c["errors"]} for o, c in manifest["counts"]["outlets"].items()
    }
    assert sum(c["kept"] for c in run.outlets.values()) == len(rows)
    assert report.open_files == [] and report.queued_runs == []
    if "accounting" in manifest["counts"]:
        assert report.pending_urls == {o: 0 for o in manifest["counts"]["accounting"]}
    fresh = {f.outlet: f for f in report.freshness}
    assert set(fresh) == {"jiji", "asahi"}
    for outlet, item in fresh.items():
        published = [r["published_at"] for r in rows if r["outlet"] == outlet and r["published_at"]]
        assert item.newest_published_at == max(published)
        expected_age = (NOW - datetime.fromisoformat(max(published))).total_seconds()
        assert item.newest_published_age_s == pytest.approx(expected_age, abs=0.1)
        assert item.last_ok_run == run.run_id
        assert item.last_ok_finished_at == manifest["finished_at"]


@pytest.mark.e2e
def test_status_command_text_and_json(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = copy_of(demo_archive, tmp_path)
    run_id = next(root.glob("runs/*/manifest.json")).parent.name
    assert main(["status", str(root)]) == 0
    text = capsys.readouterr().out
    for heading in ("Last 1 run(s), newest first:", "Pending work:", "Failures in the last run", "Freshness"):
        assert heading in text
    assert f"{run_id}  " in text and "  ok  " in text

    assert main(["status", str(root), "--json", "--runs", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["root"] == str(root) and data["last_run"] == run_id
    assert [r["run_id"] for r in data["runs"]] == [run_id]
    assert {f["outlet"] for f in data["freshness"]} == {"jiji", "asahi"}


def test_status_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", str(tmp_path / "missing")]) == 2
    assert main(["status", str(tmp_path)]) == 2  # a folder, but not an archive root
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("newsarchive: error: ") for line in err)
    assert "not an archive" in err[1]
    assert main(["status", str(tmp_path), "--runs", "0"]) == 2


def test_status_of_an_s3_archive(s3: S3Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spool = tmp_path / "spool"
    url = s3.url("status/archive")
    store = open_store(url)
    first = build_run(spool)
    assert publish_run(spool, first.run_id, store).ok
    second = build_run(spool)
    # The second run's upload is pending: its queue file is what `publish_pending` resumes from.
    queue = queue_path(spool, second.run_id)
    queue.write_text(json.dumps({"run_id": second.run_id, "entries": []}))

    report = archive_status(ArchiveRoot(url=url, local=spool, store=store), now=NOW)
    # Newest first by run id (two runs built within one second sort by their random suffix).
    expected = sorted([(second.run_id, "queued"), (first.run_id, "published")], reverse=True)
    assert [(r.run_id, r.published) for r in report.runs] == expected
    assert report.queued_runs == [second.run_id]
    fresh = {f.outlet: f for f in report.freshness}
    # build_run: articles 0 and 2 are jiji's (2 without a date), 1 is asahi's, published 2025-03-1x
    assert fresh["jiji"].newest_published_at == "2025-03-10T09:00:00+09:00"
    assert fresh["asahi"].newest_published_at == "2025-03-11T09:00:00+09:00"

    # The same through the CLI, with a spool the store's runs are not in: they are read from S3.
    assert main(["status", url, "--json", "--spool", str(tmp_path / "empty-spool")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(r["run_id"], r["published"]) for r in data["runs"]] == [(first.run_id, "published")]
    assert data["freshness"][0]["newest_published_at"] is not None

    assert main(["status", s3.url("no/such/prefix"), "--spool", str(tmp_path / "other")]) == 2
    assert "not an archive root" in capsys.readouterr().err
    missing = f"s3://{s3.bucket}-missing/archive"
    assert main(["status", missing, "--spool", str(tmp_path / "other")]) == 4
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("newsarchive: storage error: ") and missing in line
