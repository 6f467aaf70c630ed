"""Read what optional stages an engine has (router, drift monitors, snapshot store), if any.

The server is written against the engine's verbs; stages that are built separately are found by
attribute (``engine.router``, ``engine.drift`` or a bare ``engine.monitors``, ``engine.features``,
``engine.snapshots``) so that an engine without them serves too: their routes then answer empty
lists, and a rollback a clear 404.
Every function here runs on the engine's owner task.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from stream_ml.serve.security import ServeError


def _plain(obj: Any) -> Any:
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [_plain(v) for v in obj]
    for verb in ("to_dict", "summary", "model_dump"):
        fn = getattr(obj, verb, None)
        if callable(fn):
            return _plain(fn())
    if hasattr(obj, "item"):
        return obj.item()
    return repr(obj)


def experiments(engine: Any) -> list[dict[str, Any]]:
    """The router's summary (arms, allocation, decisions), as a list (empty without a router)."""
    router = getattr(engine, "router", None)
    if router is None:
        return []
    summary = router.summary() if hasattr(router, "summary") else {}
    return [{"name": type(getattr(router, "router", router)).__name__, **_plain(summary)}]


def _monitors(engine: Any) -> list[tuple[str, Any]]:
    monitors = getattr(engine, "monitors", None)
    if not monitors:
        return []
    if isinstance(monitors, dict):
        return [(str(k), v) for k, v in monitors.items()]
    return [(getattr(m, "name", f"monitor{i}"), m) for i, m in enumerate(monitors)]


#: the worst state first: a monitor with one drifting field is drifting
_STATES = ("drifting", "recovered", "ok")


def monitor_state(fields: dict[str, str] | None) -> str:
    """One state for a monitor from its fields' states (the worst wins; ``ok`` when empty).

    >>> monitor_state({"x1": "ok", "x2": "drifting"}), monitor_state({})
    ('drifting', 'ok')
    """
    states = set((fields or {}).values())
    return next((s for s in _STATES if s in states), "ok")


def _statistic_kind(detector: Any) -> str:
    """``"per_check"`` for a detector with a statistic at every check (KS, CvM, MMD, ...),
    ``"alarms"`` for River's detectors (ADWIN, Page-Hinkley, DDM...), which report alarms only."""
    from stream_ml.drift.adapters import RiverDetector

    return "alarms" if isinstance(detector, RiverDetector) else "per_check"


def drift(engine: Any) -> list[dict[str, Any]]:
    """One entry per drift detector of each monitor.

    ``key`` names the entry uniquely (the monitor's name, ``name#i`` for its ``i``-th detector
    when it has several); then the monitor's name, what it watches, the detector and its
    parameters, the field of its latest check, the statistic against the threshold,
    ``statistic_kind`` (``per_check``, or ``alarms`` for River's detectors, which have no
    statistic between alarms), calibration, and the monitor's alerts, episodes (count,
    ``suppressed`` by the rate limit, ``recent_episodes``), ``state`` (the worst of its fields)
    and ``field_states``.
    """
    stage = getattr(engine, "drift", None)
    if stage is not None and hasattr(stage, "summary"):
        out = []
        objects = getattr(stage, "monitors", [])
        for j, m in enumerate(stage.summary()):
            dets = m.get("detectors") or [{}]
            mon = objects[j] if j < len(objects) else None
            det_objs = list(getattr(getattr(mon, "monitor", None), "detectors", []) or [])
            config = getattr(getattr(mon, "config", None), "detector", None)
            params = getattr(config, "params", None)
            for i, d in enumerate(dets):
                fields = m.get("fields") or []
                field_states = m.get("state") or {}
                obj = det_objs[i] if i < len(det_objs) else None
                out.append(
                    _plain(
                        {
                            "key": m["name"] if len(dets) == 1 else f"{m['name']}#{i}",
                            "name": m["name"],
                            "on": m.get("on"),
                            "model": m.get("model"),
                            "fields": fields,
                            "alerts": m.get("alerts"),
                            "action": m.get("action"),
                            "detector": d.get("detector"),
                            "kind": getattr(config, "kind", None),
                            "params": params if isinstance(params, dict) else None,
                            "field": d.get("field") or ",".join(fields),
                            "statistic": d.get("last_statistic"),
                            "threshold": d.get("threshold"),
                            "statistic_kind": _statistic_kind(obj),
                            "drift": d.get("drift"),
                            "calibration": d.get("calibration_status"),
                            "events": m.get("events"),
                            "episodes_on": m.get("episodes_on"),
                            "episodes": m.get("episodes"),
                            "suppressed": m.get("suppressed"),
                            "state": monitor_state(field_states),
                            "field_states": field_states,
                            "recent_episodes": m.get("recent_episodes") or [],
                        }
                    )
                )
        return out
    out = []
    for name, mon in _monitors(engine):
        entry: dict[str, Any] = {"name": name}
        state = getattr(mon, "state", None)
        value = state() if callable(state) else state
        if value is None and hasattr(mon, "summary"):
            value = mon.summary()
        if value is not None:
            plain = _plain(value)
            entry.update(plain if isinstance(plain, dict) else {"state": plain})
        out.append(entry)
    return out


