"""URL outcomes and their accounting (core.url_outcomes), each URL's state folded from the runs' ledgers
(archive.catalog_urls), the catalog's questions about it, and the change summary of a new version."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.catalog import Catalog
from archive.catalog_urls import UrlState, fold
from core.textdiff import summarize_change
from core.url_outcomes import Accounting
from crawler.run_stats import RunStats
from crawler.run_summary import accounting_lines

URL = "https://www.asahi.com/articles/AST3L9SW0T3LXKCM25QD.html"
T0 = datetime(2025, 3, 22, tzinfo=UTC)


def ev(state: str, hours: float, **fields: Any) -> dict[str, Any]:
    return {
        "url": URL,
        "outlet": "asahi",
        "state": state,
        "time": (T0 + timedelta(hours=hours)).isoformat(),
        **fields,
    }


def test_accounting_adds_up_or_says_why() -> None:
    outcomes = [
        {"state": "archived"},
        {"state": "excluded", "reason": "off_topic"},
        {"state": "excluded", "reason": "off_topic"},
        {"state": "failed", "reason": "http_503"},
        {"state": "pending"},
    ]
    interrupted = Accounting.from_outcomes(outcomes, candidates_counted=5, finished=False)
    assert (
        interrupted.balanced
        and interrupted.line() == "5 discovered = 1 archived + 1 failed + 2 excluded + 1 pending"
    )
    assert interrupted.as_json()["excluded"] == {"off_topic": 2}
    # The same ledger from a run that finished normally lost a URL somewhere: it must not pass.
    finished = Accounting.from_outcomes(outcomes, candidates_counted=5, finished=True)
    assert finished.problems() == ["1 URL(s) left without an outcome by a run that finished normally"]
    # A candidate the spider counted that never reached the ledger is a silent loss too.
    lost = Accounting.from_outcomes(outcomes[:4], candidates_counted=5)
    assert lost.problems() == ["the spider counted 5 distinct candidates, the ledger 4"]


def test_an_unbalanced_outlet_fails_the_run_and_says_so() -> None:
    base = {"finish_reason": "finished", "downloader/response_count": 10, "newsarchive/urls/discovered": 3}
    stats = {
        "asahi": {**base, "newsarchive/urls/archived": 3, "newsarchive/urls/candidates_counted": 3},
        "jiji": {**base, "newsarchive/urls/archived": 2, "newsarchive/urls/candidates_counted": 3},
    }
    run = RunStats.from_stats(stats)
    assert run.balanced("asahi") and not run.balanced("jiji")
    assert not run.all_ok(["asahi", "jiji"]) and run.failed_outlets(["asahi", "jiji"]) == ["jiji"]
    assert run.manifest_counts()["accounting"]["jiji"]["balanced"] is False
    assert "  ACCOUNTING PROBLEM: 3 discovered but 2 accounted for" in accounting_lines(run)


def test_revisit_slots_follow_publication_and_skip_the_past() -> None:
    published = (T0 - timedelta(hours=2)).isoformat()
    state = fold([ev("archived", 0, published_at=published, digest="sha1:A", version=1)])
    assert state is not None and state.state == "archived" and state.versions == 1
    assert state.next_revisit() == T0 + timedelta(hours=4)  # published +6 h
    state = fold([ev("archived", 0, published_at=published), ev("unchanged", 5)])
    assert state is not None and state.next_revisit() == T0 + timedelta(hours=22)  # +24 h
    # A run that missed two slots revisits once, then waits for the next slot after it.
    state = fold([ev("archived", 0, published_at=published), ev("unchanged", 30)])
    assert state is not None and state.next_revisit() == T0 + timedelta(hours=166)  # +7 d
    state = fold([ev("archived", 0, published_at=published), ev("unchanged", 170)])
    assert state is not None and state.next_revisit() is None
    # First archived a month after publication (a backfill): no slot is left.
    old = (T0 - timedelta(days=30)).isoformat()
    assert fold([ev("archived", 0, published_at=old)]).next_revisit() is None  # type: ignore[union-attr]
    # Custom schedule.
    state = fold([ev("archived", 0, published_at=published)])
    assert state is not None and state.next_revisit((1, 2)) is None
    assert state.next_revisit((1, 3)) == T0 + timedelta(hours=1)


def test_versions_tombstones_and_the_newest_capture() -> None:
    state = fold(
        [
            ev("archived", 0, digest="sha1:A", record_id="<a>", etag='"a"', version=1),
            ev("changed", 6, digest="sha1:B", record_id="<b>", etag='"b"', version=2),
            ev("excluded", 7, reason="already_archived"),
        ]
    )
    assert state is not None
    assert (state.state, state.versions, state.digest, state.record_id, state.etag) == (
        "archived",
        2,
        "sha1:B",
        "<b>",
        '"b"',
    )
    gone = fold([ev("archived", 0), ev("gone", 24, status=410), ev("failed", 48, reason="http_503")])
    assert gone is not None and (gone.state, gone.status) == ("gone", 410)
    assert gone.gone_at == (T0 + timedelta(hours=24)).isoformat() and gone.next_revisit() is None


def test_failures_back_off_exponentially_and_reset_on_success() -> None:
    failures = [ev("failed", h, reason="http_503") for h in (0, 1, 5)]
    state = fold(failures)
    assert state is not None and (state.state, state.reason, state.attempts) == ("failed", "http_503", 3)
    assert state.next_attempt() == T0 + timedelta(hours=5) + timedelta(hours=16)  # 1 h, 4 h, 16 h, ...
    recovered = fold([*failures, ev("archived", 30)])
    assert recovered is not None and (recovered.state, recovered.attempts) == ("archived", 0)
    # Skipped as known, an off-topic page keeps the reason it was excluded for.
    off = fold([ev("excluded", 0, reason="off_topic"), ev("excluded", 1, reason="already_archived")])
    assert off is not None and off.reason == "off_topic"


def _write_ledger(root: Path, run_id: str, lines: list[dict[str, Any]]) -> None:
    path = root / "runs" / run_id / "urls-asahi.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress("".join(json.dumps(line) + "\n" for line in lines).encode()))


def test_catalog_ingests_ledgers_and_reindex_gives_the_same_states(tmp_path: Path) -> None:
    feed = "https://www.asahi.com/rss/asahi/newsheadlines.rdf"
    _write_ledger(
        tmp_path,
        "20250322T000000Z-aaaaaa",
        [
            {
                **ev("archived", 0, version=1, sources=["feed", "sitemap"]),
                "run_id": "20250322T000000Z-aaaaaa",
            },
            {"kind": "discovery", "url": feed, "time": T0.isoformat(), "etag": '"1"', "last_modified": "x"},
        ],
    )
    _write_ledger(
        tmp_path,
        "20250323T000000Z-bbbbbb",
        [
            {**ev("gone", 24, status=404, sources=["revisit"]), "run_id": "20250323T000000Z-bbbbbb"},
            {"kind": "discovery", "url": feed, "time": (T0 + timedelta(hours=24)).isoformat(), "etag": '"2"'},
        ],
    )
    with Catalog.open(tmp_path) as catalog:
        assert catalog.refresh() == 2
        state = catalog.url_state(URL)
        assert (
            isinstance(state, UrlState)
            and state.state == "gone"
            and state.sources == ["feed", "sitemap", "revisit"]
        )
        assert catalog.validators(feed) == ('"2"', None)
        before = [vars(s) for s in catalog.url_states("asahi")]
        catalog.rebuild()  # newsarchive reindex
        assert [vars(s) for s in catalog.url_states("asahi")] == before
        assert catalog.validators(feed) == ('"2"', None)
        assert catalog.url_state("https://example.org/never") is None


def test_change_summary_names_what_changed() -> None:
    old = "第1段落。\n第2段落。\n第3段落。"
    new = "第1段落。\n第2段落（訂正）。\n第3段落。\n第4段落。"
    change = summarize_change("見出し", old, "新しい見出し", new)
    assert change["title_changed"] and change["previous_title"] == "見出し"
    assert (change["paragraphs_added"], change["paragraphs_removed"]) == (2, 1)
    assert change["first_added"] == "第2段落（訂正）。" and change["first_removed"] == "第2段落。"
    assert change["summary"] == f"title changed; +2 / -1 paragraph(s); {len(new) - len(old):+d} characters"
    assert summarize_change("t", old, "t", old)["similarity"] == 1.0


def test_failed_urls_are_held_back_during_backoff_then_retried_then_given_up(tmp_path: Path) -> None:
    from pipelines.incremental import IncrementalSkip

    def held_back(hours_later: float) -> str | None:
        skip = IncrementalSkip(tmp_path, now=T0 + timedelta(hours=hours_later), max_attempts=3)
        try:
            return skip.held_back(URL)
        finally:
            if skip._catalog is not None:
                skip._catalog.close()

    _write_ledger(tmp_path, "r1", [{**ev("failed", 0, reason="http_503"), "run_id": "r1"}])
    assert held_back(0.5) == "retry_backoff"  # the first retry waits an hour
    assert held_back(1.5) is None
    _write_ledger(tmp_path, "r2", [{**ev("failed", 2, reason="http_503"), "run_id": "r2"}])
    assert held_back(5.5) == "retry_backoff" and held_back(6.5) is None  # then four hours
    _write_ledger(tmp_path, "r3", [{**ev("failed", 7, reason="http_503"), "run_id": "r3"}])
    assert held_back(1000) == "gave_up"  # three failures: reported, not fetched again
    assert IncrementalSkip(tmp_path, now=T0).held_back("https://www.asahi.com/articles/other.html") is None


def test_the_catalog_schedules_revisits_retries_and_catch_ups_when_due() -> None:
    from types import SimpleNamespace

    from pipelines.revisits import CatalogFollowUps

    published = (T0 - timedelta(hours=2)).isoformat()
    window = SimpleNamespace(in_window=lambda c: c.published_at.startswith("2025-03-2"))

    def due(state: UrlState | None, hours_later: float) -> str | None:
        follow = CatalogFollowUps(
            SimpleNamespace(),
            Path("."),
            now=T0 + timedelta(hours=hours_later),
            max_attempts=2,  # type: ignore[arg-type]
        )
        assert state is not None
        return follow._due(window, state)

    archived = fold([ev("archived", 0, published_at=published)])
    assert due(archived, 3) is None and due(archived, 4) == "revisit"
    erring = fold([ev("archived", 0, published_at=published), ev("failed", 4.5), ev("failed", 5)])
    assert due(erring, 6) is None  # two failed revisits: RETRY_MAX_ATTEMPTS reached
    failed = fold([ev("failed", 0, reason="http_503")])
    assert due(failed, 0.5) is None and due(failed, 1) == "retry"
    twice = fold([ev("failed", 0, reason="http_503"), ev("failed", 1, reason="http_503")])
    assert due(twice, 100) is None  # RETRY_MAX_ATTEMPTS reached
    outside = fold([ev("excluded", 0, reason="out_of_window", published_at="2025-03-21T10:00:00+09:00")])
    assert due(outside, 0) == "catch-up"  # this run's window covers it now
    older = fold([ev("excluded", 0, reason="out_of_window", published_at="2025-02-01T10:00:00+09:00")])
    off_topic = fold([ev("excluded", 0, reason="off_topic", published_at=published)])
    gone = fold([ev("archived", 0, published_at=published), ev("gone", 1)])
    assert due(older, 0) is None and due(off_topic, 100) is None and due(gone, 100) is None
