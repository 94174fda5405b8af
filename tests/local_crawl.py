"""`python tests/local_crawl.py ARGS...`: the `newsarchive` CLI with the pace of a local-only crawl.

End-to-end tests crawl the simulator on 127.0.0.1 with `crawl --base-url`, which keeps the politeness a
real outlet is owed (DOWNLOAD_DELAY 1 s per request, AutoThrottle starting at 2 s): a crash-and-resume test
then spends two minutes waiting. This entry point gives the crawl the settings `demo` uses for the same
simulator (crawler.run.LOCAL_ONLY_SETTINGS) and changes nothing else: same CLI, same process, same files.
"""

from __future__ import annotations

import sys

import crawler.settings
from crawler.cli import main
from crawler.run import LOCAL_ONLY_SETTINGS


def use_local_pace() -> None:
    # crawler.run.build_settings reads the module's values when a run starts: patching them first is enough.
    for name, value in LOCAL_ONLY_SETTINGS.items():
        setattr(crawler.settings, name, value)


if __name__ == "__main__":
    use_local_pace()
    sys.exit(main())
