"""Scrapy settings for newsarchive: safe, polite defaults, and the wiring of every component.

This module is the composition root Scrapy reads (scrapy.cfg points here, so `scrapy crawl jiji` and Scrapyd
use the same defaults as `newsarchive crawl`). Every custom setting is prefixed by its component and
documented in docs/settings.md. The CLI overrides a few of them per run (archive root, run id, user agent).
"""

from __future__ import annotations

from crawler import __version__

BOT_NAME = "newsarchive"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# --- Identity -------------------------------------------------------------------------------------------
# An honest User-Agent: who we are and how to reach the operator. NEWSARCHIVE_CONTACT fills the contact
# part; the CLI rebuilds USER_AGENT from it (see crawler.cli_crawl.user_agent).
NEWSARCHIVE_CONTACT = ""
USER_AGENT = f"newsarchive/{__version__} (research news archiver; respects robots.txt)"

# --- Politeness -------------------------------------------------------------------------------------------
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_DELAY = 1.0  # also AutoThrottle's floor: never faster than one request per second per host
DOWNLOAD_DELAY_JITTER = 0.5  # ±50% around the delay (RANDOMIZE_DOWNLOAD_DELAY is deprecated in 2.19)
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
RETRY_TIMES = 2
# robots.txt Crawl-delay is a floor on the host's delay (crawler/crawl_delay.py), capped at this (seconds).
ROBOTSTXT_CRAWL_DELAY_MAX = 60.0
# Retry-After on 429/503 pauses the host (crawler/retry_after.py); a longer pause fails its URLs as
# rate_limited instead (the next run retries them).
RETRY_AFTER_MAX = 600.0

# --- Limits -----------------------------------------------------------------------------------------------
DOWNLOAD_TIMEOUT = 30
REDIRECT_MAX_TIMES = 20  # a redirect loop or an endless chain fails its URL after this many hops
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024  # no news page is larger; a bigger body is cancelled, not archived
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
# Crawler traps (crawler/url_caps.py): requests per host per run, and per URL pattern {regex: count}.
CRAWL_MAX_REQUESTS_PER_HOST = 50_000
CRAWL_PATH_CAPS: dict[str, int] = {}
# The default (100) wastes about 2 ms of reactor time per page (STACK-NOTES); our pipelines are async.
CONCURRENT_ITEMS = 8
# Scrapy's check reads and parses the callback's source on every response: its cache is keyed weakly on
# the bound method, which dies after each call (~0.5 ms per page, measured). Our callbacks are generators
# without `return value`, and the check is a hint for spider authors, not a safeguard.
WARN_ON_GENERATOR_RETURN_VALUE = False

# --- Attack surface ---------------------------------------------------------------------------------------
# Scrapy 2.19 starts an HTTP server that runs Python code unless told not to; we never want it.
REMOTE_CONTROL_ENABLED = False
TELNETCONSOLE_ENABLED = False
# No SSRF (crawler/ssrf_guard.py): host names are checked after resolution by this resolver, IP literals
# and schemes by SsrfGuardMiddleware; loopback, private, link-local, multicast, reserved and unspecified
# addresses are refused unless allow-listed. The origins of OUTLET_BASE_URLS are allow-listed by themselves.
TWISTED_DNS_RESOLVER = "crawler.ssrf_guard.SsrfResolver"
SSRF_ALLOW_HOSTS: list[str] = []  # "HOST[:PORT]" entries (--allow-host); no port = every port
# Scrapy would also fetch file:, data:, ftp: and s3: URLs found in pages; only http(s) is ever crawled, by
# Scrapy's HTTP/1.1 handler extended to report the resolver's refusals as SsrfRefused.
DOWNLOAD_HANDLERS = {
    "http": "crawler.ssrf_guard.GuardedHttpDownloadHandler",
    "https": "crawler.ssrf_guard.GuardedHttpDownloadHandler",
    "file": None,
    "data": None,
    "ftp": None,
    "s3": None,
}

