"""The snapshot stage: when to snapshot the engine, how to restore it, how to roll it back.

A snapshot's payload is ``{"engine": engine, "extra": runtime_state}``: the whole engine
(models, feature state, router, detectors, pending labels, metrics, its random generator, the
snapshot schedule) plus what the runtime driving it needs to resume (the replay runner's held
labels). Its row records the source offset of the next record to read, so that restore + seek
continues the run as if it had never stopped.

The stage is attached to an engine (``engine.snapshots``) but is not part of the engine's
state: it holds an open SQLite connection and is never pickled.
"""

from __future__ import annotations

import os
from typing import Any

from stream_ml.errors import ConfigError, SnapshotCorrupt, SnapshotError
from stream_ml.snapshots import Recovered, SnapshotInfo, SnapshotPolicy, SnapshotStore


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
        self.skipped: list[Any] = []

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
                f"snapshots need a signing key: set ${key_env} (or snapshots.key), or opt into "
                "trust_unsigned = true for local files you trust"
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
    ) -> SnapshotInfo:
        """Snapshot ``engine`` now (the schedule is marked first, so it is in the state)."""
        policy: SnapshotPolicy | None = getattr(engine, "snapshot_policy", None)
        if policy is not None:
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
        engine.events.append(
            {
                "kind": "snapshot",
                "id": f"snapshot:{info.version}",
                "version": info.version,
                "events": info.events,
                "offset": offset,
                "size": info.size,
                "tags": list(tags),
                "note": note,
            }
        )
        return info

    def latest(self) -> Recovered | None:
        """The newest snapshot that verifies (corrupt ones are skipped and remembered).

        None when the store is empty, or when every snapshot is damaged (the run then starts
        from the beginning, and ``skipped`` says why). Snapshots refused for their signature or
        versions raise instead: those are never skipped silently.
        """
        try:
            rec = self.store.latest_valid()
        except SnapshotCorrupt as exc:
            skipped = getattr(exc, "skipped", ())
            if not skipped or any(k.code != SnapshotCorrupt.code for k in skipped):
                raise  # foreign keys or versions: refuse, never start over silently
            # every snapshot is damaged: the previous valid state is the initial one
            self.skipped = list(skipped)
            self.parent = None
            return None
        if rec is not None:
            self.skipped = list(rec.skipped)
            self.parent = rec.info.version
        return rec

    def load(self, version: int) -> tuple[Any, SnapshotInfo]:
        state, info = self.store.load(version)
        if not isinstance(state, dict) or "engine" not in state:
            raise SnapshotError(f"snapshot {version} does not hold an engine")
        return state, info

    def close(self) -> None:
        self.store.close()
