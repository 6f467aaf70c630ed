"""SnapshotStore: versioned, signed, checksummed engine snapshots in one SQLite file.

Durability: the file runs in WAL mode with ``synchronous=FULL`` and every snapshot (row, tags,
retention pruning) is one ``BEGIN IMMEDIATE ... COMMIT`` transaction. A snapshot whose ``save``
returned survives a killed process; with FULL the WAL is fsynced at each commit, so it also
survives a power loss on storage that honours fsync. What a power loss can cost: the snapshot
being written (never half of one), and, on disks or virtual filesystems that acknowledge fsync
before the data is stable, the last few committed ones; ``latest_valid`` then returns the newest
snapshot that did reach the disk intact.

Losses are loud. Deleting or damaging the ``-wal`` file makes SQLite drop every snapshot not yet
checkpointed into the main file, and the store would open at an older one without a word. The
head file (:mod:`~stream_ml.snapshots.head`) keeps the newest committed version outside SQLite;
opening the store and ``latest_valid`` run ``PRAGMA quick_check`` and compare the two. A loss is
a :class:`~stream_ml.snapshots.SnapshotLoss` in ``store.lost``, logged as a warning, recorded in
the audit table (action ``lost``, once) and listed first in ``Recovered.skipped`` (code
``snapshot_lost``); the run goes on from the newest valid snapshot. Lost version numbers are
never reused.
"""

from __future__ import annotations

import builtins
import json
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import sqlite_utils

from stream_ml.errors import SnapshotCorrupt, SnapshotError, SnapshotSignatureError
from stream_ml.snapshots import codec
from stream_ml.snapshots.checks import check_row, column_mismatch, sign_tag
from stream_ml.snapshots.head import Head, WalState, find_loss, read_head, wal_state, write_head
from stream_ml.snapshots.info import (
    AuditRecord,
    Recovered,
    SkippedSnapshot,
    SnapshotCheck,
    SnapshotInfo,
    SnapshotLoss,
    StoreReport,
)
from stream_ml.snapshots.lineage import diff_infos, is_ancestor
from stream_ml.snapshots.schema import (
    INFO_COLUMNS,
    PRAGMAS,
    SCHEMA,
    SCHEMA_VERSION,
    SIGNED_COLUMNS,
    context_for,
    info_from_row,
    migrate,
    signed_context,
)

__all__ = ["SnapshotLost", "SnapshotNotFound", "SnapshotStore"]

log = logging.getLogger("stream_ml.snapshots")


class SnapshotNotFound(SnapshotError):
    """No snapshot with the requested version (never written, or pruned)."""

    code = "snapshot_not_found"


class SnapshotLost(SnapshotCorrupt):
    """Committed snapshots are gone from the store (see ``SnapshotStore.lost``).

    Raised by ``latest_valid`` only when no snapshot is left to go on from; ``lost`` and
    ``skipped`` say what was lost.
    """

    code = "snapshot_lost"


