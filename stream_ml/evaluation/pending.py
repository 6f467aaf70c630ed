"""Predictions waiting for their labels: the delayed-label join.

A pending record holds what the models saw when they predicted (the features, never recomputed)
and what they answered. It is bounded twice:

* ``max_pending``: when full, the oldest records are evicted to make room (counted as
  ``evicted``). The newest predictions are the ones most likely to still get a label.
* ``ttl`` (event time): a record older than the newest event time minus ``ttl`` expires (counted
  as ``expired``). Expiry runs every ``check_every`` insertions, not per event.

Ids that left by eviction or expiry are remembered (a bounded set) so that a label arriving too
late is reported as *expired*, not *unknown*.

Three record classes, one per way the engine predicted (chosen by the engine when it predicts,
so that the join never guesses a record's shape):

* :class:`~stream_ml.events.Prediction`: one model answered (the hot path): the prediction the
  engine returned is its own record (its ``x`` holds what the model saw);
* :class:`Answers`: several models, no router: one ``(y_pred, proba)`` per slot, in slot order;
* :class:`Routed`: a router decided (or a ranking request): the answers (``None`` for a slot
  that did not answer), the router's decision, the interleaved list and the candidate rows.

>>> store = PendingStore(max_pending=2)
>>> for id, ts in [("a", 0.0), ("b", 1.0), ("c", 2.0)]:
...     store.add(id, Prediction(id, "m", None, ts=ts, x={"x": ts}))
>>> store.pop("b").x, store.counts()["evicted"], store.pop("a")
({'x': 1.0}, 1, None)
>>> store.was_dropped("a"), store.was_dropped("zzz")
(True, False)
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any

from stream_ml.errors import ConfigError
from stream_ml.events import Prediction


class Answers:
    """A prediction of several models, no router: ``answers[i]`` is slot ``i``'s
    ``(y_pred, proba)``; a slot added later (a challenger) has no answer here."""

    __slots__ = ("answers", "ts", "x")

    def __init__(self, x: dict, ts: float, answers: tuple) -> None:
        self.x = x
        self.ts = ts
        self.answers = answers


class Routed:
    """A routed prediction (or a ranking request): the answers (``None`` for a slot that did not
    answer), the router's ``decision``, the ``interleaved`` list and the candidate ``rows``."""

    __slots__ = ("answers", "decision", "interleaved", "rows", "ts", "x")

    def __init__(
        self, x: dict, ts: float, answers: tuple, decision: Any, interleaved: Any, rows: Any
    ) -> None:
        self.x = x
        self.ts = ts
        self.answers = answers
        self.decision = decision
        self.interleaved = interleaved
        self.rows = rows


Record = Prediction | Answers | Routed


class PendingStore:
    """Bounded map from prediction id to the record a later label joins.

    The engine inserts and pops on ``records`` (a plain dict, in arrival order) directly on
    its hot path and calls :meth:`maintain` every ``check_every`` insertions and
    :meth:`make_room` when ``records`` is full. A record's event time is its ``ts``.

    Parameters
    ----------
    max_pending
        The most records held at once. When full, the oldest ``max(1, max_pending // 64)``
        records are evicted in one batch (counted): evicting in batches keeps a full store
        O(1) per insertion.
    ttl
        Event-time seconds a record may wait for its label (None: no expiry).
    check_every
        How many insertions between two expiry sweeps.
    remember
        How many dropped ids to remember, to tell "expired" from "unknown".
    """

    def __init__(
        self,
        max_pending: int = 100_000,
        ttl: float | None = None,
        *,
        check_every: int = 1024,
        remember: int = 10_000,
    ) -> None:
        if max_pending < 1:
            raise ConfigError(f"max_pending must be >= 1, got {max_pending}")
        if ttl is not None and ttl <= 0:
            raise ConfigError(f"label ttl must be > 0, got {ttl}")
        self.max_pending = max_pending
        self.ttl = ttl
        self.check_every = check_every
        self.remember = remember
        self.records: dict[str, Any] = {}
        self._dropped: OrderedDict[str, None] = OrderedDict()
        self.newest_ts = float("-inf")
        self.expired = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, id: str) -> bool:
        return id in self.records

    def add(self, id: str, record: Any) -> None:
        """Hold ``record`` under ``id`` (the slow path; the engine inlines this)."""
        if len(self.records) >= self.max_pending:
            self.make_room()
        self.records[id] = record
        ts = record.ts
        if ts > self.newest_ts:
            self.newest_ts = ts

    def pop(self, id: str) -> Any:
        """The record for ``id``, removed; ``None`` if there is none."""
        return self.records.pop(id, None)

    def sent_at(self, id: str) -> float | None:
        """The event time of the pending prediction ``id`` (None when it is not pending)."""
        record = self.records.get(id)
        return None if record is None else record.ts

    def was_dropped(self, id: str) -> bool:
        """Whether ``id`` was evicted or expired (among the last ``remember`` dropped)."""
        return id in self._dropped

    def _forget(self, ids: list[str]) -> None:
        dropped = self._dropped
        for id in ids[-self.remember :]:
            dropped[id] = None
        while len(dropped) > self.remember:
            dropped.popitem(last=False)

    def make_room(self) -> int:
        """Evict the oldest batch of records; returns how many."""
        records = self.records
        n = max(1, self.max_pending // 64)
        ids = list(itertools.islice(records, n))
        for id in ids:
            del records[id]
        self.evicted += len(ids)
        self._forget(ids)
        return len(ids)

    def maintain(self, now: float | None = None) -> int:
        """Expire records older than ``now - ttl`` (``now``: the newest event time seen).

        Records are visited in arrival order and the sweep stops at the first one inside the
        horizon; an old record that arrived after a newer one waits for a later sweep.
        """
        if self.ttl is None:
            return 0
        if now is None:
            now = self.newest_ts
        horizon = now - self.ttl
        records = self.records
        ids = []
        for id, rec in records.items():
            if rec.ts >= horizon:
                break
            ids.append(id)
        for id in ids:
            del records[id]
        self.expired += len(ids)
        self._forget(ids)
        return len(ids)

    def counts(self) -> dict[str, int]:
        return {"pending": len(self.records), "expired": self.expired, "evicted": self.evicted}
