"""``compute_offline``: the features each event of a recorded log would have had online.

This is a second, independent implementation of the definitions, written for clarity rather than
speed: for every event it selects, with numpy masks over the events of its key, the events that
*arrived before it* (earlier in the log), were *accepted* (not dropped as too late), belong to the
same key *epoch* (not separated by a TTL expiry) and have a time in its window, strictly before
its own; then it aggregates them with numpy. The property tests check that it agrees with
:class:`~stream_ml.features.FeatureSet` on every event that is not too late: the same definitions
train (offline, on the log) and serve (online), which is the answer to train-serving skew.

Past their exact ``bound``, all-time quantiles and distinct counts are exact here and sketches
online (DataSketches t-digest and HLL): the two agree within the sketches' tolerance (distinct:
3 relative standard errors, 3.79 %; quantile: between the exact quantiles at ``q - 0.025`` and
``q + 0.025``, plus one order statistic; see ``docs/features.md``, tested in
``tests/features/test_parity.py``). Not covered: ``target_mean`` (labels are not in the event log;
NaN), keys evicted by ``max_keys`` (the offline replay assumes the bound is not reached), and the
features of too-late events (online, they come from what is still retained).

>>> from stream_ml import features as F
>>> log = [({"u": "a", "v": 1.0}, 0.0), ({"u": "a", "v": 3.0}, 5.0), ({"u": "a", "v": 2.0}, 4.0)]
>>> res = compute_offline(log, [F.Sum("v", by="u", window="10s")], allowed_lateness=2.0)
>>> res.values["v_sum_10s_by_u"].tolist(), res.late.tolist()
([0.0, 1.0, 1.0], [False, False, False])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stream_ml.errors import EventError
from stream_ml.events import parse_timestamp
from stream_ml.features.config import FeaturesConfig
from stream_ml.features.specs import NUMERIC, FeatureSpec
from stream_ml.features.windows import Count, Decay, Session, Sliding, Tumbling, parse_window


@dataclass
class OfflineResult:
    """Feature values per event (NaN where online leaves the feature out), and the late mask."""

    values: dict[str, np.ndarray]
    late: np.ndarray
    valid: np.ndarray


def _config(features: Any, options: dict[str, Any]) -> FeaturesConfig:
    if isinstance(features, FeaturesConfig):
        return features
    if hasattr(features, "config") and isinstance(features.config, FeaturesConfig):
        return features.config
    return FeaturesConfig.build({"specs": tuple(features), **options})


def _valid(x: dict, cfg: FeaturesConfig) -> bool:
    for spec in cfg.specs:
        if any(x.get(f) is None for f in spec.by):
            return False
        if spec.on:
            v = x.get(spec.on)
            if v is None:
                return False
            if spec.agg in NUMERIC and (
                not isinstance(v, int | float) or not math.isfinite(float(v))
            ):
                return False
    return True


def _key(x: dict, by: tuple[str, ...]) -> Any:
    return x[by[0]] if len(by) == 1 else tuple(x[f] for f in by)


def compute_offline(
    events: Sequence[tuple[dict, Any]], features: Any, **options: Any
) -> OfflineResult:
    """Replay ``events`` (pairs ``(x, ts)`` in log order) through the feature definitions.

    ``features`` is a :class:`~stream_ml.features.FeatureSet`, a :class:`FeaturesConfig` or a
    list of specs (then ``options`` are ``allowed_lateness``, ``late_events``, ``ttl``).
    """
    cfg = _config(features, options)
    n = len(events)
    xs = [x for x, _ in events]
    valid = np.zeros(n, dtype=bool)
    ts = np.full(n, np.nan)
    for i, (x, t) in enumerate(events):
        try:
            ts[i] = parse_timestamp(t)
        except EventError:
            continue
        valid[i] = _valid(x, cfg)
    seen = np.where(valid, ts, -np.inf)
    g_prev = np.concatenate(([-np.inf], np.maximum.accumulate(seen)[:-1])) if n else seen
    late = valid & (ts < g_prev - cfg.allowed_lateness)
    accepted = valid & (~late if cfg.late_events == "drop" else True)
    values: dict[str, np.ndarray] = {}
    by_entity: dict[tuple[str, ...], list[FeatureSpec]] = {}
    for spec in cfg.specs:
        by_entity.setdefault(spec.by, []).append(spec)
    for by, specs in by_entity.items():
        members, epoch = _epochs(xs, by, ts, valid, accepted, g_prev, cfg.ttl)
        for spec in specs:
            values[spec.name] = _feature(
                spec, xs, ts, valid, accepted, members, epoch, g_prev - cfg.allowed_lateness
            )
    return OfflineResult(values, late, valid)


def _epochs(
    xs: list[dict],
    by: tuple[str, ...],
    ts: np.ndarray,
    valid: np.ndarray,
    accepted: np.ndarray,
    g_prev: np.ndarray,
    ttl: float | None,
) -> tuple[dict[Any, np.ndarray], np.ndarray]:
    """Events per key (arrival order) and, per event, the epoch of its key's state."""
    epoch = np.zeros(len(xs), dtype=np.int64)
    current: dict[Any, int] = {}
    newest: dict[Any, float] = {}
    members: dict[Any, list[int]] = {}
    for i, x in enumerate(xs):
        if not valid[i]:
            continue
        k = _key(x, by)
        members.setdefault(k, []).append(i)
        expired = ttl is not None and k in newest and newest[k] < g_prev[i] - ttl
        if not accepted[i]:
            epoch[i] = current.get(k, 0) + (1 if expired else 0)  # reads an empty state
            continue
        if expired:
            current[k] += 1
            newest[k] = -math.inf
        current.setdefault(k, 0)
        epoch[i] = current[k]
        newest[k] = max(newest.get(k, -math.inf), ts[i])
    return {k: np.asarray(v) for k, v in members.items()}, epoch


