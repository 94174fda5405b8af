"""Article rows as JSON lines, one file per (outlet, published day) partition and writer.

A file is written as `<name>.open` and renamed when closed, so a consumer listing the folder never
reads a half-written file under its final name.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from archive.jsonvalidate import errors
from archive.paths import OPEN_SUFFIX, article_relpath, jst_date, rename_no_replace, safe_component

# Number allocation must see every writer of the process, or two could pick the same free name.
_allocation_lock = threading.Lock()


class InvalidRowError(ValueError):
    """A row that does not follow the schema the writer was given: never written."""


class JsonlPartitionWriter:
    def __init__(self, root: Path, run_id: str, *, schema: Mapping[str, Any] | None = None) -> None:
        """With `schema` (a JSON Schema, e.g. crawler.schema.article_schema()), every row is validated
        before it is written and an invalid row raises InvalidRowError."""
        self.root = Path(root)
        self.run_id = safe_component(run_id, "run id")
        self.schema = schema
        self._open: dict[tuple[str, str], tuple[str, IO[str]]] = {}
        self._lock = threading.Lock()

    def write(self, row: Mapping[str, Any]) -> str:
        """Append a row to its partition (row["outlet"], JST day of row["published_at"]).
        Returns the relative path the file will have once closed."""
        if self.schema is not None and (problems := errors(row, self.schema)):
            raise InvalidRowError(
                f"row for {row.get('url', '?')} breaks the schema: {'; '.join(problems[:5])}"
            )
        key = (str(row["outlet"]), jst_date(row.get("published_at")))
        line = json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n"
        with self._lock:
            if key not in self._open:
                self._open[key] = self._create(*key)
            rel, fh = self._open[key]
            fh.write(line)
            return rel

    def close(self) -> list[str]:
        """Close every partition file; return their final relative paths."""
        with self._lock:
            opened, self._open = self._open, {}
        closed = []
        for rel, fh in opened.values():
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
            final = self.root / rel
            with _allocation_lock:
                rename_no_replace(final.with_name(final.name + OPEN_SUFFIX), final)
            closed.append(rel)
        return closed

    def _create(self, outlet: str, day: str) -> tuple[str, IO[str]]:
        with _allocation_lock:
            n = 0
            while True:
                rel = article_relpath(self.run_id, outlet, day, n)
                final = self.root / rel
                final.parent.mkdir(parents=True, exist_ok=True)
                if not final.exists():
                    try:
                        fh = final.with_name(final.name + OPEN_SUFFIX).open("x", encoding="utf-8")
                    except FileExistsError:
                        pass
                    else:
                        return rel, fh
                n += 1
