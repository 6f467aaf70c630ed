"""Prometheus metrics of one server, in a registry of its own (never the global one).

On the hot path only counters are incremented and one histogram observation is made per engine
round (not per event). Everything per model (rolling metric, traffic share), the labels (pending,
expired, evicted), drift (statistic, threshold, state, episodes), the feature stage's counters,
the slices (metric, count, alarm per tracked slice) and calibration (ECE) and the snapshot age
are read at scrape time from the summary the engine's owner task caches every
``metrics_interval`` seconds: a scrape never touches the engine. Every label is bounded by the
configuration (models, metrics, monitors, watched fields, a fixed set of states; slices: the
engine's tracked top-K per dimension and each dimension's ``other``, never more than
:func:`slice_bound`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)


class ServeMetrics:
    """The counters, histograms and scrape-time gauges of one app.

    Examples
    --------
    >>> m = ServeMetrics(lambda: {"models": {"lr": {"rolling": {"Accuracy": 0.9}}}})
    >>> m.events.labels("observation").inc()
    >>> text = m.render().decode()
    >>> "stream_ml_events_total" in text, 'stream_ml_model_metric{metric="Accuracy"' in text
    (True, True)
    """

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.events = Counter("stream_ml_events", "Messages received, by kind", ["kind"],
                              registry=r)  # fmt: skip
        self.predictions = Counter(
            "stream_ml_predictions", "Predictions sent, by serving model and fallback",
            ["model", "fallback"], registry=r)  # fmt: skip
        self.errors = Counter("stream_ml_errors", "Refused or failed messages, by code", ["code"],
                              registry=r)  # fmt: skip
        self.latency = Histogram(
            "stream_ml_engine_round_seconds", "Engine time per round of queued jobs",
            buckets=_LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.wait = Histogram(
            "stream_ml_queue_wait_seconds",
            "Time a queued job waited for the engine (jobs applied at once never wait)",
            buckets=_LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.connections = Gauge("stream_ml_connections", "Open websocket connections",
                                 ["endpoint"], registry=r)  # fmt: skip
        self.dropped = Counter("stream_ml_dropped_clients", "Clients dropped as slow consumers",
                               ["endpoint"], registry=r)  # fmt: skip
        self.feed_events = Counter("stream_ml_feed_events", "Feed events published, by type",
                                   ["type"], registry=r)  # fmt: skip
        self.queue_depth = Gauge("stream_ml_queue_depth", "Jobs waiting for the engine",
                                 registry=r)  # fmt: skip
        r.register(_SummaryCollector(snapshot))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else float("nan")


class _SummaryCollector(Collector):
    """Gauges read from the cached engine summary at scrape time."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        s = self.snapshot() or {}
        metric = GaugeMetricFamily("stream_ml_model_metric", "Prequential metric per model",
                                   labels=["model", "metric", "window"])  # fmt: skip
        share = GaugeMetricFamily("stream_ml_traffic_share", "Share of predictions served",
                                  labels=["model"])  # fmt: skip
        for name, m in (s.get("models") or {}).items():
            for window in ("rolling", "metrics"):
                for k, v in (m.get(window) or {}).items():
                    value = _num(v)
                    if value is not None:
                        label = "rolling" if window == "rolling" else "cumulative"
                        metric.add_metric([name, k, label], value)
        for name, v in (s.get("traffic") or {}).items():
            share.add_metric([name], float(v))
        yield metric
        yield share
        labels = s.get("labels") or {}
        yield GaugeMetricFamily("stream_ml_labels_pending", "Predictions waiting for a label",
                                value=float(labels.get("pending", 0)))  # fmt: skip
        lag = GaugeMetricFamily("stream_ml_label_lag_seconds",
                                "Event time from a prediction to its label, last interval",
                                labels=["stat"])  # fmt: skip
        for which in ("mean", "max"):
            value = _num(labels.get(f"lag_{which}"))
            if value is not None:
                lag.add_metric([which], value)
        yield lag
        for key in ("expired", "evicted"):
            c = CounterMetricFamily(f"stream_ml_labels_{key}", f"Pending predictions {key}",
                                    value=float(labels.get(key, 0)))  # fmt: skip
            yield c
        yield from _drift(s.get("drift") or [])
        alarms = CounterMetricFamily("stream_ml_drift_alarms", "Drift alarms seen",
                                     labels=["detector", "field"])  # fmt: skip
        for (det, field), n in (s.get("alarms") or {}).items():
            alarms.add_metric([str(det), str(field)], float(n))
        yield alarms
        features = s.get("features")
        if isinstance(features, dict):
            yield from _features(features)
        yield from _slices(s.get("slices"))
        yield from _calibration(s.get("models") or {})
        age = s.get("snapshot_age")
        if age is not None:
            yield GaugeMetricFamily("stream_ml_snapshot_age_seconds", "Age of the latest snapshot",
                                    value=float(age))  # fmt: skip


