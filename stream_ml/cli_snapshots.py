"""``stream-ml snapshots list|show|diff|rollback|audit DB``: inspect and roll back a store.

The signing key comes from ``$STREAM_ML_SNAPSHOT_KEY`` (or ``--key-env NAME``); without one,
``--trust-unsigned`` must be given explicitly.

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
    return SnapshotStore(db, key=key, trust_unsigned=trust_unsigned)


def _info_dict(info: Any) -> dict[str, Any]:
    d = {name: getattr(info, name) for name in info.__dataclass_fields__}
    d["tags"] = list(d["tags"])
    return d


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


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
@_common
def list_(db: str, as_json: bool, key_env: str, trust_unsigned: bool) -> None:
    """List the snapshots in DB, newest last."""
    with _open(db, key_env, trust_unsigned) as store:
        infos = store.list()
    if as_json:
        click.echo(json.dumps([_info_dict(i) for i in infos], indent=2, default=str))
        return
    t = Table(title=f"snapshots in {db}")
    for col in (
        "version",
        "parent",
        "events",
        "offset",
        "event time",
        "created",
        "size",
        "tags",
        "metrics",
    ):
        t.add_column(col)
    for i in infos:
        metrics = "; ".join(
            f"{m}: " + ", ".join(f"{k}={v:.4f}" for k, v in vals.items())
            for m, vals in (i.metrics or {}).items()
        )
        t.add_row(
            str(i.version),
            str(i.parent or "-"),
            str(i.events),
            str(i.offset),
            _when(i.event_time),
            _when(i.created_at),
            f"{i.size:,}",
            ",".join(i.tags) or "-",
            metrics,
        )
    console.print(t)


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
    click.echo(json.dumps(out, indent=2, default=str))


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
    click.echo(json.dumps(out, indent=2, default=str))


@snapshots.command("audit")
@click.argument("db", type=click.Path(dir_okay=False))
@_common
def audit(db: str, key_env: str, trust_unsigned: bool) -> None:
    """The audit trail: restores and rollbacks (JSON lines)."""
    with _open(db, key_env, trust_unsigned) as store:
        for rec in store.audit():
            click.echo(json.dumps({n: getattr(rec, n) for n in rec.__dataclass_fields__}))


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
    with _open(db, key_env, trust_unsigned) as store:
        try:
            target, tinfo = store.load(version)
            rec = store.latest_valid()
            assert rec is not None
            current, cinfo = rec.state, rec.info
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
