"""Slice-based prequential evaluation: the first metric per slice of the traffic, bounded.

A *dimension* (``by``) names how an event is sliced: a field of what the models saw
(``"region"`` gives slices ``region=north``, ``region=south``...; a missing field is
``region=None``), the record's key (``"key"``: ``key=user-7``) or numeric bins of a field
(``"temp:0,10,20"``: ``temp<0``, ``temp[0,10)``, ``temp[10,20)``, ``temp>=20``; a value that is
not a number is ``temp=None``). Each dimension partitions the scored events on its own: the
slices of one dimension sum to the model's scored events.

**Bounded memory.** Per dimension, an Apache DataSketches frequent-items sketch
(``frequent_strings_sketch``) counts the traffic of every slice value in a fixed number of
counters, whatever the cardinality. At most ``top`` slices are tracked exactly (one River metric
per model, built as :func:`~stream_ml.evaluation.prequential.build_metric` does; Accuracy is
counted without one, with the same value); every other
event goes to the dimension's pooled slice ``other``. The policy:

* a value seen while fewer than ``top`` slices are tracked is tracked from its first event;
* every ``check_every`` labels the sketch's heavy hitters are read: a value among the ``top``
  heaviest that is not tracked replaces the lightest tracked slice when its lower bound is above
  that slice's upper bound (the sketch's stated error bounds; exact counts while the sketch has
  not purged) **plus a margin** (hysteresis): 10 % of the lightest slice's count
  (``SWAP_MARGIN``), and at least ``check_every`` events. Two values of the same traffic
  competing for the last place therefore do not keep swapping (each swap folds the tracked
  one's history into ``other`` and restarts the newcomer from zero, so neither would reach
  ``min_n``): the first one tracked keeps its place until the other is heavier by the margin.
  **A newly heavy slice is tracked from then on: its earlier events stay in ``other``.** The
  slice it replaces is folded into ``other`` (its counts and its metric, merged exactly for
  confusion-matrix and mean metrics: Accuracy, F1, MAE, MSE...; a metric that cannot be merged
  keeps only its counts in ``other``, counted in ``unmerged``), and its open alarm episode
  ends.

**Intervals** (confidence ``confidence``, 95% by default): Wilson score interval for
Accuracy (a proportion); the normal interval ``mean ± z·s/√n`` for MAE and MSE (a mean of
per-event losses, ``s`` the sample standard deviation; RMSE is the square root of MSE's);
other metrics get none (``lo``/``hi`` are None). Values are cumulative: since the slice is
tracked, as the engine's own ``metrics`` are since the model was created.

**Alarm** (episodes, checked every ``check_every`` labels, not per label) on *recent*
counts, so that a slice going bad late in a long stream is seen as soon as on a short one: the
counts behind a slice's interval are kept in buckets of ``window`` labels (default 5,000), and
the alarm reads the current and the previous bucket (the last ``window`` to ``2 * window``
labels; ``window = 0``: everything), against the overall value over the same labels (the sum of
the dimension's slices and ``other``: the uncertainty of that overall, over far more events, is
neglected). A slice of at least ``min_n`` recent scored events opens an episode when its
interval lies entirely beyond the overall by ``margin`` (bigger-is-better metric: ``hi <
overall - margin``; an error: ``lo > overall + margin``) and emits one ``slice_alarm`` record;
the episode ends at the first check where its recent value is back within the margin. A metric
without interval is compared on its cumulative value with the model's cumulative metric.
Reports show the cumulative value and interval, and the recent ones (``recent``).

>>> from river import compose, linear_model
>>> from stream_ml import Engine
>>> model = compose.Discard("region") | linear_model.LogisticRegression()
>>> engine = Engine({"m": model}, slices={"by": ["region"], "top": 2, "check_every": 4})
>>> events = ["n", "s", "n", "e", "n", "s", "n", "e"]
>>> for i, region in enumerate(events):
...     _ = engine.predict({"x": 1.0, "region": region}, id=str(i))
...     engine.learn(str(i), region != "n")
>>> rows = engine.summary()["slices"]["models"]["m"]["slices"]
>>> [(s["slice"], s["n"], round(s["value"], 2)) for s in rows]
[('region=s', 2, 0.0), ('region=n', 4, 0.25), ('other', 2, 0.0)]
"""

