"""URL converters: ids in paths within what the database can compare.

Werkzeug's int converter takes any run of digits; an id beyond the id columns' range then reaches
the database, which refuses to compare it (PostgreSQL: integer out of range; SQLite past 64 bits:
OverflowError), a 500. Such a path names no record: it answers 404 like any other unknown id. The
limit is in the pattern, not a maximum checked after matching: Werkzeug answers a value its
converter refuses with 405 when the path has rules for other methods.
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

from patrolmap.store import MAX_ID

__all__ = ["MAX_ID", "StoredId", "digits_at_most"]


def digits_at_most(limit: int) -> str:
    """A regular expression for the whole numbers from 0 to limit, written without a sign."""
    text = str(limit)
    parts = [rf"\d{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    for i, digit in enumerate(text):
        lowest = 1 if i == 0 and len(text) > 1 else 0
        if int(digit) > lowest:
            rest = len(text) - i - 1
            parts.append(f"{text[:i]}[{lowest}-{int(digit) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    parts.append(text)
    return "(?:" + "|".join(parts) + ")"


class StoredId(IntegerConverter):
    """<int:...> for record ids: 0 to MAX_ID, any larger number matches no route (404)."""

    regex = digits_at_most(MAX_ID)
