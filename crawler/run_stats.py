"""What a crawl run's per-outlet Scrapy stats add up to: the counts the manifest, the summary and the exit
code are made of.

Reads only stats dictionaries; keys follow `component/event/detail` (docs/cli.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from core.url_outcomes import STATES, Accounting
from crawler.progress import OutletCounts, counts_from_stats

TOPIC_PREFIX = "newsarchive/topics/"
URLS_PREFIX = "newsarchive/urls/"  # written by pipelines.url_ledger when the spider closes


def accounting_from_stats(stats: Mapping[str, Any]) -> Accounting | None:
    """One outlet's URL accounting, as its ledger left it in the stats; None when the ledger did not
    run (the crawler never opened its spider)."""
    if f"{URLS_PREFIX}discovered" not in stats:
        return None
    acc = Accounting(
        discovered=int(stats[f"{URLS_PREFIX}discovered"]),
        candidates_counted=stats.get(f"{URLS_PREFIX}candidates_counted"),
        finished=bool(stats.get(f"{URLS_PREFIX}finished", 1)),
    )
    for key, value in stats.items():
        if not key.startswith(URLS_PREFIX):
            continue
        name = key.removeprefix(URLS_PREFIX)
        kind, _, reason = name.partition("/")
        if kind == "failed" and reason:
            acc.failed[reason] = int(value)
        elif kind == "excluded" and reason:
            acc.excluded[reason] = int(value)
        elif name in STATES:
            acc.counts[name] = int(value)
    return acc


def errors_by_reason(stats: Mapping[str, Any]) -> dict[str, int]:
    """One outlet's errors by reason: the components' own counters, HTTP 4xx/5xx, download exceptions and
    spider exceptions."""
    errors: dict[str, int] = {}
    for key, value in stats.items():
        if key.startswith("newsarchive/errors/"):
            errors[key.removeprefix("newsarchive/errors/")] = int(value)
        elif key.startswith("downloader/response_status_count/") and key.rsplit("/", 1)[1][:1] in "45":
            status = key.rsplit("/", 1)[1]
            # 404/410 answers to revisits are tombstones (pipelines.revisits), not errors
            count = int(value) - int(stats.get(f"newsarchive/revisits/gone_{status}", 0))
            if count:
                errors[f"http_{status}"] = count
        elif key.startswith("downloader/exception_type_count/"):
            errors[key.rsplit("/", 1)[1].rsplit(".", 1)[-1]] = int(value)
        elif key.startswith("spider_exceptions/") and key != "spider_exceptions/count":
            errors[f"spider_{key.rsplit('/', 1)[1]}"] = int(value)
    return errors


def _sum_counts(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for name, count in part.items():
            total[name] = total.get(name, 0) + count
    return total


BODY_FALLBACK = "newsarchive/extract/body_fallback"
BODY_FALLBACK_TRAF = "newsarchive/extract/body_fallback/chose_trafilatura"


@dataclass
class RunStats:
    stats: dict[str, dict[str, Any]]  # outlet -> raw Scrapy stats
    per_outlet: dict[str, OutletCounts]
    finish_reasons: dict[str, str]
    topic_counts: dict[str, int]  # topic -> articles accepted for it, all outlets
    errors_by_outlet: dict[str, dict[str, int]]
    errors_total: dict[str, int]

    @classmethod
    def from_stats(cls, stats: dict[str, dict[str, Any]]) -> RunStats:
        errors_by_outlet = {name: errors_by_reason(s) for name, s in stats.items()}
        return cls(
            stats=stats,
            per_outlet={name: counts_from_stats(s) for name, s in stats.items()},
            finish_reasons={name: str(s.get("finish_reason", "not started")) for name, s in stats.items()},
            topic_counts=_sum_counts(
                {k.removeprefix(TOPIC_PREFIX): int(v) for k, v in s.items() if k.startswith(TOPIC_PREFIX)}
                for s in stats.values()
            ),
            errors_by_outlet=errors_by_outlet,
            errors_total=_sum_counts(errors_by_outlet.values()),
        )

    def crawled_ok(self, outlet: str) -> bool:
        """The outlet's crawler finished normally and fetched something (a Redis worker may find the
        shared frontier empty: that is not a failure of its outlet)."""
        shared = bool(self.stats.get(outlet, {}).get(f"{URLS_PREFIX}shared_frontier"))
        return self.finish_reasons.get(outlet) == "finished" and (self.per_outlet[outlet].pages > 0 or shared)

    def all_ok(self, outlets: Iterable[str]) -> bool:
        """Every outlet crawled, no spider callback raised, and every outlet's URLs are accounted for."""
        return all(
            self.crawled_ok(o) and not self.stats[o].get("spider_exceptions/count") and self.balanced(o)
            for o in outlets
        )

    def accounting(self) -> dict[str, Accounting]:
        found = {}
        for outlet, s in self.stats.items():
            acc = accounting_from_stats(s)
            if acc is not None:
                found[outlet] = acc
        return found

    def balanced(self, outlet: str) -> bool:
        acc = accounting_from_stats(self.stats.get(outlet, {}))
        return acc is None or acc.balanced

    def failed_outlets(self, outlets: Iterable[str]) -> list[str]:
        return [o for o in outlets if not self.crawled_ok(o) or not self.balanced(o)]

    def manifest_counts(self) -> dict[str, Any]:
        return {
            "outlets": {k: asdict(v) for k, v in self.per_outlet.items()},
            "topics": self.topic_counts,
            "errors_by_outlet": self.errors_by_outlet,
            "body_crosschecks": self.body_crosschecks(),
            "accounting": {k: v.as_json() for k, v in self.accounting().items()},
            # "shutdown": stopped by SIGINT/SIGTERM (crawler.crawl_process); `newsarchive status` reads it
            "finish_reasons": self.finish_reasons,
        }

    def body_crosschecks(self) -> dict[str, dict[str, int]]:
        """Per outlet, pages whose page-object body disagreed strongly with trafilatura's
        (pipelines.body_crosscheck) and how many of them took trafilatura's body: a layout change shows
        up here as a number instead of as silently lost paragraphs."""
        found = {}
        for outlet, s in self.stats.items():
            disagreed = int(s.get(BODY_FALLBACK, 0))
            if disagreed:
                found[outlet] = {
                    "disagreed": disagreed,
                    "chose_trafilatura": int(s.get(BODY_FALLBACK_TRAF, 0)),
                }
        return found

    @property
    def kept(self) -> int:
        return sum(c.kept for c in self.per_outlet.values())

    @property
    def warc_records(self) -> int:
        return sum(c.warc_records for c in self.per_outlet.values())
