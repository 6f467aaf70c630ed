"""The output contract every runtime is held to, and the configs the acceptance suite runs.

**Outputs.** Every output has a ``kind`` and an ``id``; the sinks are idempotent by
``kind:id`` (:func:`connectors.sinks._output_id`), so that is the key outputs are compared by.
Kinds: ``prediction``, ``ack``, ``error``, ``drift``, ``drift_end``, ``promotion``,
``challenger``, ``reset``, ``snapshot``, ``rollback``. A snapshot record is compared by its id and its ``events`` and
``tags`` only (its ``version``, ``offset``, ``size``, ``created_at`` and ``note`` belong to the
runtime that took it); every other kind by its whole content, as canonical JSON (sorted keys;
``NaN`` compares equal to ``NaN``, as in the sinks' bytes). ``summary`` outputs (the Bytewax
runtime's per-key engine summaries) are bookkeeping, not stream outputs: they are set aside.

The same key written twice with the same content is allowed (a resumed run re-writes the
outputs of the records it applies again); the same key with different content is a conflict.

**Configs.** :func:`config_for` takes ``examples/everything_on.toml`` as it is, points its
source, sink and snapshot store into a run's own directory, and adapts the stream-specific parts
(the key field, the windowed features, the monitored fields) for the synthetic keyed stream.

>>> outs = Outputs.of([{"kind": "prediction", "id": "e0", "y_pred": 1},
...                    {"kind": "snapshot", "id": "snapshot:500:", "events": 500, "tags": [],
...                     "version": 3, "size": 10},
...                    {"kind": "summary", "id": "__global__", "events": 1}])
>>> sorted(outs.items), outs.summaries[0]["id"]
(['prediction:e0', 'snapshot:snapshot:500:'], '__global__')
>>> outs.items["snapshot:snapshot:500:"]
'{"events":500,"id":"snapshot:500:","kind":"snapshot","tags":[]}'
>>> other = Outputs.of([{"kind": "prediction", "id": "e0", "y_pred": 0}])
>>> print(compare(outs, other, "a", "b"))
differ: prediction 1; only in a: snapshot 1
  prediction:e0: a {"id":"e0","kind":"prediction","y_pred":1} / b {"id":"e0","kind":"prediction","y_pred":0}
  only in a: snapshot:snapshot:500:
>>> import tomllib
>>> doc = {"name": "x", "a": {"b": 1, "c": {"d": [1, 2]}}, "l": [{"k": "v", "t": {"u": 0.5}}]}
>>> tomllib.loads(to_toml(doc)) == doc
True
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "everything_on.toml"
KINDS = (
    "prediction", "ack", "error", "drift", "drift_end", "promotion", "challenger", "reset",
    "snapshot", "rollback",
)
BOOKKEEPING = ("summary",)
SNAPSHOT_FIELDS = ("id", "kind", "events", "tags")
#: the kinds a run of the everything-on config must produce (a suite where none of them ever
#: appears proves nothing); ``promotion`` is checked on its own (see test_everything_on)
MUST_OCCUR = ("prediction", "ack", "drift", "challenger", "snapshot")


def canonical(output: Mapping[str, Any]) -> str:
    """The JSON an output is compared by (module docstring)."""
    if output.get("kind") == "snapshot":
        output = {k: output.get(k) for k in SNAPSHOT_FIELDS}
    return json.dumps(output, sort_keys=True, separators=(",", ":"), allow_nan=True)


def output_key(output: Mapping[str, Any]) -> str:
    return f"{output.get('kind', 'output')}:{output.get('id')}"


@dataclass
class Outputs:
    """A run's outputs as a set keyed by ``kind:id`` (module docstring)."""

    items: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    written: int = 0  # outputs read, repeats included

    @classmethod
    def of(cls, outputs: Iterable[Mapping[str, Any]]) -> Outputs:
        out = cls()
        for o in outputs:
            out.add(o)
        return out

    def add(self, output: Mapping[str, Any]) -> None:
        if output.get("kind") in BOOKKEEPING:
            self.summaries.append(dict(output))
            return
        self.written += 1
        key, text = output_key(output), canonical(output)
        seen = self.items.get(key)
        if seen is None:
            self.items[key] = text
        elif seen != text:
            self.conflicts.setdefault(key, [seen]).append(text)

    def kinds(self) -> Counter[str]:
        return Counter(k.split(":", 1)[0] for k in self.items)

    def of_kinds(self, kinds: Iterable[str]) -> Outputs:
        keep = tuple(kinds)
        return Outputs({k: v for k, v in self.items.items() if k.split(":", 1)[0] in keep})


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The outputs in a JSONL sink file (none when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _by_kind(keys: Iterable[str]) -> str:
    c = Counter(k.split(":", 1)[0] for k in keys)
    return ", ".join(f"{k} {n}" for k, n in sorted(c.items()))


def compare(a: Outputs, b: Outputs, name_a: str = "a", name_b: str = "b", samples: int = 3) -> str:
    """'' when ``a`` and ``b`` hold the same outputs, else a short report of what differs."""
    only_a = sorted(set(a.items) - set(b.items))
    only_b = sorted(set(b.items) - set(a.items))
    differ = sorted(k for k in set(a.items) & set(b.items) if a.items[k] != b.items[k])
    head, lines = [], []
    for name, o in ((name_a, a), (name_b, b)):
        if o.conflicts:
            head.append(f"conflicts in {name}: {_by_kind(o.conflicts)}")
            lines += [
                f"  {name} wrote {k} twice: {v[:2]}" for k, v in list(o.conflicts.items())[:2]
            ]
    if differ:
        head.append(f"differ: {_by_kind(differ)}")
        lines += [f"  {k}: {name_a} {a.items[k]} / {name_b} {b.items[k]}" for k in differ[:samples]]
    if only_a:
        head.append(f"only in {name_a}: {_by_kind(only_a)}")
        lines += [f"  only in {name_a}: {k}" for k in only_a[:samples]]
    if only_b:
        head.append(f"only in {name_b}: {_by_kind(only_b)}")
        lines += [f"  only in {name_b}: {k}" for k in only_b[:samples]]
    return "; ".join(head) + ("\n" + "\n".join(lines) if lines else "") if head else ""


# -- configs ------------------------------------------------------------------------------------

KEYED_FEATURES = [
    {"name": "price_mean_1d", "agg": "mean", "on": "price", "by": "store", "window": "1d"},
    {"name": "traffic_mean_1d", "agg": "mean", "on": "traffic", "by": "store", "window": "1d"},
    {"name": "visits_1d", "agg": "count", "by": "store", "window": "1d"},
]
KEYED_FIELDS = ["price", "traffic", "price_mean_1d"]


def config_for(stream: str, workdir: Path, messages: Path) -> dict[str, Any]:
    """``examples/everything_on.toml`` for ``stream``, writing into ``workdir``."""
    with open(EXAMPLE, "rb") as f:
        cfg = tomllib.load(f)
    cfg = copy.deepcopy(cfg)
    cfg["source"]["path"] = str(messages)
    cfg["sinks"] = [{"kind": "jsonl", "path": str(workdir / "outputs.jsonl")}]
    cfg["snapshots"]["path"] = str(workdir / "snapshots.db")
    if stream == "keyed":
        for m in cfg["models"].values():
            m["model"] = m["model"].replace("'station'", "'store'")
        cfg["features"]["specs"] = copy.deepcopy(KEYED_FEATURES)
        cfg["features"]["allowed_lateness"] = "1h"
        cfg["features"]["ttl"] = "30d"
        inputs = next(d for d in cfg["drift"] if d["on"] == "features")
        inputs["fields"] = list(KEYED_FIELDS)
    return cfg


def write_config(stream: str, workdir: Path, messages: Path) -> Path:
    """Write the run's config as ``workdir/config.toml``; returns its path."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.toml"
    path.write_text(to_toml(config_for(stream, workdir, messages)))
    return path


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE.match(k) else json.dumps(k)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_tables(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def to_toml(doc: Mapping[str, Any]) -> str:
    """A small TOML writer for configs: tables, arrays of tables, inline values inside them."""
    lines: list[str] = []

    def table(d: Mapping[str, Any], path: str) -> None:
        plain = {k: v for k, v in d.items() if not isinstance(v, dict) and not _is_tables(v)}
        if path:
            lines.append(f"\n[{path}]")
        lines.extend(f"{_key(k)} = {_value(v)}" for k, v in plain.items())
        for k, v in d.items():
            sub = f"{path}.{_key(k)}" if path else _key(k)
            if isinstance(v, dict):
                table(v, sub)
            elif _is_tables(v):
                for item in v:
                    lines.append(f"\n[[{sub}]]")
                    lines.extend(f"{_key(kk)} = {_value(vv)}" for kk, vv in item.items())

    table(doc, "")
    return "\n".join(lines).lstrip("\n") + "\n"