def _drift(entries: list[dict[str, Any]]) -> Iterator[Any]:
    """Per detector (``monitor`` is its key): statistic, threshold, state; per monitor:
    episodes and the alerts its rate limit suppressed. Labels are bounded by the config."""
    lab = ["monitor", "detector", "field"]
    stat = GaugeMetricFamily("stream_ml_drift_statistic", "Latest drift statistic (detectors "
                             "with one per check; River's have none)", labels=lab)  # fmt: skip
    thr = GaugeMetricFamily("stream_ml_drift_threshold", "Drift threshold", labels=lab)
    state = GaugeMetricFamily("stream_ml_drift_state", "1 for each watched field's current "
                              "state (ok, drifting, recovered)",
                              labels=["monitor", "field", "state"])  # fmt: skip
    episodes = CounterMetricFamily("stream_ml_drift_episodes", "Drift episodes opened",
                                   labels=["monitor"])  # fmt: skip
    suppressed = CounterMetricFamily("stream_ml_drift_suppressed", "Episodes not alerted "
                                     "(the monitor's rate limit)", labels=["monitor"])  # fmt: skip
    seen: set[str] = set()
    for d in entries:
        key = str(d.get("key") or d.get("name"))
        labels = [key, str(d.get("detector")), str(d.get("field"))]
        for fam, name in ((stat, "statistic"), (thr, "threshold")):
            value = _num(d.get(name))
            if value is not None:
                fam.add_metric(labels, value)
        name = str(d.get("name"))
        if name in seen:  # the monitor's own counts repeat on each of its detectors
            continue
        seen.add(name)
        for field, current in (d.get("field_states") or {}).items():
            for st in ("ok", "drifting", "recovered"):
                state.add_metric([name, str(field), st], 1.0 if current == st else 0.0)
        for counter, k in ((episodes, "episodes"), (suppressed, "suppressed")):
            value = _num(d.get(k))
            if value is not None:
                counter.add_metric([name], value)
    yield from (stat, thr, state, episodes, suppressed)


_FEATURE_HELP = (
    ("events", "Events through the feature stage"),
    ("labels", "Labels through the feature stage (target features)"),
    ("errors", "Events the feature stage refused"),
    ("out_of_order", "Events older than the newest seen (within lateness)"),
)


def _features(f: dict[str, Any]) -> Iterator[Any]:
    """The feature stage's counters (``summary()["features"]``)."""

    def count(key: str) -> float:
        v = _num(f.get(key))
        return v if v is not None else 0.0

    yield GaugeMetricFamily("stream_ml_feature_keys", "Entity keys held by the feature stage",
                            value=count("keys"))  # fmt: skip
    for key, help in _FEATURE_HELP:
        yield CounterMetricFamily(f"stream_ml_feature_{key}", help, value=count(key))
    late = CounterMetricFamily("stream_ml_feature_late_events", "Events behind the watermark, "
                               "by what was done with them", labels=["outcome"])  # fmt: skip
    for outcome in ("dropped", "included"):
        late.add_metric([outcome], count(f"late_{outcome}"))
    yield late
    evictions = CounterMetricFamily("stream_ml_feature_evictions", "Keys evicted, by reason",
                             labels=["reason"])  # fmt: skip
    for reason in ("ttl", "lru"):
        evictions.add_metric([reason], count(f"evictions_{reason}"))
    yield evictions


def slice_bound(sl: dict[str, Any]) -> int:
    """The most slices exported per model: ``tracked`` per dimension plus its ``other``.

    >>> slice_bound({"by": ["region", "device"], "tracked": 20})
    42
    """
    tracked = sl.get("tracked")
    dims = max(1, len(sl.get("by") or []))
    return dims * ((int(tracked) if isinstance(tracked, int) else 20) + 1)


def _slices(sl: Any) -> Iterator[Any]:
    """Per model and slice (``summary()["slices"]``): the sliced metric, the events scored in
    the slice, 1 while its alarm is on. The slices are the engine's tracked top-K per dimension
    and each dimension's ``other``, at most :func:`slice_bound` per model (a longer list is
    cut, the worst kept)."""
    if not isinstance(sl, dict):
        return
    lab = ["model", "slice"]
    what = f"{sl.get('metric') or 'the first metric'} by {', '.join(sl.get('by') or []) or '-'}"
    metric = GaugeMetricFamily("stream_ml_slice_metric", f"Prequential {what}, per slice "
                               "(tracked top-K and other)", labels=lab)  # fmt: skip
    count = GaugeMetricFamily("stream_ml_slice_count", "Scored events in the slice since it is "
                              "tracked", labels=lab)  # fmt: skip
    alarm = GaugeMetricFamily("stream_ml_slice_alarm", "1 while the slice's alarm episode is "
                              "open (its metric beyond the overall by the margin)",
                              labels=lab)  # fmt: skip
    overall = GaugeMetricFamily("stream_ml_slice_overall", f"Overall {what.split(' by ')[0]} "
                                "the slices are compared with", labels=["model"])  # fmt: skip
    bound = slice_bound(sl)
    for name, entry in (sl.get("models") or {}).items():
        if not isinstance(entry, dict):
            continue
        value = _num(entry.get("overall"))
        if value is not None:
            overall.add_metric([str(name)], value)
        for row in (entry.get("slices") or [])[:bound]:
            labels = [str(name), str(row.get("slice"))]
            value = _num(row.get("value"))
            if value is not None:
                metric.add_metric(labels, value)
            n = _num(row.get("n"))
            count.add_metric(labels, n if n is not None else 0.0)
            alarm.add_metric(labels, 1.0 if row.get("alarm") else 0.0)
    yield from (metric, count, alarm, overall)


def _calibration(models: dict[str, Any]) -> Iterator[Any]:
    """Per classifier (``summary()["models"][m]["calibration"]``): ECE over the rolling window
    and the events it is computed on."""
    ece = GaugeMetricFamily("stream_ml_calibration_ece", "Expected calibration error (top "
                            "label, equal-width bins) over the rolling window",
                            labels=["model"])  # fmt: skip
    n = GaugeMetricFamily("stream_ml_calibration_events", "Scored events with probabilities "
                          "in the calibration window", labels=["model"])  # fmt: skip
    seen = False
    for name, m in models.items():
        cal = m.get("calibration") if isinstance(m, dict) else None
        if not isinstance(cal, dict):
            continue
        seen = True
        value = _num(cal.get("ece"))
        if value is not None:
            ece.add_metric([str(name)], value)
        k = _num(cal.get("n"))
        n.add_metric([str(name)], k if k is not None else 0.0)
    if seen:
        yield ece
        yield n
