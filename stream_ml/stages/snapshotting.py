"""The snapshot stage: when to snapshot the engine, how to restore it, how to roll it back.

A snapshot's payload is ``{"engine": engine, "extra": runtime_state}``: the whole engine
(models, feature state, router, detectors, pending labels, metrics, its random generator, the
snapshot schedule) plus what the runtime driving it needs to resume (the replay runner's held
labels). Its row records the source offset of the next record to read, so that restore + seek
continues the run as if it had never stopped.

The stage is attached to an engine (``engine.snapshots``) but is not part of the engine's
state: it holds an open SQLite connection and is never pickled.

Losses are reported, never silent: when the store lost committed snapshots (a deleted or
damaged ``-wal`` file, see :mod:`stream_ml.snapshots.store`), :meth:`SnapshotStage.latest` goes
on from the newest valid snapshot and says so in ``stage.lost`` (a
:class:`~stream_ml.snapshots.SnapshotLoss`), ``stage.skipped`` (code ``snapshot_lost``) and
``stage.recovery`` (one line for the operator, also logged as a warning).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from stream_ml.errors import ConfigError, SnapshotCorrupt, SnapshotError
from stream_ml.snapshots import (
    Recovered,
    SkippedSnapshot,
    SnapshotInfo,
    SnapshotLoss,
    SnapshotLost,
    SnapshotPolicy,
    SnapshotStore,
)

__all__ = ["NotAnEngineSnapshot", "SnapshotStage", "engine_state"]

log = logging.getLogger("stream_ml.snapshots")
_GO_ON = (SnapshotCorrupt.code, SnapshotLost.code)  # skipped for these, a run may start over


class NotAnEngineSnapshot(SnapshotError):
    """A snapshot verified, but its payload is not an engine snapshot (another program's)."""

    code = "snapshot_not_engine"


def engine_state(state: object, version: int, where: object = "") -> dict[str, Any]:
    """``state`` if it is an engine snapshot (``{"engine": <engine>, ...}``), else a typed error.

    An engine is recognised by its ``slots`` and ``seq`` attributes (no import of the engine
    module: it imports this one).

    Examples:
        >>> engine_state({"engine": [1, 2]}, 7, "s.db")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        stream_ml.stages.snapshotting.NotAnEngineSnapshot: snapshot 7 in s.db does not hold \
an engine: found a dict whose 'engine' is a list ...
    """
    place = f" in {where}" if where else ""
    if not isinstance(state, dict):
        found = f"a {type(state).__name__}"
    elif "engine" not in state:
        found = f"a dict without an 'engine' key (keys: {sorted(map(str, state))[:8]})"
    else:
        engine = state["engine"]
        if hasattr(engine, "slots") and hasattr(engine, "seq"):
            return state
        found = f"a dict whose 'engine' is a {type(engine).__name__} (no slots and seq)"
    raise NotAnEngineSnapshot(
        f"snapshot {version}{place} does not hold an engine: found {found}; was it written by "
        "SnapshotStage.save (or Engine.snapshot)?"
    )


class SnapshotStage:
    """Saves, restores and rolls back an engine through a :class:`SnapshotStore`.

    Parameters
    ----------
    store
        The SQLite snapshot store.
    config_hash
        Hash of the engine's configuration, recorded with every snapshot.
    """

    def __init__(self, store: SnapshotStore, *, config_hash: str = "") -> None:
        self.store = store
        self.config_hash = config_hash
        self.parent: int | None = None
        self.skipped: list[SkippedSnapshot] = []
        self.lost: SnapshotLoss | None = store.lost
        self.recovery: str | None = None

    @classmethod
    def open(
        cls,
        path: str,
        *,
        key: str | None = None,
        key_env: str = "STREAM_ML_SNAPSHOT_KEY",
        trust_unsigned: bool = False,
        keep_last: int | None = None,
        synchronous: str = "FULL",
        config_hash: str = "",
    ) -> SnapshotStage:
        key = key or os.environ.get(key_env) or None
        if key is None and not trust_unsigned:
            raise ConfigError(
                f"snapshots need a signing key: set ${key_env} (snapshots.key_env names another "
                "variable), or opt into trust_unsigned = true for local files you trust"
            )
        store = SnapshotStore(
            path,
            key=key,
            trust_unsigned=trust_unsigned,
            keep_last=keep_last,
            synchronous=synchronous,  # type: ignore[arg-type]
        )
        return cls(store, config_hash=config_hash)

    def save(
        self,
        engine: Any,
        *,
        offset: Any = None,
        extra: Any = None,
        tags: tuple[str, ...] = (),
        note: str | None = None,
        mark: bool = True,
    ) -> SnapshotInfo:
        """Snapshot ``engine`` now. ``mark``: the schedule is marked first, so it is in the
        state (a runtime's own checkpoint passes False: the schedule stays as it was). The
        ``snapshot`` record is the runtime driver's (:mod:`stream_ml.runtime.driver`)."""
        policy: SnapshotPolicy | None = getattr(engine, "snapshot_policy", None)
        if mark and policy is not None:
            policy.mark(engine.seq, engine.last_ts)
        metrics = {s.name: s.prequential.values() for s in engine.slots if s.prequential.names}
        info = self.store.save(
            {"engine": engine, "extra": extra},
            engine=engine.name,
            offset=offset,
            events=engine.seq,
            event_time=engine.last_ts,
            config_hash=self.config_hash,
            metrics=metrics,
            parent=self.parent,
            tags=tags,
            note=note,
        )
        self.parent = info.version
        return info

    def latest(self) -> Recovered | None:
        """The newest snapshot that verifies (corrupt and lost ones are skipped and remembered).

        None when the store is empty, or when every snapshot is damaged or lost (the run then
        starts from the beginning, and ``skipped`` says why). Lost snapshots are in ``lost``
        and ``skipped``; ``recovery`` sums it up in one line (also logged) when anything was
        skipped. Snapshots refused for their signature or versions raise instead: those are
        never skipped silently; so does a verified payload that is not an engine
        (:class:`NotAnEngineSnapshot`).
        """
        try:
            rec = self.store.latest_valid()
        except SnapshotCorrupt as exc:
            skipped = getattr(exc, "skipped", ())
            if not skipped or any(k.code not in _GO_ON for k in skipped):
                raise  # foreign keys or versions: refuse, never start over silently
            # every snapshot is damaged or lost: the previous valid state is the initial one
            self._remember(list(skipped), None)
            self.parent = None
            return None
        if rec is not None:
            engine_state(rec.state, rec.info.version, self.store.path)
            self._remember(list(rec.skipped), rec.info.version)
            self.parent = rec.info.version
        else:
            self._remember([], None)
        return rec

    def _remember(self, skipped: list[SkippedSnapshot], version: int | None) -> None:
        self.skipped, self.lost = skipped, self.store.lost
        if not skipped:
            self.recovery = None
            return
        start = "starting from the beginning" if version is None else f"resumed from {version}"
        damaged = [f"{s.version} ({s.code})" for s in skipped if s.code != SnapshotLost.code]
        parts = [start]
        if self.lost is not None:
            parts.append(self.lost.describe())
        if damaged:
            parts.append("skipped " + ", ".join(damaged))
        self.recovery = f"{self.store.path}: " + "; ".join(parts)
        log.warning("%s", self.recovery)

    def load(self, version: int) -> tuple[Any, SnapshotInfo]:
        """Load snapshot ``version`` and check that it holds an engine (NotAnEngineSnapshot)."""
        state, info = self.store.load(version)
        return engine_state(state, version, self.store.path), info

    def close(self) -> None:
        self.store.close()
