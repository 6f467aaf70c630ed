"""FeatureSet contract: errors change nothing, config == Python API, pickling, bounded state."""

from __future__ import annotations

import pickle
import random
import tomllib

import pytest

from stream_ml import features as F
from stream_ml.errors import ConfigError, EventError, MissingFieldError, NotANumberError

from .test_parity import SPECS, _check


def _stream(n: int, seed: int = 0, keys: int = 5) -> list[tuple[dict, float]]:
    rng = random.Random(seed)
    t = 0.0
    out = []
    for _ in range(n):
        t += rng.choice([0.0, 1.0, 2.0])
        late = rng.choice([0.0] * 8 + [3.0, 9.0])
        out.append(
            (
                {
                    "u": f"u{rng.randrange(keys)}",
                    "m": rng.choice(["m1", "m2"]),
                    "v": rng.randint(-20, 20) / 2,
                },
                t - late,
            )
        )
    return out


def _fs(**kw: object) -> F.FeatureSet:
    return F.FeatureSet(SPECS, allowed_lateness=5.0, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "ts", "exc", "field"),
    [
        ({"m": "m1", "v": 1.0}, 50.0, MissingFieldError, "u"),
        ({"u": "u1", "v": 1.0}, 50.0, MissingFieldError, "m"),
        ({"u": "u1", "m": "m1", "v": "12"}, 50.0, NotANumberError, "v"),
        ({"u": "u1", "m": "m1", "v": float("nan")}, 50.0, NotANumberError, "v"),
        ({"u": "u1", "m": "m1"}, 50.0, MissingFieldError, "v"),
        ({"u": "u1", "m": "m1", "v": 1.0}, "yesterday", F.FeatureTimestampError, "ts"),
    ],
)
def test_bad_event_is_typed_counted_and_changes_nothing(
    bad: dict, ts: object, exc: type, field: str
) -> None:
    events = _stream(60)
    fs, control = _fs(), _fs()
    for x, t in events[:40]:
        fs.transform_one(x, t)
        control.transform_one(x, t)
    with pytest.raises(exc) as info:
        fs.transform_one(bad, ts)
    err = info.value
    assert isinstance(err, EventError) and isinstance(err, F.FeatureEventError)
    assert err.field == field and err.feature in fs.names and err.feature in str(err)
    assert fs.stats()["errors"] == 1
    for x, t in events[40:]:
        assert fs.transform_one(x, t) == control.transform_one(x, t)
    a, b = fs.stats(), control.stats()
    assert a.pop("errors") == 1 and b.pop("errors") == 0
    assert a == b


def test_transform_does_not_mutate_input_and_reads_before_update() -> None:
    fs = F.FeatureSet([F.Count(by="u", window="1h"), F.Last("v", by="u")])
    x = {"u": "a", "v": 1.0}
    out = fs.transform_one(x, 0.0)
    assert x == {"u": "a", "v": 1.0} and out is not x
    assert out["count_1h_by_u"] == 0 and "v_last_all_by_u" not in out
    # same timestamp: the first event is not strictly before the second
    out = fs.transform_one({"u": "a", "v": 2.0}, 0.0)
    assert out["count_1h_by_u"] == 0
    out = fs.transform_one({"u": "a", "v": 3.0}, 1.0)
    assert out["count_1h_by_u"] == 2 and out["v_last_all_by_u"] == 2.0


TOML = """
[features]
allowed_lateness = "5s"
late_events = "include"
ttl = "1h"
max_keys = 1000

[[features.specs]]
name = "amount_mean_1h"
agg = "mean"
on = "amount"
by = "user"
window = "1h"

[[features.specs]]
name = "user_tx_count_24h"
agg = "count"
by = "user"
window = "24h"

[[features.specs]]
agg = "quantile"
on = "amount"
q = 0.9
by = ["user", "merchant"]
window = "100 events"
"""


def test_toml_and_python_build_the_same_featureset() -> None:
    cfg = F.FeaturesConfig.from_toml_dict(tomllib.loads(TOML))
    from_toml = F.FeatureSet.from_config(cfg)
    from_python = F.FeatureSet(
        [
            F.Mean("amount", by="user", window="1h", name="amount_mean_1h"),
            F.Count(by="user", window="24h", name="user_tx_count_24h"),
            F.Quantile("amount", 0.9, by=["user", "merchant"], window="100 events"),
        ],
        allowed_lateness="5s",
        late_events="include",
        ttl="1h",
        max_keys=1000,
    )
    assert from_toml.config == from_python.config
    rng = random.Random(3)
    for i in range(300):
        x = {"user": rng.choice("abc"), "merchant": rng.choice("xy"), "amount": rng.random()}
        t = i * 60.0 - rng.choice([0.0, 0.0, 30.0])
        assert from_toml.transform_one(x, t) == from_python.transform_one(x, t)


def test_issue_toml_shape_and_alternatives() -> None:
    issue_shape = """
[[features]]
agg = "count"
by = "user"
window = "24h"

[[features]]
name = "amount_mean_1h"
agg = "mean"
on = "amount"
by = "user"
window = "1h"

[features.options]
allowed_lateness = "5m"
late_events = "include"
"""
    # TOML attaches [features.options] to the last [[features]]: it is read as the options
    cfg = F.FeaturesConfig.from_toml_dict(tomllib.loads(issue_shape))
    assert cfg.allowed_lateness == 300.0 and cfg.late_events == "include"
    assert [s.name for s in cfg.specs] == ["count_24h_by_user", "amount_mean_1h"]
    ok = tomllib.loads(issue_shape.replace("[features.options]", "[feature_options]"))
    assert F.FeaturesConfig.from_toml_dict(ok) == cfg
    table = {
        "features": {
            "allowed_lateness": "5m",
            "late_events": "include",
            "specs": [s.model_dump() for s in cfg.specs],
        }
    }
    assert F.FeaturesConfig.from_toml_dict(table) == cfg
    misplaced = {
        "features": [{"agg": "count", "by": "u", "options": {}}, {"agg": "count", "by": "v"}]
    }
    with pytest.raises(ConfigError, match="after the last"):
        F.FeaturesConfig.from_toml_dict(misplaced)