def _feature(
    spec: FeatureSpec,
    xs: list[dict],
    ts: np.ndarray,
    valid: np.ndarray,
    accepted: np.ndarray,
    members: dict[Any, np.ndarray],
    epoch: np.ndarray,
    wm: np.ndarray,
) -> np.ndarray:
    numeric = spec.agg not in ("last", "distinct")
    out = np.full(len(xs), np.nan, dtype=float if numeric else object)
    if spec.agg == "target_mean":
        return out
    w = parse_window(spec.window)
    for idx in members.values():
        tk, ak, ek = ts[idx], accepted[idx], epoch[idx]
        vk = [xs[i][spec.on] for i in idx] if spec.on else None
        if isinstance(w, Session):
            starts, kept = _sessions(tk, ak, ek, wm[idx], w.gap)
        for p, i in enumerate(idx):
            t = tk[p]
            m = ak[:p] & (ek[:p] == ek[p]) & (tk[:p] < t)
            if isinstance(w, Session):
                m &= kept[:p] & (tk[:p] >= starts[p])
            elif isinstance(w, Sliding):
                m &= tk[:p] >= t - w.width
            elif isinstance(w, Tumbling):
                m &= tk[:p] >= math.floor(t / w.width) * w.width
            sel = np.nonzero(m)[0]
            sel = sel[np.lexsort((sel, tk[sel]))]
            if isinstance(w, Count):
                sel = sel[-w.n :]
            vals = [vk[j] for j in sel] if vk is not None else []
            v = _aggregate(spec, w, vals, tk[sel], t)
            if v is None:
                v = spec.default
            if v is not None:
                out[i] = v
    return out


def _sessions(
    tk: np.ndarray, ak: np.ndarray, ek: np.ndarray, wk: np.ndarray, gap: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per event of one key (arrival order): its session's start, and whether it is kept.

    Replays the definitions of :mod:`~stream_ml.features.session` on the sorted times of the
    key's kept events: before each accepted event, the seal moves to the first event of the
    session holding the latest kept event before the watermark (if that session has an earlier
    one); an event older than the seal is not kept; t's session starts where the chain of gaps
    ``< gap`` back from t stops (at t itself when the latest earlier event is ``>= gap`` away).
    """
    n = len(tk)
    starts = np.full(n, np.inf)
    kept = np.zeros(n, dtype=bool)
    seen: list[float] = []
    seal = -math.inf
    cur = None
    for p in range(n):
        if not ak[p]:
            continue
        if ek[p] != cur:
            cur, seen, seal = ek[p], [], -math.inf
        arr = np.asarray(seen)
        q = int(np.searchsorted(arr, wk[p], side="left")) - 1
        if q >= 0:
            j = q
            while j > 0 and arr[j] - arr[j - 1] < gap:
                j -= 1
            if j > 0:
                seal = max(seal, float(arr[j]))
        t = float(tk[p])
        if t < seal:
            continue
        kept[p] = True
        r = int(np.searchsorted(arr, t, side="left")) - 1
        if r < 0 or t - arr[r] >= gap:
            starts[p] = t
        else:
            while r > 0 and arr[r] - arr[r - 1] < gap:
                r -= 1
            starts[p] = arr[r]
        seen.insert(int(np.searchsorted(arr, t, side="right")), t)
    return starts, kept


def _aggregate(spec: FeatureSpec, w: Any, vals: list, times: np.ndarray, t: float) -> Any:
    agg, n = spec.agg, len(times)
    if isinstance(w, Decay):
        weights = np.exp2(-(t - times) / w.half_life)
        if agg == "count":
            return float(weights.sum())
        arr = np.asarray(vals, dtype=float)
        if agg == "sum":
            return float((weights * arr).sum())
        return float((weights * arr).sum() / weights.sum()) if n else None
    if agg == "count":
        return n
    if agg == "time_since":
        return float(t - times[-1]) if n else None
    if agg == "last":
        return vals[-1] if n else None
    if agg == "distinct":
        return len(set(vals))
    arr = np.asarray(vals, dtype=float)
    if agg == "sum":
        return float(arr.sum())
    if not n:
        return None
    if agg == "mean":
        return float(arr.mean())
    if agg in ("var", "std"):
        var = float(arr.var(ddof=1)) if n > 1 else 0.0
        return var if agg == "var" else math.sqrt(var)
    if agg == "min":
        return float(arr.min())
    if agg == "max":
        return float(arr.max())
    if agg == "quantile":
        return float(np.quantile(arr, float(spec.q or 0.0)))
    raise AssertionError(agg)  # pragma: no cover


__all__ = ["OfflineResult", "compute_offline"]