# --- Components -------------------------------------------------------------------------------------------
DOWNLOADER_MIDDLEWARES = {
    # First of all: a refused URL (scheme, forbidden IP literal) is never rewritten, robots-checked or sent.
    "crawler.ssrf_guard.SsrfGuardMiddleware": 10,
    # Maps an outlet's real origin onto OUTLET_BASE_URLS[outlet] (mirrors, staging copies, the simulator).
    "crawler.middlewares.BaseUrlOverrideMiddleware": 50,
    # Scrapy 2.19's own robots middleware lets requests that waited for robots.txt through unchecked
    # (scrapy#6802); ours gives every waiting request the parsed rules (see crawler/middlewares.py).
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.RobotsTxtMiddleware": 100,
    # Crawler traps (calendars, endless pagers): at most CRAWL_MAX_REQUESTS_PER_HOST / CRAWL_PATH_CAPS.
    "crawler.url_caps.UrlCapMiddleware": 110,
    # Just above RetryMiddleware (550): a 429/503 Retry-After pauses the host before the retry is built.
    "crawler.retry_after.RetryAfterMiddleware": 560,
    # Above HttpCompressionMiddleware (590) and RedirectMiddleware (600): process_response runs in reverse
    # priority order, so this sees every response as received (still compressed, before redirects).
    "pipelines.warc.WarcCaptureMiddleware": 950,
}
EXTENSIONS = {
    # CookiesMiddleware uses tldextract, which downloads the Public Suffix List on first use.
    "crawler.offline.OfflinePublicSuffixList": 0,
    # Repairs what a crashed run left, then drops article requests the archive already holds (INCREMENTAL).
    "pipelines.incremental.IncrementalSkip": 100,
    # What became of every discovered URL: runs/<run>/urls-<outlet>.jsonl.gz and the run's accounting.
    "pipelines.url_ledger.UrlLedger": 110,
    # robots.txt Crawl-delay as the host's minimum delay; built after AutoThrottle (0) to correct it.
    "crawler.crawl_delay.CrawlDelay": 120,
    # A full disk met by an item pipeline stops the crawl (finish reason disk_full), as in the WARC capture.
    "pipelines.disk_full.DiskFullStop": 130,
}
ITEM_PIPELINES = {
    # A page bigger than EXTRACT_MAX_BYTES is archived but never handed to extraction (memory bound).
    "pipelines.page_limits.PageSizeLimitPipeline": 50,
    "pipelines.extract.ExtractPipeline": 100,
    # Revisits, retries and catch-ups from the catalog; judges revisited content (new version or not).
    "pipelines.revisits.CatalogFollowUps": 150,
    "pipelines.relevance.RelevancePipeline": 200,
    "pipelines.story_clusters.StoryClusterPipeline": 250,
    "pipelines.store.ArticleStorePipeline": 300,
}

# --- Archive ----------------------------------------------------------------------------------------------
ARCHIVE_ROOT = "archive"
NEWSARCHIVE_RUN_ID = ""  # set per run by the CLI; components make one when it is empty
OUTLET_BASE_URLS: dict[str, str] = {}
INCREMENTAL = True  # skip article pages the archive root already holds (catalog); --refetch turns it off
# Revisits of archived articles, in hours after publication (pipelines.revisits): corrections and
# deletions show up in the first week. Slots already past when an article is first archived are skipped.
REVISIT_HOURS = [6, 24, 7 * 24]
RETRY_MAX_ATTEMPTS = 5  # a failed URL is retried with backoff (1 h, 4 h, 16 h, ...) this many times
DISCOVERY_REPEAT_OUTLETS: list[str] = []  # per run: outlets an earlier run covered (listings/search skipped)
NEWSARCHIVE_NOW = ""  # ISO 8601 with offset: the moment the run believes it is (tests, replays); "" = now
ARCHIVE_STORE = ""  # s3://... when ARCHIVE_ROOT is its local spool: the catalog also reads the store
WARC_PREFIX = "newsarchive"
WARC_MAX_SIZE = 1_000_000_000
WARC_MAX_AGE = 24 * 3600
WARC_GZIP_LEVEL = 6  # level 9 costs ~40% more CPU for ~3% smaller files (STACK-NOTES measurements)
WARC_FSYNC = "close"  # "close": fsync when a file is closed; "record": after every record
WARC_OPERATOR = ""
# Bodies longer than this are stopped there and stored with WARC-Truncated: length (never silently cut);
# 0 leaves DOWNLOAD_MAXSIZE in charge. DOWNLOAD_MAXSIZE then only caps the decompressed size.
WARC_MAX_BODY = 32 * 1024 * 1024
WARC_DEDUP = True  # a payload already archived (this run or an earlier one) becomes a revisit record
WARC_REVISIT_MIN_SIZE = 128  # bytes as received; robots.txt and error pages repeat legitimately
# A connection lost mid-body still yields a response (flag "dataloss"), archived with
# WARC-Truncated: disconnect; with Scrapy's default (True) the exchange would vanish from the archive.
DOWNLOAD_FAIL_ON_DATALOSS = False

# --- Extraction and topics --------------------------------------------------------------------------------
EXTRACT_MIN_SIZE = 50  # characters; trafilatura's default (250) drops short Jiji flash items
EXTRACT_TIMEOUT = 20.0
EXTRACT_MAX_BYTES = 8 * 1024 * 1024  # bigger pages are archived, not extracted (pipelines/page_limits.py)
# 0 = extract in threads (a timed-out one cannot be stopped and keeps its thread and the GIL);
# N >= 1 = N spawned worker processes, killed and replaced on timeout. TOML outlets still use threads.
EXTRACT_WORKERS = 0
# In thread mode, a page up to this size goes through its page object on the reactor thread (~2 ms; a
# thread hand-off cost more); pages that need trafilatura (or the language model's first load) go to a
# thread. 0 = every page in a thread. Worker processes (EXTRACT_WORKERS >= 1) get every page.
EXTRACT_INLINE_MAX_BYTES = 1024 * 1024
TOPICS = ["russia-dprk"]
TOPIC_ARCHIVE_ALL = False
DISCOVERY_SEARCH_ENABLED = True  # query the outlet's site search for each topic's terms (where robots allow)
DISCOVERY_SEARCH_MAX_PAGES = 10  # result pages per query at most
STORY_CLUSTER_SEED = True  # load earlier runs' articles of nearby days so wire copies join old clusters
STORY_CLUSTER_SEED_DAYS = 3

LOG_LEVEL = "INFO"
LOG_FORMATTER = "crawler.logformatter.ShortItemLogFormatter"  # items are named by URL, not dumped