from __future__ import annotations

import bisect
import math
import numbers
import struct
from collections import deque
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from datasketches import frequent_items_error_type, frequent_strings_sketch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from river import metrics as river_metrics

from stream_ml.errors import ConfigError
from stream_ml.evaluation.prequential import build_metric

__all__ = ["SliceConfig", "SliceSpec", "SliceStage", "wilson"]

_NFN = frequent_items_error_type.NO_FALSE_NEGATIVES
SWAP_MARGIN = 0.1  # a newcomer replaces the lightest tracked slice when heavier by this fraction


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``.

    >>> [round(v, 4) for v in wilson(8, 10)]
    [0.4902, 0.9433]
    """
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if successes <= 0 else max(0.0, center - half)  # exact at the edges (not 1e-17)
    hi = 1.0 if successes >= n else min(1.0, center + half)
    return (lo, hi)


class SliceSpec:
    """One dimension: a field, the record's key, or numeric bins of a field (see the module).

    >>> SliceSpec("temp:0,10").label({"temp": 5.0}, None), SliceSpec("key").label({}, "u1")
    ('temp[0,10)', 'key=u1')
    """

    __slots__ = ("_floats", "edges", "field", "labels", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._floats: dict[float, str] = {}  # float value -> slice name (repr is slow; bounded)
        self.edges: list[float] | None = None
        self.labels: list[str] = []
        name, sep, bins = text.partition(":")
        name = name.strip()
        if not name:
            raise ConfigError(f"slice {text!r}: no field name")
        self.field: str | None = None if name == "key" and not sep else name
        if sep:
            cuts = [c.strip() for c in bins.split(",") if c.strip()]
            try:
                edges = [float(c) for c in cuts]
            except ValueError:
                raise ConfigError(f"slice {text!r}: bins must be numbers") from None
            if not edges or any(b <= a for a, b in pairwise(edges)):
                raise ConfigError(f"slice {text!r}: bins must be increasing numbers")
            self.edges = edges
            self.labels = (
                [f"{name}<{cuts[0]}"]
                + [f"{name}[{a},{b})" for a, b in pairwise(cuts)]
                + [f"{name}>={cuts[-1]}"]
            )

    def label(self, x: dict, key: Any) -> str:
        """The slice an event belongs to."""
        field = self.field
        if field is None:
            return f"key={key}"
        v = x.get(field)
        edges = self.edges
        if edges is None:
            if type(v) is not float:
                return f"{field}={v}"
            names = self._floats
            name = names.get(v)
            if name is None:
                name = f"{field}={v}"
                # zeros are not cached: -0.0 == 0.0 (one dict key), but they are two names;
                # nor NaN (a new key each time)
                if v != 0.0 and v == v:
                    if len(names) >= 4096:
                        names.clear()
                    names[v] = name
            return name
        t = type(v)
        if t is not float and t is not int:  # numpy scalars are numbers; bool, str, None not
            if t is bool or not isinstance(v, numbers.Real):
                return f"{field}=None"
            v = float(v)
        if v != v:  # NaN
            return f"{field}=None"
        return self.labels[bisect.bisect_right(edges, v)]


class SliceConfig(BaseModel):
    """What to slice by and the alarm's terms (``[evaluation] slices = [...]`` and friends)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: list[str] = Field(min_length=1, description='fields, "key", or "field:edge,edge,..."')
    top: int = Field(default=20, ge=1, le=200, description="slices tracked exactly per dimension")
    margin: float = Field(default=0.05, ge=0, description="alarm below the overall by this")
    min_n: int = Field(default=200, ge=1, description="no alarm before this many scored events")
    check_every: int = Field(default=100, ge=1, description="labels between two alarm checks")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="of the intervals")
    window: int = Field(
        default=5000, ge=0, description="alarm on the last window to 2 x window labels (0: all)"
    )

    @field_validator("by")
    @classmethod
    def _specs(cls, v: list[str]) -> list[str]:
        for text in v:
            try:
                SliceSpec(text)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        v = [_normal(text) for text in v]  # "temp:0, 10" is "temp:0,10": one dimension
        if len(set(v)) != len(v):
            raise ValueError("a slice dimension is listed twice")
        return v


