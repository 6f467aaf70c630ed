"""Keys are not features: the stage leaves its ``by`` key fields out of what the models get,
unless ``keep_keys``; the label join still finds them (``FeatureRow.entity``)."""

from __future__ import annotations

import pickle
import re
import tomllib
from pathlib import Path

import pytest
from river import linear_model, preprocessing

from stream_ml import Engine
from stream_ml import features as F
from stream_ml.config import parse_config
from stream_ml.errors import MissingFieldError

README = Path(__file__).resolve().parents[2] / "README.md"
LR = "preprocessing.StandardScaler() | linear_model.LogisticRegression()"


def _specs() -> list[F.FeatureSpec]:
    return [
        F.Mean("amount", by="user", window="1h"),
        F.Count(by=["user", "merchant"], window="all"),
        F.TargetMean(by="merchant", prior=0.0, strength=1.0),
    ]


def _entity(row: dict) -> dict:
    assert isinstance(row, F.FeatureRow)
    return row.entity


def test_key_fields_are_left_out_and_held_aside() -> None:
    fs = F.FeatureSet(_specs())
    x = {"user": "u1", "merchant": "m9", "amount": 12.5, "hour": 3}
    out = fs.transform_one(x, 0.0)
    assert set(out) == {
        "amount",
        "hour",
        "count_all_by_user_merchant",
        "target_mean_all_by_merchant",
    }
    assert isinstance(out, F.FeatureRow) and out.entity == {"user": "u1", "merchant": "m9"}
    assert x == {"user": "u1", "merchant": "m9", "amount": 12.5, "hour": 3}  # input untouched
    assert type(dict(out)) is dict and dict(out) == out


def test_keep_keys_hands_the_keys_to_the_models_too() -> None:
    kept = F.FeatureSet(_specs(), keep_keys=True)
    dropped = F.FeatureSet(_specs())
    x = {"user": "u1", "merchant": "m9", "amount": 12.5}
    for t in (0.0, 10.0, 20.0):
        a, b = kept.transform_one(x, t), dropped.transform_one(x, t)
        assert type(a) is dict and a == {**b, "user": "u1", "merchant": "m9"}


def test_keep_keys_from_toml_both_shapes() -> None:
    table = tomllib.loads(
        '[features]\nkeep_keys = true\n[[features.specs]]\nagg = "count"\nby = "user"\n'
    )
    assert F.FeaturesConfig.from_toml_dict(table).keep_keys
    array = tomllib.loads(
        '[[features]]\nagg = "count"\nby = "user"\n[features.options]\nkeep_keys = true\n'
    )
    assert F.FeaturesConfig.from_toml_dict(array).keep_keys
    default = tomllib.loads('[[features]]\nagg = "count"\nby = "user"\n')
    assert not F.FeaturesConfig.from_toml_dict(default).keep_keys
    cfg = parse_config({"models": {"lr": {"model": LR}}, **table})
    out = Engine.from_config(cfg).features.transform_one({"user": "u"}, 0.0)  # type: ignore[union-attr]
    assert out == {"user": "u", "count_all_by_user": 0}


def test_learn_one_takes_the_output_or_the_event() -> None:
    fs = F.FeatureSet(_specs())
    out = fs.transform_one({"user": "u1", "merchant": "m9", "amount": 1.0}, 0.0)
    fs.learn_one(out, 0.0, 1)  # what the engine passes: the output the models saw
    fs.learn_one({"merchant": "m9"}, 0.0, 0)  # or the event's keys
    later = fs.transform_one({"user": "u2", "merchant": "m9", "amount": 1.0}, 10.0)
    assert later["target_mean_all_by_merchant"] == pytest.approx(1 / 3)  # (1 + 0 + prior 0) / 3
    with pytest.raises(MissingFieldError, match="not a copy") as info:
        fs.learn_one(dict(out), 0.0, 1)  # a plain copy has lost the keys
    assert info.value.field == "merchant"
    assert fs.stats()["labels"] == 2 and fs.stats()["errors"] == 1


def test_pickle_keeps_the_rule_and_the_held_keys() -> None:
    fs = F.FeatureSet(_specs())
    events = [({"user": f"u{i % 3}", "merchant": f"m{i % 2}", "amount": float(i)}, i * 60.0)
              for i in range(40)]  # fmt: skip
    whole = [fs.transform_one(x, t) for x, t in events]
    first = F.FeatureSet(_specs())
    out = [first.transform_one(x, t) for x, t in events[:20]]
    restored, row = pickle.loads(pickle.dumps((first, out[-1])))
    assert _entity(row) == _entity(out[-1]) and row == out[-1]
    out += [restored.transform_one(x, t) for x, t in events[20:]]
    assert out == whole and [_entity(o) for o in out] == [_entity(w) for w in whole]


def test_a_featureset_pickled_before_keep_keys_still_hands_its_keys_over() -> None:
    fs = F.FeatureSet([F.Count(by="user")])
    state = pickle.dumps(fs)
    old = pickle.loads(state)
    del old.__dict__["_key_fields"]  # what an older snapshot holds
    assert old.transform_one({"user": "u"}, 0.0) == {"user": "u", "count_all_by_user": 0}


def test_engine_models_never_see_the_key_and_the_target_join_works() -> None:
    fs = F.FeatureSet(_specs())
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    engine = Engine({"lr": model}, features=fs)
    for i in range(30):
        x = {"user": f"u{i % 4}", "merchant": f"m{i % 3}", "amount": float(i % 7)}
        engine.predict(x, id=str(i), ts=i * 60.0)
        if i >= 5:
            engine.learn(str(i - 5), i % 2 == 0)
    weights = model["LogisticRegression"].weights
    assert "user" not in weights and "merchant" not in weights and "amount" in weights
    assert fs.stats()["labels"] == 25
    assert engine.summary()["models"]["lr"]["learned"] == 25


def test_readme_featureset_example_runs_as_written() -> None:
    """The README's FeatureSet block (a string key ``user``, a River logistic regression) used
    to fail on its first label: ``TypeError: unsupported operand type(s) for -: 'str' and
    'float'``. It is run here from the README's own text."""
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)
    (code,) = [b for b in blocks if "F.FeatureSet(" in b]
    ns: dict = {"__name__": "readme"}
    exec(compile(code, f"{README}:FeatureSet example", "exec"), ns)
    engine = ns["engine"]
    assert engine.summary()["models"]["lr"]["learned"] >= 1
    assert engine.summary()["errors"]["total"] == 0
    assert "user" not in engine.model("lr")["LogisticRegression"].weights
