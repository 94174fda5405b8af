"""Body cross-check counts reach the run manifest and the summary, per outlet."""

from __future__ import annotations

from crawler.run_stats import BODY_FALLBACK, BODY_FALLBACK_TRAF, RunStats
from crawler.run_summary import body_check_lines


def test_body_crosschecks_are_counted_per_outlet() -> None:
    stats = RunStats.from_stats(
        {
            "jiji": {"finish_reason": "finished", BODY_FALLBACK: 3, BODY_FALLBACK_TRAF: 2},
            "asahi": {"finish_reason": "finished"},
        }
    )
    assert stats.manifest_counts()["body_crosschecks"] == {"jiji": {"disagreed": 3, "chose_trafilatura": 2}}
    [line] = body_check_lines(stats)
    assert line.startswith("Body cross-check: jiji: 3 page(s)") and "(2 took trafilatura's)" in line


def test_no_line_when_every_body_agreed() -> None:
    stats = RunStats.from_stats({"jiji": {"finish_reason": "finished"}})
    assert stats.manifest_counts()["body_crosschecks"] == {}
    assert body_check_lines(stats) == []
