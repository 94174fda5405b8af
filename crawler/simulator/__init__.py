"""A deterministic local copy of the outlets' public surface (jiji, asahi) for demos and end-to-end tests.

Each outlet is served on its own 127.0.0.1 port under its real paths (robots.txt, RSS, sitemaps,
listings, articles, redirects), with pages built from templates derived from real saved pages and
articles generated from a seed.  `Simulator.articles` is the ground truth a crawl can be checked against.
"""

from crawler.simulator.server import Simulator, serve
from crawler.simulator.site import DEMO_SINCE, DEMO_UNTIL, OUTLETS, SimArticle

__all__ = ["DEMO_SINCE", "DEMO_UNTIL", "OUTLETS", "SimArticle", "Simulator", "serve"]
