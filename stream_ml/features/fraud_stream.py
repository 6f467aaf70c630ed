"""A seeded card-payment stream with fraud bursts and chargebacks that arrive days later.

Each user has a typical amount (log-normal) and a few favourite merchants. Legitimate payments go
mostly to the favourites. A compromised card produces a *burst*: several payments within minutes,
at merchants the user never used (drawn from a set of risky merchants), for larger amounts. Labels
arrive late: a fraud as a chargeback 2 to 10 days after the payment, a legitimate payment as
"settled" 14 days after it. Per-user windowed features (payments in the last hour, amount against
the user's usual amount, a merchant never seen for that user) separate the two far better than
the raw amount does, which is what the scenario is for.

Every event is a dict, yielded in event-time order::

    {"id": "tx17", "ts": 12345.6, "user": "u3", "merchant": "m41", "amount": 23.1,
     "is_fraud": False, "label_ts": 1221945.6}

>>> events = list(fraud_stream(n_events=2000, seed=1))
>>> len(events), all(a["ts"] <= b["ts"] for a, b in zip(events, events[1:]))
(2000, True)
>>> 0.01 < sum(e["is_fraud"] for e in events) / len(events) < 0.1
True
>>> min(e["label_ts"] - e["ts"] for e in events if e["is_fraud"]) >= 2 * 86400
True
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

DAY = 86400.0


def fraud_stream(
    n_events: int = 20_000,
    *,
    n_users: int = 400,
    n_merchants: int = 300,
    days: float = 30.0,
    fraud_share: float = 0.04,
    seed: int = 0,
) -> Iterator[dict[str, Any]]:
    """Yield ``n_events`` payments in event-time order (see the module docstring)."""
    rng = np.random.default_rng(seed)
    span = days * DAY
    user_mu = rng.normal(3.2, 0.8, n_users)
    user_weight = rng.gamma(2.0, 1.0, n_users)
    user_weight /= user_weight.sum()
    n_risky = max(n_merchants // 5, 1)
    safe = np.arange(n_risky, n_merchants)
    favourites = rng.choice(safe, size=(n_users, 5))

    n_fraud_target = int(n_events * fraud_share)
    bursts: list[np.ndarray] = []
    n_fraud = 0
    while n_fraud < n_fraud_target:
        k = min(int(rng.integers(3, 9)), n_fraud_target - n_fraud)
        bursts.append(np.full(k, rng.integers(n_users)))
        n_fraud += k
    n_legit = n_events - n_fraud

    users = rng.choice(n_users, size=n_legit, p=user_weight)
    ts = rng.uniform(0.0, span, n_legit)
    fav = rng.random(n_legit) < 0.85
    merchants = np.where(
        fav, favourites[users, rng.integers(0, 5, n_legit)], rng.integers(0, n_merchants, n_legit)
    )
    amounts = np.exp(rng.normal(user_mu[users], 0.45))
    fraud = np.zeros(n_legit, dtype=bool)

    f_users, f_ts, f_merch, f_amt = [], [], [], []
    for burst in bursts:
        start = rng.uniform(0.0, span)
        gaps = rng.exponential(240.0, burst.size)
        f_users.append(burst)
        f_ts.append(start + np.cumsum(gaps))
        f_merch.append(rng.integers(0, n_risky, burst.size))
        f_amt.append(np.exp(rng.normal(user_mu[burst] + 0.9, 0.6)))
    if bursts:
        users = np.concatenate([users, *f_users])
        ts = np.concatenate([ts, *f_ts])
        merchants = np.concatenate([merchants, *f_merch])
        amounts = np.concatenate([amounts, *f_amt])
        fraud = np.concatenate([fraud, np.ones(n_fraud, dtype=bool)])
    delay = np.where(fraud, rng.uniform(2 * DAY, 10 * DAY, fraud.size), 14 * DAY)
    order = np.argsort(ts, kind="stable")
    for i, j in enumerate(order):
        yield {
            "id": f"tx{i}",
            "ts": float(ts[j]),
            "user": f"u{users[j]}",
            "merchant": f"m{merchants[j]}",
            "amount": round(float(amounts[j]), 2),
            "is_fraud": bool(fraud[j]),
            "label_ts": float(ts[j] + delay[j]),
        }