def _normal(text: str) -> str:
    """A dimension's text without its spaces: ``" temp : 0, 10"`` -> ``"temp:0,10"``."""
    name, sep, bins = text.partition(":")
    cuts = [c.strip() for c in bins.split(",") if c.strip()]
    return name.strip() + (":" + ",".join(cuts) if sep else "")


# how a metric's per-event value is summarised for its interval
_PROPORTION = (river_metrics.Accuracy,)
_ABS = (river_metrics.MAE,)
_SQ = (river_metrics.MSE,)  # RMSE is an MSE


def _kind(metric: Any) -> str:
    t = type(metric)
    if t in _PROPORTION:
        return "prop"
    if t in _ABS:
        return "abs"
    if t is river_metrics.RMSE:
        return "rmse"
    if t in _SQ:
        return "sq"
    return "none"


_CM_FIELDS = {"_init_classes", "sum_row", "sum_col", "data", "n_samples", "total_weight",
              "_total_true_positives"}  # fmt: skip


def _merge_metric(dst: Any, src: Any) -> bool:
    """Fold ``src`` into ``dst`` (same class); False when the metric cannot be merged."""
    cm, scm = getattr(dst, "cm", None), getattr(src, "cm", None)
    if cm is not None and scm is not None and set(vars(scm)) == _CM_FIELDS:
        for yt, row in scm.data.items():
            for yp, w in row.items():
                cm.data[yt][yp] += w
        for yt, w in scm.sum_row.items():
            cm.sum_row[yt] += w
        for yp, w in scm.sum_col.items():
            cm.sum_col[yp] += w
        cm.n_samples += scm.n_samples
        cm.total_weight += scm.total_weight
        cm._total_true_positives += scm._total_true_positives
        cm._init_classes |= scm._init_classes
        return True
    mean, smean = getattr(dst, "_mean", None), getattr(src, "_mean", None)
    if mean is not None and smean is not None and hasattr(mean, "__iadd__"):
        mean += smean
        return True
    return False


def _interval(kind: str, n: int, s1: float, s2: float, z: float) -> tuple[float, float]:
    """The interval of a proportion (Wilson) or of a mean loss (normal; RMSE: its root)."""
    if kind == "prop":
        return wilson(s1, n, z)
    mean = s1 / n
    var = (s2 - n * mean * mean) / (n - 1) if n > 1 else 0.0
    half = z * math.sqrt(max(var, 0.0) / n)
    lo, hi = max(0.0, mean - half), mean + half
    if kind == "rmse":
        return math.sqrt(lo), math.sqrt(hi)
    return lo, hi


def _value(kind: str, n: int, s1: float) -> float:
    return math.sqrt(s1 / n) if kind == "rmse" else s1 / n


