"""Prometheus metrics of one server, in a registry of its own (never the global one).

On the hot path only counters are incremented and one histogram observation is made per engine
round (not per event). Everything per model (rolling metric, traffic share), the labels (pending,
expired, evicted), drift statistics and the snapshot age are read at scrape time from the summary
the engine's owner task caches every ``metrics_interval`` seconds: a scrape never touches the
engine.
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
        stat = GaugeMetricFamily("stream_ml_drift_statistic", "Latest drift statistic",
                                 labels=["detector", "field"])  # fmt: skip
        thr = GaugeMetricFamily("stream_ml_drift_threshold", "Drift threshold",
                                labels=["detector", "field"])  # fmt: skip
        for d in s.get("drift") or []:
            lab = [str(d.get("detector")), str(d.get("field"))]
            for fam, name in ((stat, "statistic"), (thr, "threshold")):
                value = _num(d.get(name))
                if value is not None:
                    fam.add_metric(lab, value)
        yield stat
        yield thr
        alarms = CounterMetricFamily("stream_ml_drift_alarms", "Drift alarms seen",
                                     labels=["detector", "field"])  # fmt: skip
        for (det, field), n in (s.get("alarms") or {}).items():
            alarms.add_metric([str(det), str(field)], float(n))
        yield alarms
        age = s.get("snapshot_age")
        if age is not None:
            yield GaugeMetricFamily("stream_ml_snapshot_age_seconds", "Age of the latest snapshot",
                                    value=float(age))  # fmt: skip
