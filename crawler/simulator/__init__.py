"""A deterministic local copy of the outlets' public surface (jiji, asahi) for demos and end-to-end tests.

Each outlet is served on its own 127.0.0.1 port under its real paths (robots.txt, RSS, sitemaps,
listings, articles, redirects), with pages built from templates derived from real saved pages and
articles generated from a seed.  `Simulator.articles` is the ground truth a crawl can be checked against.

Beyond the outlets' own pages:
- asahi site search: the asahi server also answers `/.cgi/sitesearch/sitesearch.pl?Keywords=<q>[&start=N]`,
  the path of `sitesearch.asahi.com` (a crawler's base-URL override maps that host onto the asahi port;
  the server ignores the Host header).  Results are real matches over the generated stories, newest
  first, ten per page (see `search`).
- transport test cases on the jiji server, linked from no page (so crawls and ground truth are unchanged):
  - `/sim/brotli.html`: `Content-Encoding: br` when the request accepts br (else gzip, else identity);
  - `/sim/oversize.html?bytes=N`: an identity body of exactly N bytes (default 300000, 64 B..20 MiB),
    for crawls whose size limit is below N;
  - `/sim/dropped.html?bytes=N&sent=M`: announces `Content-Length: N` (default 10000), sends only the
    first M bytes (default 5000), then closes the connection;
  - a bad `bytes`/`sent` value answers 400.  Repeated `Set-Cookie` (every article), gzip, chunked,
    Shift_JIS, redirects and 404s are exercised by the ordinary pages.
- `Simulator(robots_override={outlet: text})` serves another robots.txt, to test robots rules.
"""

from crawler.simulator.server import Simulator, serve
from crawler.simulator.site import DEMO_SINCE, DEMO_UNTIL, OUTLETS, SimArticle

__all__ = ["DEMO_SINCE", "DEMO_UNTIL", "OUTLETS", "SimArticle", "Simulator", "serve"]
