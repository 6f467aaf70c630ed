"""``stream-ml snapshots list|show|diff|verify|rollback|audit DB``: inspect and roll back a store.

The signing key comes from ``$STREAM_ML_SNAPSHOT_KEY`` (or ``--key-env NAME``); without one,
``--trust-unsigned`` must be given explicitly.

Times are ISO 8601 in UTC (``2026-12-01T12:50:01Z``); ``--json`` output keeps the numbers too
(``created_at``, ``event_time``: seconds since the epoch) next to them (``*_iso``). ``list`` fits
80 columns (version, parent, events, created, size, tags, check); ``--wide`` adds the offset,
event time and metrics. ``diff`` gives the change of every metric, per model.

Every command says on stderr when the store lost committed snapshots (a deleted or damaged
``-wal`` file). ``list`` shows a ``check`` column (signature and metadata of each row, without
reading payloads); ``verify`` checks everything short of unpickling (quick_check, losses,
checksums, signatures, metadata columns, tags) and exits with status 1 on any problem.

An offline rollback writes a new snapshot (tagged ``rollback``, its parent the current latest)
so that the next ``stream-ml run`` resumes from it:

* ``--scope models`` (default): the latest state with the chosen version's models put back; the
  source offset stays where the run was, so no event is read twice.
* ``--scope engine``: the chosen version's whole state and its offset: the run replays from
  there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from stream_ml.errors import StreamMLError

console = Console()
err_console = Console(stderr=True)


def _open(db: str, key_env: str, trust_unsigned: bool) -> Any:
    from stream_ml.snapshots import SnapshotStore

    if not os.path.exists(db):
        raise click.ClickException(f"no snapshot store at {db!r}")
    key = os.environ.get(key_env) or None
    if key is None and not trust_unsigned:
        raise click.ClickException(f"no signing key: set ${key_env} or pass --trust-unsigned")
    store = SnapshotStore(db, key=key, trust_unsigned=trust_unsigned)
    _warn(store)
    return store


def _warn(store: Any) -> None:
    """Say on stderr what the store lost or could not check (nothing when all is well)."""
    if store.lost is not None:
        err_console.print(f"[bold red]lost[/]: {store.lost.describe()}", highlight=False)
    for problem in store.integrity:
        err_console.print(f"[bold red]quick_check[/]: {problem}", highlight=False)
    if store.head_problem is not None:
        err_console.print(f"[yellow]warning[/]: {store.head_problem}", highlight=False)


def _values(value: Any) -> str:
    """An engine's per-model metrics (``{name: number}``), or any other JSON value, as text."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={_values(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _check_text(check: Any) -> str:
    text = check.status if check.ok else f"REFUSED ({check.code})"
    if check.unsigned_tags:
        text += f", unsigned tags: {','.join(check.unsigned_tags)}"
    return text


def _info_dict(info: Any) -> dict[str, Any]:
    d = {name: getattr(info, name) for name in info.__dataclass_fields__}
    d["tags"] = list(d["tags"])
    d["created_at_iso"], d["event_time_iso"] = iso(d["created_at"]), iso(d["event_time"])
    return d


def iso(t: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 in UTC, to the second (None stays None).

    >>> iso(0.0), iso(1764593401.7), iso(None)
    ('1970-01-01T00:00:00Z', '2025-12-01T12:50:01Z', None)
    """
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(t: float | None) -> str:
    return iso(t) or "-"


def _size(n: int) -> str:
    """A byte count for people: ``183.2 kB``."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)  # pragma: no cover


def metric_deltas(old: Any, new: Any) -> Any:
    """``new - old`` for numbers, per key for dicts of them (a model's metrics), else None.

    >>> metric_deltas({"Accuracy": 0.5, "F1": None}, {"Accuracy": 0.75, "F1": 0.5})
    {'Accuracy': 0.25, 'F1': None}
    """
    if isinstance(old, dict) and isinstance(new, dict):
        return {k: metric_deltas(old.get(k), new.get(k)) for k in sorted(set(old) | set(new))}
    numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (old, new))
    return new - old if numbers else None


