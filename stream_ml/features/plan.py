"""Compile feature specs into a plan: entities (key fields), their windows and shared states.

Features with the same ``by`` share one per-key table; features with the same ``by`` and the same
window share one buffer of events and, where they can, one aggregate state (count, sum, mean, var
and std of a field all read one :class:`~.aggregates.moments.Moments`). The plan holds no learned
state; it pickles by reference to its classes and reader functions.

>>> from stream_ml.features.specs import Count, Mean, Max
>>> (ent,) = compile_specs([Mean("a", by="u", window="1h"), Count(by="u", window="1h"),
...                         Max("a", by="u", window="1h")])
>>> [type(s).__name__ for s in ent.groups[0].make_states()]
['Moments', 'SortedValues']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from stream_ml.features.aggregates import decay, distinct, last, moments, order, quantile, target
from stream_ml.features.rolling import CountWindow, TimeWindow, UnboundedWindow
from stream_ml.features.session import SessionWindow
from stream_ml.features.specs import FeatureSpec
from stream_ml.features.windows import AllTime, Count, Decay, Session, Window, parse_window

Getter = Callable[[Any, float], Any]


class Group:
    """One window of one entity: the row fields, the state recipes and the features to read."""

    def __init__(self, window: Window, settle: bool) -> None:
        self.window: Any = window
        self.settle = settle
        self.fields: list[str] = []
        self.recipes: list[tuple[type, int, Any]] = []
        self.feats: list[tuple[str, int, Getter, Any]] = []
        if isinstance(window, Count):
            self.window_cls: type = CountWindow
        elif isinstance(window, AllTime | Decay):
            self.window_cls = UnboundedWindow
        elif isinstance(window, Session):
            self.window_cls = SessionWindow
        else:
            self.window_cls = TimeWindow

    def col(self, field: str | None) -> int:
        if field is None:
            return -1
        if field not in self.fields:
            self.fields.append(field)
        return self.fields.index(field)

    def state(self, cls: type, col: int, param: Any = None) -> int:
        recipe = (cls, col, param)
        if recipe not in self.recipes:
            self.recipes.append(recipe)
        return self.recipes.index(recipe)

    def make_states(self) -> list[Any]:
        return [cls(col, param) for cls, col, param in self.recipes]

    def new_window(self) -> Any:
        return self.window_cls(self)

    def fold(self, rows: list[tuple], times: list[float], i0: int, i1: int) -> list[Any]:
        """Fresh states over ``rows[i0:i1]``."""
        states = self.make_states()
        for i in range(i0, i1):
            r = rows[i]
            ts = times[i]
            for s in states:
                s.update(r, ts)
        return states

    def read(self, states: list[Any], t: float, out: dict | None = None) -> dict:
        """Write the features of ``states`` at time ``t`` into ``out`` (empty ones are skipped)."""
        out = {} if out is None else out
        for name, si, getter, default in self.feats:
            v = getter(states[si], t)
            if v is None:
                if default is None:
                    continue
                v = default
            out[name] = v
        return out


class Entity:
    """The features of one key (``by`` fields): their groups and target aggregates."""

    def __init__(self, by: tuple[str, ...]) -> None:
        self.by = by
        self.groups: list[Group] = []
        self.targets: list[tuple[str, tuple[Any, ...], Any]] = []  # name, param, default
        self.first_feature = ""


def _add(group: Group, spec: FeatureSpec) -> None:
    agg, w = spec.agg, group.window
    col = group.col(spec.on) if spec.on else -1
    unbounded = isinstance(w, AllTime)
    getter: Getter
    if isinstance(w, Decay):
        si = group.state(decay.Decayed, col, w.half_life)
        getter = {
            "count": decay.get_decayed_count,
            "sum": decay.get_decayed_sum,
        }.get(agg, decay.get_decayed_mean)
    elif agg in ("sum", "mean", "var", "std"):
        si = group.state(moments.Moments, col)
        getter = getattr(moments, f"get_{agg}")
    elif agg == "count":
        si = group.state(moments.Counter, -1)
        getter = moments.get_count
    elif agg in ("min", "max"):
        si = group.state(order.Extremes if unbounded else order.SortedValues, col)
        getter = order.get_min if agg == "min" else order.get_max
    elif agg == "quantile":
        if unbounded:
            si = group.state(quantile.QuantileSketch, col, (spec.q, spec.bound))
            getter = quantile.get_quantile
        else:
            si = group.state(order.SortedValues, col)
            getter = quantile.quantile_getter(float(spec.q or 0.0))
    elif agg in ("last", "time_since"):
        si = group.state(last.LastValue, col if agg == "last" else -1)
        getter = last.get_last if agg == "last" else last.get_time_since
    elif agg == "distinct":
        if unbounded:
            si = group.state(distinct.DistinctSketch, col, spec.bound)
        else:
            si = group.state(distinct.DistinctWindow, col)
        getter = distinct.get_distinct
    else:  # pragma: no cover - specs validate agg
        raise AssertionError(agg)
    group.feats.append((spec.name, si, getter, spec.default))


def _share_counts(group: Group) -> None:
    """Let ``count`` read the ``n`` of a Moments state when the group has one."""
    counter = next((i for i, r in enumerate(group.recipes) if r[0] is moments.Counter), None)
    moment = next((i for i, r in enumerate(group.recipes) if r[0] is moments.Moments), None)
    if counter is None or moment is None:
        return
    group.feats = [(n, moment if si == counter else si, g, d) for n, si, g, d in group.feats]
    del group.recipes[counter]
    group.feats = [(n, si - (si > counter), g, d) for n, si, g, d in group.feats]


def compile_specs(specs: Iterable[FeatureSpec], allowed_lateness: float = 0.0) -> list[Entity]:
    """Group specs into entities and windows."""
    entities: dict[tuple[str, ...], Entity] = {}
    groups: dict[tuple[tuple[str, ...], Window], Group] = {}
    for spec in specs:
        ent = entities.get(spec.by)
        if ent is None:
            ent = entities[spec.by] = Entity(spec.by)
            ent.first_feature = spec.name
        w = parse_window(spec.window)
        if spec.agg == "target_mean":
            hl = w.half_life if isinstance(w, Decay) else None
            ent.targets.append((spec.name, (hl, spec.strength, spec.prior), spec.default))
            continue
        g = groups.get((spec.by, w))
        if g is None:
            g = groups[(spec.by, w)] = Group(w, settle=allowed_lateness > 0)
            ent.groups.append(g)
        _add(g, spec)
    for g in groups.values():
        _share_counts(g)
    return list(entities.values())


def target_state(param: tuple[Any, ...]) -> target.TargetMean:
    return target.TargetMean(0, param)


def row_fields(entities: Sequence[Entity]) -> list[list[str]]:
    return [g.fields for e in entities for g in e.groups]
