"""Card payments with fraud bursts; chargebacks arrive days later.

Payments come from :func:`stream_ml.features.fraud_stream.fraud_stream`: fraud comes in bursts
on compromised cards, at merchants the user never used, for larger amounts; a fraud's label
arrives as a chargeback 2 to 10 days after the payment, a legitimate payment "settles" after 14
days. Two models run side by side on the same engine, so on the same events and the same labels:

* ``raw`` sees the payment's amount only;
* ``windowed`` sees the engine's per-user windowed features: payments in the last hour and day,
  the user's mean amount over 30 days, how often the user paid this merchant before, and the
  merchant's fraud rate from the chargebacks that have arrived (a target aggregate).

Features are computed point-in-time (only earlier payments of the user) and stored with the
prediction, so the label that arrives days later trains on exactly what the model saw.

>>> sc = FraudScenario()
>>> msgs = list(sc.messages(300, seed=2))
>>> sum(m["kind"] == "observation" for m in msgs), sum(m["kind"] == "feedback" for m in msgs)
(300, 300)
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

from stream_ml.config import EngineConfig, parse_config
from stream_ml.features.fraud_stream import fraud_stream

DAY = 86400.0


class FraudScenario:
    """Windowed per-user features against the raw amount, labels days late (module docstring)."""

    name = "fraud"
    description = "card payments, fraud bursts, chargebacks days later: windowed features vs raw"
    default_events = 20_000

    def messages(self, n_events: int, seed: int) -> Iterator[dict[str, Any]]:
        due: list[tuple[float, int, str, bool]] = []
        for i, e in enumerate(fraud_stream(n_events=n_events, seed=seed)):
            while due and due[0][0] <= e["ts"]:
                ts, _, id, label = heapq.heappop(due)
                yield {"kind": "feedback", "id": id, "label": label, "ts": ts}
            yield {
                "kind": "observation",
                "id": e["id"],
                "key": e["user"],
                "ts": e["ts"],
                "features": {"user": e["user"], "merchant": e["merchant"], "amount": e["amount"]},
            }
            heapq.heappush(due, (e["label_ts"], i, e["id"], bool(e["is_fraud"])))
        while due:
            ts, _, id, label = heapq.heappop(due)
            yield {"kind": "feedback", "id": id, "label": label, "ts": ts}

    def ground_truth(self, n_events: int, seed: int) -> dict[str, Any]:
        events = list(fraud_stream(n_events=n_events, seed=seed))
        fraud = [e for e in events if e["is_fraud"]]
        delays = [(e["label_ts"] - e["ts"]) / DAY for e in events]
        return {
            "fraud_rate": len(fraud) / max(1, len(events)),
            "label_delay_days": {
                "min": min(delays),
                "max": max(delays),
                "mean": sum(delays) / len(delays),
            },
        }

    def engine_config(self, seed: int) -> EngineConfig:
        lr = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"
        return parse_config(
            {
                "name": self.name,
                "seed": seed,
                "models": {
                    "windowed": {"model": f"compose.Discard('user', 'merchant') | {lr}"},
                    "raw": {"model": f"compose.Select('amount') | {lr}"},
                },
                "evaluation": {"metrics": ["ROCAUC", "Accuracy"], "window": 2000},
                "labels": {"ttl": 20 * DAY},
                "features": {
                    "ttl": "30d",
                    "specs": [
                        {"agg": "count", "by": "user", "window": "1h"},
                        {"agg": "count", "by": "user", "window": "24h"},
                        {"agg": "mean", "on": "amount", "by": "user", "window": "30d"},
                        {"agg": "count", "by": ["user", "merchant"], "window": "all"},
                        {"agg": "target_mean", "by": "merchant", "prior": 0.04, "strength": 20.0},
                    ],
                },
            }
        )

    def report(self, summary: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
        models = summary["models"]
        auc = {name: m["metrics"]["ROCAUC"] for name, m in models.items()}
        return {
            "scenario": self.name,
            "truth": truth,
            "roc_auc": auc,
            "gain_from_windowed_features": auc["windowed"] - auc["raw"],
            "labels": summary["labels"],
        }