def _common(f: Any) -> Any:
    f = click.option(
        "--key-env",
        default="STREAM_ML_SNAPSHOT_KEY",
        show_default=True,
        help="Environment variable holding the signing key.",
    )(f)
    f = click.option(
        "--trust-unsigned",
        is_flag=True,
        help="Accept unsigned snapshots (pickle runs code: only local, trusted files).",
    )(f)
    return f


@click.group("snapshots")
def snapshots() -> None:
    """Inspect, compare and roll back engine snapshots in a SQLite store."""


@snapshots.command("list")
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@click.option("--wide", is_flag=True, help="Every column (offset, event time, metrics) too.")
@_common
def list_(db: str, as_json: bool, wide: bool, key_env: str, trust_unsigned: bool) -> None:
    """List the snapshots in DB, newest last."""
    with _open(db, key_env, trust_unsigned) as store:
        infos = store.list()
        checks = {c.version: c for c in store.checks()}
    if as_json:
        out = [{**_info_dict(i), "check": _check_dict(checks[i.version])} for i in infos]
        click.echo(_dumps(out))
        return
    t = Table(title=f"snapshots in {db}", box=box.SIMPLE_HEAD, pad_edge=False,
              collapse_padding=True)  # fmt: skip
    cols = ["version", "parent", "events", "created", "size", "tags", "check"]
    if wide:
        cols[3:3] = ["offset", "event time"]
        cols.append("metrics")
    for col in cols:
        right = col in ("version", "parent", "events", "offset", "size")
        t.add_column(col, justify="right" if right else "left", no_wrap=not wide)
    for i in infos:
        cells = {
            "version": str(i.version),
            "parent": str(i.parent or "-"),
            "events": f"{i.events:,}",
            "offset": str(i.offset),
            "event time": _when(i.event_time),
            "created": _when(i.created_at),
            "size": _size(i.size),
            "tags": ",".join(i.tags) or "-",
            "metrics": "; ".join(f"{m}: {_values(v)}" for m, v in (i.metrics or {}).items()),
            "check": _check_text(checks[i.version]),
        }
        t.add_row(*(cells[c] for c in cols))
    if wide and not console.is_terminal:  # a pipe or a file: one line per snapshot
        Console(width=max(console.width, 240)).print(t)
    else:
        console.print(t)
    for c in checks.values():
        if not c.ok:
            err_console.print(f"[bold red]refused[/]: {c.version}: {c.reason}", highlight=False)


def _dumps(obj: Any) -> str:
    from stream_ml.cli import dumps

    return dumps(obj)


def _check_dict(check: Any) -> dict[str, Any]:
    d = {name: getattr(check, name) for name in check.__dataclass_fields__}
    d["unsigned_tags"] = list(d["unsigned_tags"])
    return d


@snapshots.command("verify")
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@_common
def verify(db: str, as_json: bool, key_env: str, trust_unsigned: bool) -> None:
    """Check DB without unpickling: losses, quick_check, every row. Exit 1 on any problem."""
    with _open(db, key_env, trust_unsigned) as store:
        report = store.verify()
    if as_json:
        lost = report.lost
        out = {
            "path": report.path,
            "ok": report.ok,
            "integrity": list(report.integrity),
            "lost": None
            if lost is None
            else {
                "versions": list(lost.versions),
                "newest_found": lost.newest_found,
                "offset": lost.offset,
                "events": lost.events,
                "created_at": lost.created_at,
                "reason": lost.reason,
            },
            "head_problem": report.head_problem,
            "snapshots": [_check_dict(c) for c in report.snapshots],
        }
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        for c in report.snapshots:
            line = f"{c.version}: {_check_text(c)}" + (f": {c.reason}" if c.reason else "")
            click.echo(line)
        click.echo("ok" if report.ok else "PROBLEMS FOUND")
    if not report.ok:
        sys.exit(1)


