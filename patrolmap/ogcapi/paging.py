"""What a page of features costs most on a large layer, worked out once while the data stays as it was.

A client walking a layer (ogr2ogr, QGIS: limit=1000, then each next link) asks for numberMatched on
every page, and for offset N the database walks N rows before the page. Both are kept per process,
with the data version they were read at: the count of each query, and where each page ended (its last
id), so that the page after it is read as "id above that" instead of walking the offset again.

The data version is the newest audit entry (every change to a layer's features writes one in the same
transaction: edits, status moves, voids, imports, retention runs) and the layer's newest feature, each
as its id and time, so that a database emptied and filled again never matches an old version. It is
read before the page and the count, so nothing is served for data older than it was read from.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patrolmap.layers import Layer
from patrolmap.models import AuditEntry

KEPT = 4096  # counts and page ends remembered per process

_kept: OrderedDict[Hashable, tuple[Hashable, Any]] = OrderedDict()
_lock = threading.Lock()


def data_version(session: Session, layer: Layer) -> Hashable:
    """The newest audit entry and the layer's newest feature (id and time): two primary key look-ups."""
    model = layer.model
    audit = session.execute(select(AuditEntry.id, AuditEntry.at).order_by(AuditEntry.id.desc()).limit(1)).first()
    newest = session.execute(select(model.id, model.created_at).order_by(model.id.desc()).limit(1)).first()
    return (tuple(audit) if audit else None, tuple(newest) if newest else None)


def _get(key: Hashable, version: Hashable) -> Any:
    with _lock:
        kept = _kept.get(key)
        if kept is None or kept[0] != version:
            return None
        _kept.move_to_end(key)
        return kept[1]


def _put(key: Hashable, version: Hashable, value: Any) -> None:
    with _lock:
        _kept[key] = (version, value)
        _kept.move_to_end(key)
        while len(_kept) > KEPT:
            _kept.popitem(last=False)


class Paging:
    """One query's memory (query: everything that selects its rows, in id order) at the data's version now."""

    def __init__(self, session: Session, layer: Layer, query: Hashable) -> None:
        self.version = data_version(session, layer)
        self.query = (str(session.get_bind().url), layer.id, query)

    def count(self, counter: Callable[[], int]) -> int:
        """numberMatched, counted only when this query was not counted at this version."""
        value = _get((self.query, "count"), self.version)
        if value is None:
            value = counter()
            _put((self.query, "count"), self.version, value)
        return value

    def after(self, offset: int) -> int | None:
        """The id of the row just before `offset` (the last of the page that ended there), when known."""
        return _get((self.query, "end", offset), self.version) if offset else None

    def ended(self, offset: int, last_id: int) -> None:
        """A page ended at `offset` (exclusive) with this id: the next page starts after it."""
        _put((self.query, "end", offset), self.version, last_id)


def forget() -> None:
    """Drop everything kept (for tests that change rows behind the app's back)."""
    with _lock:
        _kept.clear()