class _Cell:
    """One model's metric on one slice, and the sums behind its interval, in three buckets:
    the current one (``rn``, ``rs1``, ``rs2``: the only one a label touches), the previous one
    (``p*``) and everything older (``o*``). Cumulative = all three; recent = previous + current
    (the stage rotates the buckets every ``window`` labels).

    Accuracy is counted here, without its River object: its value is hits / n, exactly
    River's (true positives / total weight, every weight 1), at a third of the cost per label.
    """

    __slots__ = ("bigger", "kind", "metric", "on", "os1", "os2", "pn", "ps1", "ps2", "rn",
                 "rs1", "rs2", "uses_proba")  # fmt: skip

    def __init__(self, name: str, uses_proba: bool) -> None:
        metric = build_metric(name)
        self.kind = "none" if uses_proba else _kind(metric)
        self.bigger = metric.bigger_is_better
        self.metric = None if self.kind == "prop" else metric
        self.uses_proba = uses_proba
        self.on = self.pn = self.rn = 0
        self.os1 = self.os2 = self.ps1 = self.ps2 = self.rs1 = self.rs2 = 0.0

    @property
    def n(self) -> int:
        return self.on + self.pn + self.rn

    def value(self) -> float:
        if self.metric is None:
            return (self.os1 + self.ps1 + self.rs1) / self.n
        return float(self.metric.get())

    def update(self, y: Any, y_pred: Any, proba: Any) -> None:
        if self.metric is None:  # Accuracy (SliceStage.on_label inlines this branch)
            if y_pred is not None:
                self.rn += 1
                if y == y_pred:
                    self.rs1 += 1.0
            return
        if self.uses_proba:
            if not proba:
                return
            self.metric.update(y, proba)
            self.rn += 1
            return
        if y_pred is None:
            return
        self.metric.update(y, y_pred)
        self.rn += 1
        kind = self.kind
        if kind != "none":
            e = abs(y - y_pred) if kind == "abs" else (y - y_pred) ** 2
            self.rs1 += e
            self.rs2 += e * e

    def interval(self, z: float) -> tuple[float | None, float | None]:
        n = self.n
        if n == 0 or self.kind == "none":
            return None, None
        s1 = self.os1 + self.ps1 + self.rs1
        return _interval(self.kind, n, s1, self.os2 + self.ps2 + self.rs2, z)

    def recent(self) -> tuple[int, float, float]:
        return self.pn + self.rn, self.ps1 + self.rs1, self.ps2 + self.rs2

    def rotate(self) -> None:
        self.on += self.pn
        self.os1 += self.ps1
        self.os2 += self.ps2
        self.pn, self.ps1, self.ps2 = self.rn, self.rs1, self.rs2
        self.rn, self.rs1, self.rs2 = 0, 0.0, 0.0

    def absorb(self, other: _Cell) -> None:
        """Add ``other``'s counts, bucket by bucket (its River metric is the caller's)."""
        self.on += other.on
        self.os1 += other.os1
        self.os2 += other.os2
        self.pn += other.pn
        self.ps1 += other.ps1
        self.ps2 += other.ps2
        self.rn += other.rn
        self.rs1 += other.rs1
        self.rs2 += other.rs2


def _lg_size(top: int) -> int:
    """log2 of the sketch's map: at least 4 counters per tracked slice, at most 1,024. Up to
    1,024 the sketch's purge reads every counter (DataSketches samples at most 1,024 of them),
    so what it keeps depends only on the counts, never on the order of its hash table."""
    return min(10, max(6, (4 * top - 1).bit_length()))


def _canonical(blob: bytes) -> bytes:
    """A frequent_strings_sketch image with its items in sorted order: the same counts give
    the same bytes (the sketch writes them in hash-table order, which depends on the order they
    were inserted in; restoring re-inserts them, so a restored sketch writes another order).
    Layout: 8 bytes of preamble, then (non-empty) the item count, 4 unused bytes, the total
    weight and the offset (8 bytes each), the weights (uint64 each), the items (uint32 length
    and UTF-8 bytes each)."""
    if blob[0] == 1:  # one preamble long: the empty sketch
        return blob
    (n,) = struct.unpack_from("<I", blob, 8)
    head = 32
    weights = struct.unpack_from(f"<{n}Q", blob, head)
    pos, items = head + 8 * n, []
    for _ in range(n):
        (size,) = struct.unpack_from("<I", blob, pos)
        items.append(blob[pos + 4 : pos + 4 + size])
        pos += 4 + size
    if pos != len(blob):
        raise ValueError("not a frequent_strings_sketch image")
    pairs = sorted(zip(items, weights, strict=True))
    out = [blob[:head], struct.pack(f"<{n}Q", *(w for _, w in pairs))]
    out += [struct.pack("<I", len(item)) + item for item, _ in pairs]
    return b"".join(out)


