"""`newsarchive reindex s3://...` rebuilds the catalog of a remote archive in its local spool, from the
store's objects alone (the spool may have shed every published run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.catalog import Catalog
from archive.publish import publish_run
from archive.s3store import S3Store
from crawler.cli import main
from tests.s3server import S3Env, build_run

pytest_plugins = ["tests.s3server"]


def test_reindex_an_s3_root_from_the_store(
    s3: S3Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = build_run(tmp_path / "staging", articles=3)
    assert publish_run(run.root, run.run_id, S3Store.from_url(s3.url())).ok
    spool = tmp_path / "empty-spool"  # nothing local: every source is read from the bucket
    assert main(["reindex", s3.url(), "--spool", str(spool)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Rebuilt {spool / '.catalog.sqlite'} from ")
    with Catalog.open(spool) as catalog:
        counts = catalog.counts()
        assert counts["articles"] == 3 and counts["warc_files"] == 1
        assert f"{counts['articles']} article rows" in out
        row = catalog.conn.execute("SELECT url FROM articles LIMIT 1").fetchone()
        assert catalog.archived(row[0])


def test_reindex_of_a_missing_bucket_is_one_line_exit_4(
    s3: S3Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["reindex", "s3://no-such-bucket/archive", "--spool", str(tmp_path / "spool")])
    err = capsys.readouterr().err
    assert code == 4 and err.count("\n") == 1 and "NoSuchBucket" in err