@pytest.mark.parametrize(
    "spec",
    [
        {"agg": "mean", "on": "a", "by": "u", "window": "1 fortnight"},
        {"agg": "mean", "on": "a", "by": "u", "window": "-3h"},
        {"agg": "mean", "by": "u"},
        {"agg": "median", "on": "a", "by": "u"},
        {"agg": "max", "on": "a", "by": "u", "window": "decay 1h"},
        {"agg": "mean", "on": "a", "by": "u", "colour": "red"},
    ],
)
def test_bad_config_is_config_error(spec: dict) -> None:
    with pytest.raises(ConfigError):
        F.FeaturesConfig.from_toml_dict({"features": {"specs": [spec]}})


def test_duplicate_names_rejected() -> None:
    with pytest.raises(ConfigError, match="unique"):
        F.FeatureSet([F.Count(by="u"), F.Count(by="u")])


def test_pickle_mid_stream_continues_exactly() -> None:
    events = _stream(400, seed=5)
    whole = _fs(late_events="include", ttl=20.0)
    out_whole = [whole.transform_one(x, t) for x, t in events]
    first = _fs(late_events="include", ttl=20.0)
    out = [first.transform_one(x, t) for x, t in events[:200]]
    restored = pickle.loads(pickle.dumps(first))
    out += [restored.transform_one(x, t) for x, t in events[200:]]
    assert out == out_whole
    assert restored.stats() == whole.stats()


def test_long_random_logs_match_offline() -> None:
    for seed in range(2):
        for policy in ("drop", "include"):
            _check(_stream(500, seed=seed, keys=3), _fs(late_events=policy, ttl=15.0))


def test_late_policy_counts() -> None:
    fs = F.FeatureSet([F.Sum("v", by="u")], allowed_lateness=10.0, late_events="drop")
    fs.transform_one({"u": "a", "v": 1.0}, 100.0)
    fs.transform_one({"u": "a", "v": 2.0}, 95.0)  # out of order, within lateness
    out = fs.transform_one({"u": "a", "v": 4.0}, 80.0)  # too late: dropped
    assert out["v_sum_all_by_u"] == 0.0
    assert fs.transform_one({"u": "a", "v": 0.0}, 101.0)["v_sum_all_by_u"] == 3.0
    s = fs.stats()
    assert (s["late"], s["late_dropped"], s["out_of_order"]) == (1, 1, 1)


def test_ttl_keeps_memory_flat_and_counts_evictions() -> None:
    fs = F.FeatureSet([F.Mean("v", by="u", window="10s")], ttl="60s")
    sizes = []
    for i in range(20_000):
        fs.transform_one({"u": f"user{i}", "v": 1.0}, float(i))  # every key is new
        if i % 2000 == 1999:
            sizes.append(fs.stats()["keys"])
    assert max(sizes) <= 60 + 1024 + 1
    assert fs.stats()["evictions_ttl"] >= 20_000 - max(sizes)


def test_max_keys_evicts_least_recently_seen() -> None:
    fs = F.FeatureSet([F.Count(by="u")], max_keys=2)
    fs.transform_one({"u": "a"}, 0.0)
    fs.transform_one({"u": "b"}, 1.0)
    fs.transform_one({"u": "a"}, 2.0)
    fs.transform_one({"u": "c"}, 3.0)  # evicts b, the least recently seen
    assert fs.transform_one({"u": "a"}, 4.0)["count_all_by_u"] == 2
    assert fs.transform_one({"u": "b"}, 5.0)["count_all_by_u"] == 0
    assert fs.stats()["evictions_lru"] == 2 and fs.stats()["keys"] == 2


def test_target_mean_uses_only_arrived_labels() -> None:
    fs = F.FeatureSet([F.TargetMean(by="merchant")])
    x = {"merchant": "m"}
    assert "target_mean_all_by_merchant" not in fs.transform_one(x, 0.0)
    assert "target_mean_all_by_merchant" not in fs.transform_one(x, 10.0)
    fs.learn_one(x, 0.0, True)
    assert fs.transform_one(x, 20.0)["target_mean_all_by_merchant"] == 1.0
    fs.learn_one(x, 10.0, 0)
    assert fs.transform_one(x, 30.0)["target_mean_all_by_merchant"] == 0.5
    with pytest.raises(NotANumberError):
        fs.learn_one(x, 10.0, "fraud")
    assert fs.stats()["labels"] == 2


def test_distinct_and_quantile_all_time_switch_to_sketches() -> None:
    fs = F.FeatureSet(
        [F.DistinctCount("card", by="u", bound=50), F.Quantile("v", 0.5, by="u", bound=50)]
    )
    for i in range(5000):
        out = fs.transform_one({"u": "a", "card": i % 1000, "v": float(i % 100)}, float(i))
    assert abs(out["card_distinct_all_by_u"] - 1000) / 1000 < 0.05
    assert 35 < out["v_quantile50_all_by_u"] < 65