class _Dim:
    """One dimension's sketch, tracked slices (value -> {model: cell}) and pooled ``other``."""

    __slots__ = ("counts", "label", "other", "other_name", "sketch", "spec", "tracked", "unmerged")

    def __init__(self, spec: SliceSpec, top: int, other_name: str) -> None:
        self.spec = spec
        self.label = spec.label
        self.sketch = frequent_strings_sketch(_lg_size(top))
        # the traffic since the last check, per value: the sketch takes it in one weighted
        # update per value at each check (bounded by check_every values)
        self.counts: dict[str, int] = {}
        self.tracked: dict[str, dict[str, _Cell]] = {}
        self.other: dict[str, _Cell] = {}
        self.other_name = other_name
        self.unmerged = 0

    def __getstate__(self) -> dict[str, Any]:
        return {
            "spec": self.spec.text,
            "sketch": _canonical(self.sketch.serialize()),
            "counts": self.counts,
            "tracked": self.tracked,
            "other": self.other,
            "other_name": self.other_name,
            "unmerged": self.unmerged,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.spec = SliceSpec(state["spec"])
        self.label = self.spec.label
        self.counts = state["counts"]
        self.sketch = frequent_strings_sketch.deserialize(state["sketch"])
        self.tracked = state["tracked"]
        self.other = state["other"]
        self.other_name = state["other_name"]
        self.unmerged = state["unmerged"]


class SliceStage:
    """The slices of every model (see the module docstring for the policy and the alarm).

    The engine calls :meth:`on_label` at each label join (with the names of the models, their
    first metric, and their answers in the same order) and reads :meth:`report` /
    :meth:`summary`.
    """

    def __init__(self, config: SliceConfig | dict | Sequence[str]) -> None:
        if not isinstance(config, SliceConfig):
            config = (
                SliceConfig(by=list(config))
                if isinstance(config, list | tuple)
                else (SliceConfig.model_validate(config))
            )
        self.config = config
        self.top = config.top
        self.check_every = config.check_every
        self.window = config.window
        self.rotated = 0  # self.labels at the last rotation of the buckets
        self.z = _z(config.confidence)
        several = len(config.by) > 1
        self.dims = [
            _Dim(SliceSpec(t), config.top, f"other:{t}" if several else "other") for t in config.by
        ]
        self.needs_key = any(d.spec.field is None for d in self.dims)
        self.labels = 0
        # (model, dimension's spec text, slice) -> its open episode
        self.open: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.episodes: deque[dict[str, Any]] = deque(maxlen=100)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if any(len(k) == 2 for k in self.open):  # keyed (model, slice) before: its dimension
            dims = self.dims  # is the first that tracks it (else the first)

            def by(value: str) -> str:
                return next((d.spec.text for d in dims if value in d.tracked), dims[0].spec.text)

            self.open = {
                (k[0], by(k[1]), k[1]) if len(k) == 2 else k: ep for k, ep in self.open.items()
            }

    # -- per label ----------------------------------------------------------------------------

    def on_label(
        self, engine: Any, id: str, x: dict, key: Any, label: Any, answers: Sequence[Any]
    ) -> None:
        """Score one label on its slices (``answers[i]``: slot ``i``'s ``(y_pred, proba)`` or
        None); every ``check_every`` labels, the alarm check, whose records go to
        ``engine.emit``. ``x`` and ``key`` are what the prediction saw."""
        slots = engine.slots
        top = self.top
        for dim in self.dims:
            v = dim.label(x, key)
            counts = dim.counts
            counts[v] = counts.get(v, 0) + 1
            cells = dim.tracked.get(v)
            if cells is None:
                if len(dim.tracked) < top:
                    cells = dim.tracked[v] = {}
                else:
                    cells = dim.other
            for slot, answer in zip(slots, answers):
                if answer is None:
                    continue
                cell = cells.get(slot.name)
                if cell is None:
                    if not slot.scored:
                        continue
                    pq = slot.prequential
                    cell = cells[slot.name] = _Cell(pq.names[0], pq._uses_proba[0])
                if cell.metric is None:  # Accuracy: _Cell.update, inlined
                    y_pred = answer[0]
                    if y_pred is not None:
                        cell.rn += 1
                        if label == y_pred:
                            cell.rs1 += 1.0
                else:
                    cell.update(label, answer[0], answer[1])
        self.labels += 1
        if self.labels % self.check_every:
            return
        for record in self.check(slots, engine.seq):
            engine.emit(record)

    # -- every check_every labels --------------------------------------------------------------

    def refresh(self, seq: int) -> None:
        """Swap in the heavy hitters the sketch names (module docstring); closes the episodes
        of the slices folded into ``other``."""
        top = self.top
        for dim in self.dims:
            sk = dim.sketch
            for v, c in dim.counts.items():
                sk.update(v, c)
            dim.counts.clear()
            if len(dim.tracked) < top:
                continue
            tracked = dim.tracked
            heavy = sorted(sk.get_frequent_items(_NFN), key=lambda r: (-r[1], r[0]))[:top]
            new = [r for r in heavy if r[0] not in tracked]
            if not new:
                continue
            # lightest first; an estimate's error (the sketch's offset) is the same for every
            # item, so lower bounds, estimates and upper bounds are in the same order
            light = sorted(tracked, key=lambda v: (sk.get_estimate(v), v))
            every = self.check_every
            for (item, _est, lb, _ub), lightest in zip(new, light, strict=False):
                # hysteresis: heavier than the lightest by a margin (SWAP_MARGIN of its count,
                # at least check_every events), so equal traffic does not keep swapping
                margin = max(every, SWAP_MARGIN * sk.get_estimate(lightest))
                if lb <= sk.get_upper_bound(lightest) + margin:
                    break  # the next candidates are no heavier, the next tracked no lighter
                self._fold(dim, lightest, seq)
                tracked[item] = {}

    def _fold(self, dim: _Dim, value: str, seq: int) -> None:
        for name, cell in dim.tracked.pop(value).items():
            ep = self.open.pop((name, dim.spec.text, value), None)  # every fold ends it
            if ep is not None:
                ep["end"] = seq
                ep["reason"] = "folded into other"
            other = dim.other.get(name)
            if other is None:
                dim.other[name] = cell
                continue
            if cell.metric is not None and not _merge_metric(other.metric, cell.metric):
                dim.unmerged += cell.n
            other.absorb(cell)

    def check(self, slots: Sequence[Any], seq: int) -> list[dict[str, Any]]:
        """The heavy-hitter refresh, the buckets' rotation when due, then the alarm check of
        every model's slices (on their recent counts; cumulative for a metric without)."""
        self.refresh(seq)
        if self.window and self.labels - self.rotated >= self.window:
            self.rotated = self.labels
            for dim in self.dims:
                for cells in (*dim.tracked.values(), dim.other):
                    for cell in cells.values():
                        cell.rotate()
        records: list[dict[str, Any]] = []
        z, open_ = self.z, self.open
        if open_:  # the episodes of a model no longer in the engine end here
            names = {slot.name for slot in slots}
            for key in [k for k in open_ if k[0] not in names]:
                ep = open_.pop(key)
                ep["end"] = seq
                ep["reason"] = "model removed"
        min_n, margin = self.config.min_n, self.config.margin
        for slot in slots:
            if not slot.scored:
                continue
            name = slot.name
            metric = slot.prequential.metrics[0]
            cumulative = float(metric.get())
            bigger = metric.bigger_is_better
            for dim in self.dims:
                total_n, total_s1 = 0, 0.0  # the model's recent counts: all of this dimension
                dim_kind = "none"
                for cells in (*dim.tracked.values(), dim.other):
                    cell = cells.get(name)
                    if cell is not None:
                        n, s1, _ = cell.recent()
                        total_n += n
                        total_s1 += s1
                        dim_kind = cell.kind
                overall = None if not total_n else _value(dim_kind, total_n, total_s1)
                by = dim.spec.text
                for value, cells in dim.tracked.items():
                    cell = cells.get(name)
                    if cell is None:
                        continue
                    kind = cell.kind
                    if kind == "none":
                        v, n, lo, hi, over = cell.value(), cell.n, None, None, cumulative
                    else:
                        n, s1, s2 = cell.recent()
                        if not n or overall is None:
                            continue
                        v, over = _value(kind, n, s1), overall
                        if (name, by, value) not in open_ and (
                            n < min_n or (v >= over - margin if bigger else v <= over + margin)
                        ):
                            continue  # no episode, and none can start: no interval needed
                        lo, hi = _interval(kind, n, s1, s2, z)
                    self._check_one(name, by, value, v, n, lo, hi, over, bigger, seq, records)
        return records

    def _check_one(
        self,
        name: str,
        by: str,
        value: str,
        v: float,
        n: int,
        lo: float | None,
        hi: float | None,
        overall: float,
        bigger: bool,
        seq: int,
        records: list[dict[str, Any]],
    ) -> None:
        cfg = self.config
        key = (name, by, value)  # a slice name can be in two dimensions ("v" and "v:0,10")
        ep = self.open.get(key)
        margin = cfg.margin
        if ep is not None:
            back = v >= overall - margin if bigger else v <= overall + margin
            if back:
                ep["end"] = seq
                del self.open[key]
            return
        if n < cfg.min_n:
            return
        if bigger:
            bad = (hi if hi is not None else v) < overall - margin
        else:
            bad = (lo if lo is not None else v) > overall + margin
        if not bad:
            return
        ep = {"model": name, "slice": value, "start": seq, "end": None, "value": v,
              "overall": overall}  # fmt: skip
        self.open[key] = ep
        self.episodes.append(ep)
        records.append(
            {
                "kind": "slice_alarm",
                "type": "slice_alarm",
                "id": f"slice_alarm:{name}:{value}:{seq}",
                "model": name,
                "slice": value,
                "value": v,
                "overall": overall,
                "margin": margin,
                "n": n,
                "lo": lo,
                "hi": hi,
                "event": seq,
            }
        )

    # -- reports ------------------------------------------------------------------------------

    def report(self, name: str) -> list[dict[str, Any]]:
        """Model ``name``'s slices, worst first (then by name), each dimension's ``other`` last."""
        rows, tail = [], []
        bigger = True
        for dim in self.dims:
            for value, cells in dim.tracked.items():
                cell = cells.get(name)
                if cell is not None and cell.n:
                    bigger = cell.bigger
                    rows.append(self._row(name, value, cell, dim))
            cell = dim.other.get(name)
            if cell is not None and cell.n:
                tail.append(self._row(name, dim.other_name, cell, dim))
        sign = 1 if bigger else -1
        rows.sort(key=lambda r: (r["value"] is None, sign * (r["value"] or 0.0), r["slice"]))
        return rows + tail

    def _row(self, name: str, value: str, cell: _Cell, dim: _Dim) -> dict[str, Any]:
        lo, hi = cell.interval(self.z)
        row: dict[str, Any] = {
            "slice": value,
            "n": cell.n,
            "value": cell.value(),
            "lo": lo,
            "hi": hi,
            "alarm": (name, dim.spec.text, value) in self.open,
        }
        if self.window and cell.kind != "none":
            n, s1, s2 = cell.recent()
            rlo, rhi = _interval(cell.kind, n, s1, s2, self.z) if n else (None, None)
            row["recent"] = {"n": n, "value": _value(cell.kind, n, s1) if n else None,
                             "lo": rlo, "hi": rhi}  # fmt: skip
        if len(self.dims) > 1:
            row["by"] = dim.spec.text
        return row

    def _alarms(self) -> list[dict[str, Any]]:
        """The last 100 episodes, and every open one older than those (so that each row's
        ``alarm: true`` has its episode), oldest first."""
        kept = {id(e) for e in self.episodes}
        older = [e for e in self.open.values() if id(e) not in kept]
        older.sort(key=lambda e: e["start"])
        return [dict(e) for e in (*older, *self.episodes)]

    def summary(self, slots: Sequence[Any]) -> dict[str, Any]:
        """``summary()["slices"]`` (the shape in notes/shapes.md)."""
        scored = [s for s in slots if s.scored]
        first = scored[0].prequential.names[0] if scored else None
        out: dict[str, Any] = {
            "by": list(self.config.by),
            "metric": first,
            "margin": self.config.margin,
            "tracked": self.top,
            "window": self.window,
            "models": {},
            "alarms": self._alarms(),
        }
        for slot in scored:
            pq = slot.prequential
            entry: dict[str, Any] = {  # overall: None before any scored event (not River's 0)
                "overall": float(pq.metrics[0].get()) if pq.n else None,
                "slices": self.report(slot.name),
            }
            if pq.names[0] != first:
                entry["metric"] = pq.names[0]
            out["models"][slot.name] = entry
        unmerged = sum(d.unmerged for d in self.dims)
        if unmerged:
            out["unmerged"] = unmerged
        return out
