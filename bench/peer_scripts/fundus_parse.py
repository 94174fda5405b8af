"""fundus's own parsers (Asahi, Mainichi, Yomiuri, Nikkei, The Japan News) on the recorded real pages.

    python fundus_parse.py PAGES.json REPEAT

PAGES.json: [{"name", "outlet", "url", "html"}]; prints per page the fields and the median thread CPU
ms of one parse.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import emit

PUBLISHERS = {
    "asahi": "AsahiShimbun",
    "mainichi": "MainichiShimbun",
    "yomiuri": "YomiuriShimbun",
    "nikkei": "Nikkei",
    "japannews": "TheJapanNews",
}


def main() -> None:
    from fundus import PublisherCollection

    pages = json.loads(Path(sys.argv[1]).read_text("utf-8"))
    repeat = int(sys.argv[2])
    rows = []
    for page in pages:
        name = PUBLISHERS.get(page["outlet"])
        if name is None:
            rows.append({"name": page["name"], "supported": False})
            continue
        parser = getattr(PublisherCollection.jp, name).parser

        def parse(html: str = page["html"], parser: Any = parser) -> dict[str, Any]:
            return parser().parse(html, "suppress")

        times, fields = [], {}
        parse()
        for _ in range(repeat):
            t0 = time.thread_time()
            fields = parse()
            times.append(1000 * (time.thread_time() - t0))
        body = fields.get("body")
        rows.append(
            {
                "name": page["name"],
                "supported": True,
                "ms": statistics.median(times),
                "title": fields.get("title"),
                "published": str(fields.get("publishing_date") or "") or None,
                "authors": list(fields.get("authors") or []),
                "text": str(body) if body is not None else "",
            }
        )
    emit({"rows": rows})


if __name__ == "__main__":
    main()