@snapshots.command("show")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("version", type=int)
@click.option("--verify", is_flag=True, help="Also check the checksum and signature by loading.")
@_common
def show(db: str, version: int, verify: bool, key_env: str, trust_unsigned: bool) -> None:
    """Show one snapshot's metadata (JSON)."""
    with _open(db, key_env, trust_unsigned) as store:
        try:
            info = store.info(version)
            out = _info_dict(info)
            if verify:
                store.load(version)
                out["verified"] = True
        except StreamMLError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(_dumps(out))


@snapshots.command("diff")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("v1", type=int)
@click.argument("v2", type=int)
@_common
def diff(db: str, v1: int, v2: int, key_env: str, trust_unsigned: bool) -> None:
    """What changed between two snapshots: metadata and metrics (JSON)."""
    with _open(db, key_env, trust_unsigned) as store:
        try:
            out = store.diff(v1, v2)
        except StreamMLError as exc:
            raise click.ClickException(str(exc)) from exc
    for m in out["metrics"].values():
        if m.get("delta") is None:
            m["delta"] = metric_deltas(m.get("from"), m.get("to"))
    for field in ("created_at", "event_time"):
        if field in out["changed"]:
            out["changed"][f"{field}_iso"] = [iso(t) for t in out["changed"][field]]
    click.echo(_dumps(out))


@snapshots.command("audit")
@click.argument("db", type=click.Path(dir_okay=False))
@_common
def audit(db: str, key_env: str, trust_unsigned: bool) -> None:
    """The audit trail: restores and rollbacks (JSON lines; ``at`` in ISO 8601, UTC)."""
    with _open(db, key_env, trust_unsigned) as store:
        for rec in store.audit():
            d = {n: getattr(rec, n) for n in rec.__dataclass_fields__}
            d["at_unix"], d["at"] = d["at"], iso(d["at"])
            click.echo(json.dumps(d, allow_nan=False))


@snapshots.command("rollback")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("version", type=int)
@click.option(
    "--scope", type=click.Choice(["models", "engine"]), default="models", show_default=True
)
@click.option("--reason", default=None, help="Recorded in the audit table.")
@_common
def rollback(
    db: str, version: int, scope: str, reason: str | None, key_env: str, trust_unsigned: bool
) -> None:
    """Roll back to VERSION: the next run resumes from a new snapshot built from it."""
    from stream_ml.stages.snapshotting import engine_state

    with _open(db, key_env, trust_unsigned) as store:
        try:
            target, tinfo = store.load(version)
            target = engine_state(target, version, db)
            rec = store.latest_valid()
            if rec is None:  # loaded just above, so only a concurrent prune gets here
                raise click.ClickException(f"{db} holds no valid snapshot to roll back from")
            current = engine_state(rec.state, rec.info.version, db)
            cinfo = rec.info
            if scope == "models":
                engine = current["engine"]
                saved = {s.name: s.model for s in target["engine"].slots}
                for slot in engine.slots:
                    if slot.name in saved:
                        slot.replace(saved[slot.name])
                state, base = current, cinfo
            else:
                state, base = target, tinfo
            engine = state["engine"]
            info = store.save(
                state,
                engine=engine.name,
                offset=base.offset,
                events=base.events,
                event_time=base.event_time,
                config_hash=base.config_hash,
                metrics=base.metrics,
                parent=cinfo.version,
                tags=("rollback",),
                note=f"rollback to {version} ({scope})",
            )
            store.record_audit(
                "rollback",
                from_version=cinfo.version,
                to_version=version,
                reason=reason or f"cli rollback ({scope})",
            )
        except StreamMLError as exc:
            err_console.print(f"[bold red]error[/]: {exc}", highlight=False)
            sys.exit(1)
    click.echo(
        json.dumps(
            {
                "rolled_back_to": version,
                "scope": scope,
                "new_version": info.version,
                "offset": info.offset,
            }
        )
    )
