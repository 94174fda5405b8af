"""The SSRF guard's wiring: the project settings, the resolver built from the process settings, the
allow-list setting and flag, and the middleware's counting and logging (crawler.ssrf_guard). The crawls
themselves are in tests/test_ssrf_guard.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import scrapy
from scrapy.settings import Settings
from scrapy.utils.misc import load_object

from crawler.ssrf import SsrfRefused
from crawler.ssrf_guard import SsrfGuardMiddleware, SsrfResolver, policy_from_settings
from tests.test_ssrf_guard import project_settings


def test_project_settings_wire_the_guard() -> None:
    settings = project_settings(Path("unused"))
    assert load_object(settings["TWISTED_DNS_RESOLVER"]) is SsrfResolver
    middlewares = settings.getwithbase("DOWNLOADER_MIDDLEWARES")
    assert min(p for p in middlewares.values() if p is not None) == 10
    assert middlewares["crawler.ssrf_guard.SsrfGuardMiddleware"] == 10
    handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
    assert {k for k, v in handlers.items() if v} == {"http", "https"}


def test_resolver_from_process_settings_allow_lists_base_urls() -> None:
    from twisted.internet import reactor

    settings = project_settings(
        Path("unused"),
        OUTLET_BASE_URLS={"jiji": "http://127.0.0.1:8001"},
        SSRF_ALLOW_HOSTS=["intranet.example:8080"],
    )
    # Scrapy builds the resolver with the CrawlerProcess as "crawler": only `.settings` is there.
    resolver = SsrfResolver.from_crawler(SimpleNamespace(settings=settings), reactor)
    assert resolver.policy.check_url("http://127.0.0.1:8001/jc/") is None
    assert resolver.policy.check_resolved("intranet.example", "10.0.0.1") is None
    refused = resolver.policy.check_resolved("evil.example", "169.254.169.254")
    assert refused is not None and refused.reason == "link_local"


def test_malformed_allow_list_setting_stops_with_one_line() -> None:
    with pytest.raises(ValueError, match="SSRF_ALLOW_HOSTS: allow-list entry 'host:port'"):
        policy_from_settings(project_settings(Path("unused"), SSRF_ALLOW_HOSTS=["host:port"]))
    # A comma-separated string works too (scrapy crawl -s SSRF_ALLOW_HOSTS=a,b).
    policy = policy_from_settings(project_settings(Path("unused"), SSRF_ALLOW_HOSTS="10.0.0.1,[::1]:80"))
    assert policy.check_url("http://10.0.0.1/") is None and policy.check_url("http://[::1]/") is None


def test_middleware_counts_and_logs_every_refusal(caplog: pytest.LogCaptureFixture) -> None:
    class Stats:
        def __init__(self) -> None:
            self.values: dict[str, int] = {}

        def inc_value(self, key: str) -> None:
            self.values[key] = self.values.get(key, 0) + 1

    stats = Stats()
    middleware = SsrfGuardMiddleware(policy_from_settings(Settings()), stats)  # type: ignore[arg-type]
    request = scrapy.Request("http://127.0.0.2:9/admin")
    with pytest.raises(SsrfRefused) as refused:
        middleware.process_request(request)
    assert middleware.process_request(scrapy.Request("https://www.jiji.com/")) is None
    with caplog.at_level("WARNING", logger="crawler.ssrf_guard"):
        middleware.process_exception(request, refused.value)
        # A refusal from the resolver arrives the same way, named by host: it is logged with the URL.
        named = scrapy.Request("http://metadata.example/latest/")
        middleware.process_exception(named, SsrfRefused("metadata.example", "link_local", "x"))
        middleware.process_exception(named, OSError("not ours"))
    assert stats.values == {"newsarchive/refused/ssrf/loopback": 1, "newsarchive/refused/ssrf/link_local": 1}
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("SSRF guard refused http://127.0.0.2:9/admin: the host is 127.0.0.2")
    assert "http://metadata.example/latest/" in lines[1] and "--allow-host" in lines[1]


def test_allow_host_flag_reaches_the_settings(tmp_path: Path) -> None:
    from datetime import datetime

    from crawler.run import CrawlPlan, build_settings

    moment = datetime(2025, 3, 1)
    plan = CrawlPlan(
        root=tmp_path,
        outlets=["jiji"],
        topics=[],
        archive_all=False,
        since=moment,
        until=moment,
        max_articles=None,
        base_urls={"jiji": "http://127.0.0.1:8001"},
        user_agent="ua",
        contact="",
        allow_hosts=["10.0.0.5:8080"],
    )
    policy = policy_from_settings(build_settings(plan, "run"))
    assert policy.check_url("http://10.0.0.5:8080/") is None
    assert policy.check_url("http://127.0.0.1:8001/") is None
    assert policy.check_url("http://10.0.0.5:8081/") is not None
    assert plan.public_config()["allow_hosts"] == ["10.0.0.5:8080"]


def test_malformed_allow_host_flag_is_one_line_and_exit_2(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "crawl",
            "--archive",
            str(tmp_path / "a"),
            "--allow-host",
            "h:x",
        ],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "newsarchive: error: --allow-host: allow-list entry 'h:x': port must be a number from 1 to 65535"
    ]