def features(engine: Any) -> dict[str, int] | None:
    """The feature stage's counters (``keys``, ``late``, ``late_dropped``, ``late_included``,
    ``out_of_order``, ``evictions_ttl``, ``evictions_lru``, ``events``, ``errors``, ``labels``),
    or None when the engine has no feature set (cheap: a dict copy and a sum over key tables)."""
    stats = getattr(getattr(engine, "features", None), "stats", None)
    if not callable(stats):
        return None
    return {str(k): int(v) for k, v in stats().items()}


def slices(summary: dict[str, Any], model: str | None = None,
           limit: int | None = None) -> dict[str, Any]:  # fmt: skip
    """``GET /v1/slices`` from an engine summary: ``summary()["slices"]`` with ``configured``
    (false, and nothing else, without ``[evaluation] slices``); ``model`` keeps one model (a
    :class:`ServeError` 404 when it has no slices), ``limit`` the worst ``limit`` slices of
    each (every dimension's ``other`` kept).

    >>> s = {"models": {"lr": {}}, "slices": {"by": ["r"], "metric": "Accuracy", "margin": 0.05,
    ...      "tracked": 20, "alarms": [], "models": {"lr": {"overall": 0.8, "slices": [
    ...      {"slice": "r=a", "n": 5, "value": 0.5}, {"slice": "r=b", "n": 5, "value": 0.9},
    ...      {"slice": "other", "n": 1, "value": 1.0}]}}}}
    >>> [e["slice"] for e in slices(s, limit=1)["models"]["lr"]["slices"]]
    ['r=a', 'other']
    >>> slices({"models": {}})["configured"], slices({"models": {}})["models"]
    (False, {})
    """
    sl = summary.get("slices")
    if not sl:
        if model is not None:
            raise ServeError("no_slices", "no slices are configured ([evaluation] slices)", 404,
                             field="model")  # fmt: skip
        return {"configured": False, "by": [], "metric": None, "margin": None, "tracked": None,
                "window": None, "models": {}, "alarms": []}  # fmt: skip
    models = dict(sl.get("models") or {})
    alarms = list(sl.get("alarms") or [])
    if model is not None:
        if model not in models:
            raise ServeError("unknown_model", f"no slices for a model {model!r}", 404,
                             field="model")  # fmt: skip
        models = {model: models[model]}
        alarms = [a for a in alarms if a.get("model") == model]
    if limit is not None:
        from stream_ml.cli_report import is_other

        def cut(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            kept = [r for r in rows if not is_other(r.get("slice"))][:limit]
            return kept + [r for r in rows if is_other(r.get("slice"))]

        models = {k: {**v, "slices": cut(v.get("slices") or [])} for k, v in models.items()}
    keys = ("by", "metric", "margin", "tracked", "window")
    out = {"configured": True, **{k: sl.get(k) for k in keys}, "models": models,
           "alarms": alarms}  # fmt: skip
    if sl.get("unmerged"):
        out["unmerged"] = sl["unmerged"]
    return _plain(out)


def engine_slices(engine: Any) -> dict[str, Any] | None:
    """``summary()["slices"]`` read from the engine's slice stage alone (a few hundredths of
    a millisecond, where the whole summary costs milliseconds), None without slices."""
    stage = getattr(getattr(engine, "evaluation", None), "slices", None)
    if stage is None or not hasattr(stage, "summary"):
        return None
    return stage.summary(engine.slots)


def engine_models(engine: Any) -> dict[str, Any]:
    """``summary()["models"]`` (each model's metrics and calibration) without the rest."""
    metrics = getattr(engine, "metrics", None)
    return metrics() if callable(metrics) else engine.summary()["models"]


def calibration(summary: dict[str, Any]) -> dict[str, Any]:
    """``GET /v1/calibration``: each classifier's ``calibration`` (window, n, ECE, bins;
    threshold and alarm episodes with the ECE monitor), by model; empty without one."""
    models = summary.get("models") or {}
    return {"models": {k: _plain(m["calibration"]) for k, m in models.items()
                       if isinstance(m.get("calibration"), dict)}}  # fmt: skip


def snapshot_store(engine: Any) -> Any:
    """The engine's :class:`~stream_ml.snapshots.SnapshotStore` (inside its stage), or None."""
    stage = getattr(engine, "snapshots", None) or getattr(engine, "snapshot_store", None)
    return getattr(stage, "store", stage)


def snapshots(engine: Any) -> list[dict[str, Any]]:
    """Every stored snapshot's metadata, newest first (empty without a store)."""
    store = snapshot_store(engine)
    if store is None or not hasattr(store, "list"):
        return []
    infos = [_plain(i) for i in store.list()]
    return sorted(infos, key=lambda i: i.get("version", 0), reverse=True)


def rollback(engine: Any, version: int, reason: str) -> dict[str, Any]:
    """Roll the engine back to snapshot ``version``; raises :class:`ServeError` when it cannot."""
    from stream_ml.errors import SnapshotError

    if snapshot_store(engine) is None:
        raise ServeError("no_snapshots", "no snapshot store is configured for this engine", 404)
    if not callable(getattr(engine, "rollback", None)):
        raise ServeError("no_rollback", "this engine cannot roll back", 501)
    try:
        info = engine.rollback(version, reason=reason)
    except SnapshotError as exc:
        status = 404 if type(exc).__name__ == "SnapshotNotFound" else 409
        raise ServeError(exc.code, str(exc), status, field="version") from exc
    return {"version": version, "reason": reason, "snapshot": _plain(info)}