class SnapshotStore:
    """Versioned engine snapshots in one SQLite file (WAL, synchronous=FULL).

    Parameters:
        path: the SQLite file (created if missing).
        key: HMAC key (bytes or str); default ``$STREAM_ML_SNAPSHOT_KEY``. Without a key,
            ``save`` and ``load`` refuse unless ``trust_unsigned=True``.
        trust_unsigned: write unsigned snapshots when there is no key, and load snapshots that
            carry no signature (or, with no key at all, one that cannot be checked). A signature
            that does not verify under the key in use is refused even so. Only for files from a
            trusted source.
        allow_version_mismatch: load snapshots written by another River major.minor.
        keep_last: retention; after each save keep the newest ``keep_last`` snapshots plus every
            tagged one (None keeps all).
        clock: wall clock for ``created_at`` and audit times (metadata only).
        compression: ``"auto"`` (zlib when a sample of the pickle compresses, default),
            ``"zlib"``, ``"lzma"`` (smaller, slower) or ``"none"``.
        synchronous: ``"FULL"`` (default: fsync at every commit, survives power loss) or
            ``"NORMAL"`` (no fsync per commit: still survives a killed process, but a power
            loss can drop the last snapshots; much faster on slow disks). The head file is
            synced under FULL only.

    Attributes: ``lost`` (a :class:`SnapshotLoss` or None, set when opened and by
    ``latest_valid``), ``integrity`` (what ``PRAGMA quick_check`` reported, empty when fine) and
    ``head_problem`` (why the head file could not be read or written since the store was
    opened, or None; the head is then rewritten from the newest snapshot).

    Examples:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "snaps.db"
        >>> with SnapshotStore(path, key="s3cret", keep_last=2, clock=lambda: 0.0) as store:
        ...     for n in (100, 200, 300):
        ...         info = store.save({"n": n}, engine="demo", offset={"line": n}, events=n,
        ...             event_time=n / 10, config_hash="cfg", metrics={"acc": n / 1e3})
        ...     [i.version for i in store.list()]
        ...     store.latest_valid().state
        ...     store.diff(2, 3)["metrics"]
        [2, 3]
        {'n': 300}
        {'acc': {'from': 0.2, 'to': 0.3, 'delta': 0.09999999999999998}}
    """

    def __init__(
        self,
        path: str | Path,
        *,
        key: bytes | str | None = None,
        trust_unsigned: bool = False,
        allow_version_mismatch: bool = False,
        keep_last: int | None = None,
        clock: Callable[[], float] = time.time,
        compression: codec.Compression = "auto",
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise SnapshotError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        if keep_last is not None and keep_last < 1:
            raise SnapshotError(f"keep_last must be >= 1 or None, got {keep_last}")
        self.path = Path(path)
        self.keep_last = keep_last
        self.trust_unsigned = trust_unsigned
        self.allow_version_mismatch = allow_version_mismatch
        self.compression: codec.Compression = compression
        self._key = codec.resolve_key(key)
        self._clock = clock
        self._fsync_head = synchronous == "FULL"
        self._floor = 0  # no new version at or below the newest ever committed (the head's)
        self.lost: SnapshotLoss | None = None
        self.integrity: tuple[str, ...] = ()
        self.head_problem: str | None = None
        wal = wal_state(self.path)  # before SQLite opens (and creates) it
        # one owner at a time, but not always the thread that opened it (the server's engine
        # worker, a runtime's thread): the connection may move between threads
        self.db = sqlite_utils.Database(sqlite3.connect(str(self.path), check_same_thread=False))
        try:
            for pragma in PRAGMAS:
                self.db.execute(pragma)
            self.db.execute(f"PRAGMA synchronous = {synchronous}")
            self.db.enable_wal()
            self.db.executescript(SCHEMA)
            self.db.execute(
                "INSERT OR IGNORE INTO snapshot_meta (key, value) VALUES ('schema', ?)",
                [str(SCHEMA_VERSION)],
            )
            migrate(self.db)
            self.db.commit()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            msg = (
                f"cannot open snapshot store {self.path}: the file is damaged or not SQLite: {exc}"
            )
            raise SnapshotCorrupt(msg) from exc
        try:
            self.check(wal=wal)
        except BaseException:
            self.db.close()
            raise

    # -- life cycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Close the file (SQLite checkpoints the WAL into the main file on the last close)."""
        self.db.close()

    def __enter__(self) -> SnapshotStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def checkpoint(self) -> None:
        """Copy the WAL into the main file and truncate it (e.g. before a file-level backup)."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def backup(self, dest: str | Path) -> None:
        """Copy the whole store, consistently, to ``dest`` (SQLite online backup), with a head."""
        target = sqlite3.connect(dest)
        try:
            self.db.conn.backup(target)
        finally:
            target.close()
        newest = self._newest_row()
        if newest is not None:
            write_head(dest, _head_of(newest), self._key, fsync=self._fsync_head)

    # -- losses -----------------------------------------------------------------------------
    def check(self, *, wal: WalState | None = None) -> SnapshotLoss | None:
        """Run ``PRAGMA quick_check`` and compare the store with its head file (module docs).

        Sets and returns ``lost``; a new loss is logged (warning) and recorded in the audit
        table once. ``wal`` is the ``-wal`` file's state before opening (None: unknown). Cost:
        one read of the head file and a quick_check (it reads the whole file: milliseconds for
        a store of a few MB); never called by ``save``.
        """
        self.integrity = self._quick_check()
        if self.integrity:
            log.warning("snapshot store %s: quick_check: %s", self.path, "; ".join(self.integrity))
        head, problem = read_head(self.path, self._key)  # the head first: see save
        newest = self._newest_row()
        if problem is not None:  # kept for the session: a loss before now could be unseen
            self.head_problem = problem
            log.warning("snapshot store %s: %s; losses cannot be detected", self.path,
                        problem)  # fmt: skip
        if head is None:
            if newest is not None:  # no usable head (older store, damaged head): start one
                self._put_head(_head_of(newest))
            return self.lost
        self._floor = max(self._floor, head.version)
        newest_version = None if newest is None else int(newest["version"])
        loss = find_loss(head, newest_version, wal=wal, integrity=self.integrity)
        known = self.lost
        if loss is not None and known is not None and loss.versions == known.versions:
            loss = known  # already found (when opened): keep what was said then
        elif loss is not None:
            log.warning("snapshot store %s: %s", self.path, loss.describe())
            self._audit_loss(loss)
        self.lost = loss
        return loss

    def _quick_check(self) -> tuple[str, ...]:
        try:
            rows = self.db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            return (f"quick_check failed: {exc}",)
        problems = tuple(str(r[0]) for r in rows)
        return () if problems == ("ok",) else problems

    def _newest_row(self) -> dict[str, Any] | None:
        rows = self._rows(
            "SELECT version, source_offset, events, created_at, sha256 FROM snapshots "
            "ORDER BY version DESC LIMIT 1"
        )
        return rows[0] if rows else None

    def _put_head(self, head: Head) -> None:
        try:
            write_head(self.path, head, self._key, fsync=self._fsync_head)
        except OSError as exc:  # the snapshot is committed; only loss detection is weakened
            self.head_problem = f"cannot write the head file: {exc}"
            log.warning("snapshot store %s: %s", self.path, self.head_problem)

    def _audit_loss(self, loss: SnapshotLoss) -> None:
        seen = self.db.execute(
            "SELECT 1 FROM snapshot_audit WHERE action = 'lost' AND to_version = ? "
            "AND from_version IS ?",
            [loss.last, loss.newest_found],
        ).fetchone()
        if seen is not None:
            return
        try:
            self.record_audit(
                "lost", from_version=loss.newest_found, to_version=loss.last,
                reason=loss.describe(),
            )  # fmt: skip
        except sqlite3.DatabaseError as exc:  # reported all the same (log, ``lost``)
            log.warning("snapshot store %s: cannot record the loss in the audit: %s",
                        self.path, exc)  # fmt: skip

    @contextmanager
    def _write(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.rollback()
            raise
        self.db.commit()

    def _rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        try:
            return list(self.db.query(sql, params))
        except sqlite3.DatabaseError as exc:
            raise SnapshotCorrupt(f"snapshot store {self.path} is damaged: {exc}") from exc

    # -- writing ----------------------------------------------------------------------------
    def save(
        self,
        state: object,
        *,
        engine: str,
        offset: Any,
        events: int,
        event_time: float | datetime | None,
        config_hash: str,
        metrics: Mapping[str, Any] | None = None,
        parent: int | None = None,
        tags: tuple[str, ...] | list[str] = (),
        note: str | None = None,
    ) -> SnapshotInfo:
        """Write one snapshot in one transaction (then prune if ``keep_last``); returns its info.

        ``offset`` and ``metrics`` must be JSON-serializable; ``event_time`` is seconds (or an
        aware datetime). Raises SnapshotSignatureError without a key (unless trust_unsigned).
        After the commit the head file is rewritten (one small write, fdatasync'd under FULL:
        about 0.1-0.25 ms; see :mod:`~stream_ml.snapshots.head`).
        """
        if self._key is None and not self.trust_unsigned:
            raise SnapshotSignatureError(
                f"no snapshot key: pass key= or set ${codec.KEY_ENV_VAR} "
                "(or trust_unsigned=True to write unsigned snapshots)"
            )
        payload, digest, _ = codec.encode(state, None, compression=self.compression)
        try:
            offset_json = json.dumps(offset, sort_keys=True)
            metrics_json = json.dumps(dict(metrics or {}), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise SnapshotError(f"offset and metrics must be JSON-serializable: {exc}") from exc
        versions = codec.versions()
        row: dict[str, Any] = {
            "engine": str(engine),
            "source_offset": offset_json,
            "events": int(events),
            "event_time": _seconds(event_time),
            "created_at": float(self._clock()),
            "config_hash": str(config_hash),
            "metrics": metrics_json,
            "parent": None if parent is None else int(parent),
            "size": len(payload),
            "sha256": digest,
            "note": note,
            "codec": codec.read_header(payload)[0]["compression"],
            "python_version": versions["python"],
            "river_version": versions["river"],
            "stream_ml_version": versions["stream_ml"],
            "payload": payload,
        }
        tag_list = sorted(set(tags))
        with self._write():
            row["version"] = self.db.execute(
                "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'snapshots'),"
                " 0), COALESCE((SELECT max(version) FROM snapshots), 0), ?) + 1",
                [self._floor],
            ).fetchone()[0]
            key = self._key
            row["signature"] = codec.sign_digest(key, digest, signed_context(row)) if key else None
            columns = ", ".join(row)
            marks = ", ".join(f":{c}" for c in row)
            self.db.execute(f"INSERT INTO snapshots ({columns}) VALUES ({marks})", row)
            for tag in tag_list:
                mac = sign_tag(key, row["version"], tag, digest) if key else None
                self.db.execute(
                    "INSERT INTO snapshot_tags (version, tag, mac) VALUES (?, ?, ?)",
                    [row["version"], tag, mac],
                )
            if self.keep_last is not None:
                self._prune(self.keep_last)
        self._floor = row["version"]
        self._put_head(_head_of(row))
        info = {k: v for k, v in row.items() if k != "payload"}
        info["tags"] = json.dumps(tag_list)
        return info_from_row(info)

    def prune(self, keep_last: int | None = None) -> list[int]:
        """Delete all but the newest ``keep_last`` (default: the store's) and tagged snapshots."""
        keep = self.keep_last if keep_last is None else keep_last
        if keep is None or keep < 1:
            raise SnapshotError(f"prune needs keep_last >= 1, got {keep}")
        with self._write():
            return self._prune(keep)

    def _prune(self, keep: int) -> list[int]:
        rows = self.db.execute(
            "DELETE FROM snapshots WHERE version NOT IN "
            "(SELECT version FROM snapshots ORDER BY version DESC LIMIT ?) "
            "AND NOT EXISTS (SELECT 1 FROM snapshot_tags t WHERE t.version = snapshots.version) "
            "RETURNING version",
            [keep],
        ).fetchall()
        return sorted(r[0] for r in rows)

    def tag(self, version: int, tag: str) -> None:
        """Attach ``tag`` to a snapshot (signed with the key); tagged snapshots are never pruned."""
        info = self.info(version)
        mac = sign_tag(self._key, version, tag, info.sha256) if self._key else None
        with self._write():
            self.db.execute(
                "INSERT OR REPLACE INTO snapshot_tags (version, tag, mac) VALUES (?, ?, ?)",
                [version, tag, mac],
            )

    def untag(self, version: int, tag: str) -> None:
        """Remove ``tag`` from a snapshot (it becomes prunable if it has no other tag)."""
        with self._write():
            self.db.execute(
                "DELETE FROM snapshot_tags WHERE version = ? AND tag = ?", [version, tag]
            )

    # -- reading ----------------------------------------------------------------------------
    def list(self, *, tag: str | None = None) -> list[SnapshotInfo]:
        """Metadata of every snapshot (oldest first), optionally only those with ``tag``."""
        where = (
            ""
            if tag is None
            else "WHERE version IN (SELECT version FROM snapshot_tags WHERE tag = ?)"
        )
        sql = f"SELECT {INFO_COLUMNS} FROM snapshots s {where} ORDER BY version"
        return [info_from_row(r) for r in self._rows(sql, [] if tag is None else [tag])]

    def info(self, version: int) -> SnapshotInfo:
        """Metadata of one snapshot; SnapshotNotFound if absent."""
        rows = self._rows(f"SELECT {INFO_COLUMNS} FROM snapshots s WHERE version = ?", [version])
        if not rows:
            raise SnapshotNotFound(f"no snapshot version {version} in {self.path}")
        return info_from_row(rows[0])

    def load(self, version: int) -> tuple[object, SnapshotInfo]:
        """Verify (checksum, signature over every metadata column, River version, the size,
        codec and version columns against the payload) then unpickle one snapshot."""
        sql = f"SELECT {INFO_COLUMNS}, payload FROM snapshots s WHERE version = ?"
        rows = self._rows(sql, [version])
        if not rows:
            raise SnapshotNotFound(f"no snapshot version {version} in {self.path}")
        row = rows[0]
        payload = bytes(row["payload"] or b"")
        try:
            header = codec.verify(
                payload,
                row["sha256"],
                row["signature"],
                key=self._key,
                context=context_for(row),
                trust_unsigned=self.trust_unsigned,
                allow_version_mismatch=self.allow_version_mismatch,
            )
            problem = column_mismatch(row, header, payload)
            if problem is not None:  # a format-1 or unsigned row whose columns were edited
                signed = bool(row["signature"]) and self._key is not None
                cls = SnapshotSignatureError if signed else SnapshotCorrupt
                raise cls(f"metadata does not match the payload: {problem}")
            info = info_from_row(row)
            state = codec.unpickle(payload, header)
        except SnapshotError as exc:
            raise type(exc)(f"snapshot {version} in {self.path}: {exc}") from exc
        except ValueError as exc:  # metadata JSON damaged (only reachable with trust_unsigned)
            raise SnapshotCorrupt(f"snapshot {version}: metadata is damaged: {exc}") from exc
        return state, info

    def latest_valid(self) -> Recovered | None:
        """The newest snapshot that verifies, walking back over corrupt or badly signed ones.

        Runs :meth:`check` first: lost snapshots come first in ``Recovered.skipped`` (code
        ``snapshot_lost``, newest first). Every skipped snapshot is logged (warning) and listed
        in ``Recovered.skipped``. Returns None for an empty store that lost nothing; raises
        SnapshotCorrupt if snapshots exist but none verifies (SnapshotLost if all were lost),
        with ``skipped`` on the error. A SnapshotVersionError (another River) is raised, not
        skipped: older snapshots would fail the same way.
        """
        loss = self.check()
        versions = [
            r["version"] for r in self._rows("SELECT version FROM snapshots ORDER BY version DESC")
        ]
        skipped: list[SkippedSnapshot] = []
        if loss is not None:
            reason = loss.describe()
            skipped += [SkippedSnapshot(v, SnapshotLost.code, reason) for v in loss.versions[::-1]]
        for version in versions:
            try:
                state, info = self.load(version)
            except (SnapshotCorrupt, SnapshotSignatureError) as exc:
                log.warning("skipping snapshot %s: %s", version, exc)
                skipped.append(SkippedSnapshot(version, exc.code, str(exc)))
                continue
            return Recovered(state, info, tuple(skipped))
        if skipped:
            if versions:
                reasons = "; ".join(f"{s.version}: {s.code}" for s in skipped)
                err = SnapshotCorrupt(f"no valid snapshot in {self.path} ({reasons})")
            else:
                err = SnapshotLost(f"no snapshot left in {self.path}: {reason}")
            err.skipped = tuple(skipped)  # type: ignore[attr-defined]
            err.lost = loss  # type: ignore[attr-defined]
            raise err
        return None

    # -- verification -----------------------------------------------------------------------
    def checks(self) -> builtins.list[SnapshotCheck]:
        """Check every row's signature, metadata and tags without reading payloads (cheap).

        Format-2 signatures cover every metadata column and the stored SHA-256, so an edited
        column or tag shows as ``"refused"``; format-1 rows are ``"unchecked"`` (see verify).
        """
        columns = ", ".join((*SIGNED_COLUMNS, "signature"))
        rows = self._rows(f"SELECT {columns} FROM snapshots ORDER BY version")
        return [self._check(r, None) for r in rows]

    def verify(self) -> StoreReport:
        """Check the whole store without unpickling anything: quick_check, losses, every row.

        Rows are read one at a time with their payload (checksum, signature of either format,
        size/codec/version columns against the payload's header, tags).
        """
        self.check()
        rows = self._rows("SELECT version FROM snapshots ORDER BY version")
        snapshots = []
        for r in rows:
            row = self._rows("SELECT * FROM snapshots WHERE version = ?", [r["version"]])[0]
            snapshots.append(self._check(row, bytes(row["payload"] or b"")))
        return StoreReport(
            str(self.path), self.integrity, self.lost, self.head_problem, tuple(snapshots)
        )

    def _check(self, row: dict[str, Any], payload: bytes | None) -> SnapshotCheck:
        tags = self.db.execute(
            "SELECT tag, mac FROM snapshot_tags WHERE version = ? ORDER BY tag", [row["version"]]
        ).fetchall()
        return check_row(
            row, tags, key=self._key, trust_unsigned=self.trust_unsigned, payload=payload
        )

    def diff(self, v1: int, v2: int) -> dict[str, Any]:
        """Differences between two snapshots' metadata and metrics.

        Returns ``{"from", "to", "changed": {field: (old, new)}, "metrics": {name: {"from",
        "to", "delta"}}, "ancestor": bool}``; ``ancestor`` says whether v1 is on v2's parent chain.
        """
        a, b = self.info(v1), self.info(v2)
        parents = {
            r["version"]: r["parent"] for r in self._rows("SELECT version, parent FROM snapshots")
        }
        return diff_infos(a, b, ancestor=is_ancestor(v1, b.parent, parents))

    # -- audit ------------------------------------------------------------------------------
    def record_audit(
        self,
        action: str,
        *,
        from_version: int | None = None,
        to_version: int | None = None,
        reason: str | None = None,
    ) -> AuditRecord:
        """Record a restore, rollback or other operator action in the audit table."""
        at = float(self._clock())
        with self._write():
            cur = self.db.execute(
                "INSERT INTO snapshot_audit (at, action, from_version, to_version, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                [at, action, from_version, to_version, reason],
            )
        return AuditRecord(int(cur.lastrowid or 0), at, action, from_version, to_version, reason)

    def restore(
        self,
        version: int,
        *,
        reason: str | None = None,
        from_version: int | None = None,
        action: str = "restore",
    ) -> tuple[object, SnapshotInfo]:
        """``load(version)`` and record it in the audit table (``action="rollback"`` for one)."""
        state, info = self.load(version)
        self.record_audit(action, from_version=from_version, to_version=version, reason=reason)
        return state, info

    def audit(self) -> builtins.list[AuditRecord]:
        """Every audit entry, oldest first."""
        rows = self._rows("SELECT * FROM snapshot_audit ORDER BY id")
        return [AuditRecord(**r) for r in rows]


def _head_of(row: dict[str, Any]) -> Head:
    return Head(
        version=int(row["version"]),
        offset=json.loads(row["source_offset"]),
        events=int(row["events"]),
        created_at=float(row["created_at"]),
        sha256=str(row["sha256"]),
    )


def _seconds(event_time: float | datetime | None) -> float | None:
    if event_time is None:
        return None
    if isinstance(event_time, datetime):
        if event_time.tzinfo is None:
            raise SnapshotError("event_time must be a timezone-aware datetime (UTC) or seconds")
        return event_time.timestamp()
    value = float(event_time)
    if math.isnan(value):
        raise SnapshotError("event_time is NaN")
    return value
