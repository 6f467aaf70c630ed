"""Key fields: a feature can group by the record's key column.

Before, the row decoder took the source's ``key`` column out of the fields, so a feature with
``by`` on that column failed every row with "the entity key is missing". Now the config marks
the source (``keep_key``) when a feature groups by its key, the decoder leaves the column among
the fields, and the feature stage keeps it away from the models (its ``keep_keys`` rule).
"""

from __future__ import annotations

from river import linear_model

from connectors import IterableSource, RowDecoder
from stream_ml import Engine
from stream_ml import features as F
from stream_ml.config import parse_config
from stream_ml.runtime.build import build_source, run_config
from stream_ml.runtime.replay import Replay

LR = {"lr": {"model": "linear_model.LogisticRegression()"}}


def rows(n: int = 300) -> list[dict[str, str]]:
    # store s0 buys big and is fraud; the others not: only the per-store mean can tell
    out = []
    for i in range(n):
        store = f"s{i % 3}"
        amount = 100.0 + (i % 5) if store == "s0" else 10.0 + (i % 5)
        out.append({"store": store, "amount": str(amount), "y": str(store == "s0").lower()})
    return out


def source(key="store", features=None, **extra):
    data = {"source": {"kind": "csv", "path": "x.csv", "target": "y", "key": key}, "models": LR}
    if features is not None:
        data["features"] = features
    data.update(extra)
    return parse_config(data).source


MEAN = [{"name": "store_mean", "agg": "mean", "on": "amount", "by": "store"}]


def test_config_keeps_the_key_when_a_feature_groups_by_it():
    assert source(features=MEAN).keep_key
    assert not source(features=[{**MEAN[0], "by": "user"}]).keep_key
    assert not source().keep_key
    assert source(features={"specs": MEAN, "ttl": "1d"}).keep_key  # the [features] table form
    two = [{"agg": "count", "by": ["store", "user"]}]
    assert source(features=two).keep_key  # one of several key fields
    # the digest of a config is unchanged by it (derived, not a setting)
    plain = parse_config({"source": {"kind": "csv", "path": "x.csv", "key": "store"},
                          "models": LR})  # fmt: skip
    assert "keep_key" not in plain.model_dump(mode="json")["source"]


class Seen(linear_model.LogisticRegression):
    """A logistic regression that remembers which fields it was given."""

    def __init__(self):
        super().__init__()
        self.fields: set[str] = set()

    def learn_one(self, x, y, **kw):
        self.fields |= set(x)
        return super().learn_one(x, y, **kw)


def test_a_feature_groups_by_the_record_key_and_the_models_never_see_it():
    data = rows()
    decoder = RowDecoder(target="y", target_type="bool", key="store", keep_key=True)
    fs = F.FeatureSet([F.Mean("amount", by="store", name="store_mean")])
    model = Seen()
    replay = Replay(Engine({"lr": model}, features=fs), IterableSource(data), decoder)
    s = replay.run()
    assert s["errors"]["total"] == 0 and s["events"] == len(data)
    assert model.fields == {"amount", "store_mean"}  # the key column grouped, never learned
    preds = replay.engine.summary()["models"]["lr"]
    assert preds["learned"] == len(data)
    # the record's key still names the prediction's key
    out: list = []
    replay.driver.apply(999, decoder.decode({"store": "s1", "amount": "12", "y": "false"}), out)
    assert out[0].key == "s1"


def test_without_keep_key_the_key_column_is_not_a_field():
    decoder = RowDecoder(target="y", target_type="bool", key="store")
    x, _, _, key, _ = decoder.decode({"store": "s1", "amount": "12", "y": "false"})
    assert x == {"amount": 12.0} and key == "s1"


def test_a_csv_config_with_a_feature_by_its_key_runs(tmp_path):
    path = tmp_path / "stores.csv"
    data = rows()
    path.write_text("store,amount,y\n" + "".join(f"{r['store']},{r['amount']},{r['y']}\n"
                                                for r in data))  # fmt: skip
    cfg = parse_config(
        {
            "source": {"kind": "csv", "path": str(path), "target": "y", "key": "store"},
            "models": LR,
            "features": MEAN,
        }
    )
    _, decoder = build_source(cfg.source)
    assert decoder.keep_key
    s = run_config(cfg)
    assert s["errors"]["total"] == 0 and s["events"] == len(data)
