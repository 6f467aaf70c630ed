"""A Prequential pickled before the ring held one tuple per event (three parallel lists) loads
into the new ring and reports the same rolling values."""

from __future__ import annotations

from stream_ml.evaluation.prequential import Prequential


def test_an_old_three_list_state_loads_with_the_same_rolling_values() -> None:
    events = [(True, True, {True: 0.9, False: 0.1}), (True, False, {True: 0.4, False: 0.6}),
              (False, False, {True: 0.2, False: 0.8}), (True, True, {True: 0.7, False: 0.3})]  # fmt: skip
    new = Prequential(["Accuracy", "LogLoss"], window=3, is_classifier=True)
    for y, y_pred, proba in events:
        new.update(y, y_pred, proba)
    old_state = dict(new.__dict__)
    ring = old_state.pop("_ring")
    old_state["_ys"] = [e[0] if e else None for e in ring]
    old_state["_labels"] = [e[1] if e else None for e in ring]
    old_state["_probas"] = [e[2] if e else None for e in ring]
    loaded = Prequential.__new__(Prequential)
    loaded.__setstate__(old_state)
    assert loaded._ring == ring
    assert loaded.rolling() == new.rolling() and loaded.values() == new.values()
    loaded.update(False, True, {True: 0.6, False: 0.4})
    new.update(False, True, {True: 0.6, False: 0.4})
    assert loaded.rolling() == new.rolling()
