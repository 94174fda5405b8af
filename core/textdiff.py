"""A short, citable summary of what changed between two versions of an article (Article.changes).

difflib over paragraphs (the text's lines): enough to tell a correction of one figure from a rewrite,
small enough for every row. The full texts stay in both versions' rows and WARC records.
"""

from __future__ import annotations

import difflib
from typing import Any

SNIPPET = 120  # characters of the first added and removed paragraph kept in the summary


def summarize_change(old_title: str, old_text: str, new_title: str, new_text: str) -> dict[str, Any]:
    old_lines = [line for line in old_text.splitlines() if line.strip()]
    new_lines = [line for line in new_text.splitlines() if line.strip()]
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    added: list[str] = []
    removed: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed += old_lines[i1:i2]
        if tag in ("replace", "insert"):
            added += new_lines[j1:j2]
    similarity = difflib.SequenceMatcher(a=old_text, b=new_text, autojunk=False).ratio()
    parts = [
        f"+{len(added)} / -{len(removed)} paragraph(s)",
        f"{len(new_text) - len(old_text):+d} characters",
    ]
    if old_title != new_title:
        parts.insert(0, "title changed")
    return {
        "summary": "; ".join(parts),
        "title_changed": old_title != new_title,
        "previous_title": old_title if old_title != new_title else None,
        "paragraphs_added": len(added),
        "paragraphs_removed": len(removed),
        "characters_before": len(old_text),
        "characters_after": len(new_text),
        "similarity": round(similarity, 4),
        "first_added": added[0][:SNIPPET] if added else None,
        "first_removed": removed[0][:SNIPPET] if removed else None,
    }
