"""``FeatureSet``: the streaming feature stage (per-key windowed aggregates in event time).

**Point in time.** The features attached to event ``e`` (key k, time t) are computed from the
events of key k that *arrived before e* (earlier in the log) and have ``ts < t`` (strictly), and
then ``e`` updates the state. "Arrived before" is what makes the values reproducible from the log
order and the timestamps alone (:func:`~stream_ml.features.offline.compute_offline`); an event
that arrives later with an earlier timestamp changes the features of later events only.

**Watermark.** ``G`` is the largest event time accepted so far, the watermark ``G -
allowed_lateness``. An event at ``t >= watermark`` is placed exactly, even when out of order. An
event with ``t < watermark`` is *late*: it is counted, and with ``late_events="drop"`` it changes
nothing (its features are read from the retained state: they can miss events already forgotten);
with ``"include"`` it is inserted at its place like any other event.

**Bounded state.** With ``ttl``, a key unseen for ``ttl`` of event time (its newest event is
older than ``G - ttl``) is forgotten: exactly as if checked on every access, and swept
periodically so memory stays flat. With ``max_keys``, a new key beyond the bound evicts the least
recently seen key of that entity. Both are counted in :meth:`FeatureSet.stats`.

**Keys are not features.** The output leaves out the ``by`` key fields of the specs (an entity
key such as ``"user"`` is an identifier, often a string, not a model input), as if the models
began with ``compose.Discard(...)`` of them. It is a :class:`FeatureRow`: a dict whose ``entity``
attribute holds the key values, so :meth:`FeatureSet.learn_one` given that output still finds the
keys its target aggregates need. ``keep_keys=True`` hands the key fields to the models as well.

>>> from stream_ml import features as F
>>> fs = F.FeatureSet([F.Mean("amount", by="user", window="1h"),
...                    F.Count(by="user", window="1h")])
>>> fs.transform_one({"user": "u1", "amount": 10.0}, 0.0)
{'amount': 10.0, 'count_1h_by_user': 0}
>>> out = fs.transform_one({"user": "u1", "amount": 30.0}, 60.0)
>>> out, out.entity
({'amount': 30.0, 'amount_mean_1h_by_user': 10.0, 'count_1h_by_user': 1}, {'user': 'u1'})
>>> fs.transform_one({"user": "u1", "amount": "x"}, 120.0)
Traceback (most recent call last):
...
stream_ml.features.errors.FeatureValueNotNumeric: field 'amount': feature ...
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Literal

from stream_ml.errors import EventError
from stream_ml.events import parse_timestamp
from stream_ml.features.aggregates.target import get_target_mean
from stream_ml.features.config import FeaturesConfig
from stream_ml.features.errors import (
    FeatureKeyMissing,
    FeatureTimestampError,
    FeatureValueNotNumeric,
)
from stream_ml.features.plan import Entity, compile_specs, target_state
from stream_ml.features.specs import NUMERIC, FeatureSpec

_SWEEP_EVERY = 1024
_LEARN_HINT = (
    " (transform_one leaves the key fields out of its output: pass the event, or that output"
    " unchanged, not a copy)"
)
_MISSING = object()


class FeatureRow(dict[str, Any]):
    """What :meth:`FeatureSet.transform_one` returns: the event's fields without its key
    fields, plus the features; ``entity`` holds the key field values (the models do not see
    them; :meth:`FeatureSet.learn_one` reads them). ``dict(row)`` is a plain copy without them.

    >>> row = FeatureRow({"amount": 1.0})
    >>> row.entity = {"user": "u1"}
    >>> import pickle
    >>> again = pickle.loads(pickle.dumps(row))
    >>> again == {"amount": 1.0}, again.entity
    (True, {'user': 'u1'})
    """

    __slots__ = ("entity",)
    entity: dict[str, Any]


class _KeyState:
    __slots__ = ("last", "targets", "windows")

    def __init__(self, ent: Entity) -> None:
        self.last = -math.inf
        self.windows = [g.new_window() for g in ent.groups]
        self.targets = [target_state(p) for _, p, _ in ent.targets]


class FeatureSet:
    """The feature stage: ``transform_one`` (features, then update) and ``learn_one`` (labels).

    Parameters: the feature specs (``F.Mean(...)`` and friends), ``allowed_lateness`` (a
    duration), ``late_events`` (``"drop"`` or ``"include"``), ``ttl`` (a duration or None),
    ``max_keys`` (per entity, or None) and ``keep_keys`` (False: the ``by`` key fields are left
    out of the output, see the module docstring). ``FeatureSet.from_config(cfg)`` builds the same
    object from a :class:`FeaturesConfig`.

    Windows (see :mod:`~stream_ml.features.windows`): ``"1h"`` sliding, ``"100 events"``,
    ``"tumbling 1h"``, ``"decay 1h"``, ``"session 30m"`` and ``"all"``. A session window holds
    the earlier events of t's session: t joins the latest earlier event's session when
    ``t - last_ts < gap`` (else the window is empty); out-of-order events can merge sessions
    (see :mod:`~stream_ml.features.session`).

    Examples
    --------
    >>> from stream_ml import features as F
    >>> fs = F.FeatureSet([F.Max("amount", by="user", window="2 events"),
    ...                    F.TargetMean(by="merchant", prior=0.0, strength=1.0)],
    ...                   allowed_lateness="1m")
    >>> for t, amt in [(0.0, 5.0), (10.0, 7.0), (20.0, 1.0)]:
    ...     _ = fs.transform_one({"user": "u", "merchant": "m", "amount": amt}, t)
    >>> fs.learn_one({"user": "u", "merchant": "m"}, 0.0, 1)
    >>> out = fs.transform_one({"user": "u", "merchant": "m", "amount": 2.0}, 30.0)
    >>> out["amount_max_2_events_by_user"], out["target_mean_all_by_merchant"]
    (7.0, 0.5)
    >>> fs.stats()["keys"]
    2
    >>> sorted(out)
    ['amount', 'amount_max_2_events_by_user', 'target_mean_all_by_merchant']
    >>> out.entity
    {'user': 'u', 'merchant': 'm'}
    >>> keep = F.FeatureSet([F.Count(by="user")], keep_keys=True)
    >>> keep.transform_one({"user": "u", "amount": 2.0}, 0.0)
    {'user': 'u', 'amount': 2.0, 'count_all_by_user': 0}
    >>> fs = F.FeatureSet([F.Count(by="user", window="session 30m")], allowed_lateness="1h")
    >>> [fs.transform_one({"user": "u"}, t)["count_session_30m_by_user"]
    ...  for t in (0.0, 600.0, 4000.0, 5000.0, 2300.0, 5100.0)]
    [0, 1, 0, 1, 2, 5]
    """

    # The key fields left out of the output. A FeatureSet pickled before ``keep_keys`` existed
    # has no such attribute and goes on handing its keys to the models, as it did.
    _key_fields: tuple[str, ...] = ()

    def __init__(
        self,
        specs: Iterable[FeatureSpec] = (),
        *,
        allowed_lateness: str | float = 0.0,
        late_events: Literal["drop", "include"] = "drop",
        ttl: str | float | None = None,
        max_keys: int | None = None,
        keep_keys: bool = False,
    ) -> None:
        cfg = FeaturesConfig.build(
            {
                "specs": tuple(specs),
                "allowed_lateness": allowed_lateness,
                "late_events": late_events,
                "ttl": ttl,
                "max_keys": max_keys,
                "keep_keys": keep_keys,
            }
        )
        self._setup(cfg)

    @classmethod
    def from_config(cls, config: FeaturesConfig) -> FeatureSet:
        """Build from a :class:`FeaturesConfig` (e.g. the engine's ``[features]`` table)."""
        fs = cls.__new__(cls)
        fs._setup(config)
        return fs

    def _setup(self, cfg: FeaturesConfig) -> None:
        self.config = cfg
        self._lateness = cfg.allowed_lateness
        self._drop = cfg.late_events == "drop"
        self._ttl = cfg.ttl
        self._max_keys = cfg.max_keys
        self._entities = compile_specs(cfg.specs, cfg.allowed_lateness)
        self._tables: list[OrderedDict[Any, _KeyState]] = [OrderedDict() for _ in self._entities]
        self._has_targets = any(e.targets for e in self._entities)
        checks: dict[str, tuple[str, bool]] = {}
        for spec in cfg.specs:
            if spec.on and spec.on not in checks:
                checks[spec.on] = (spec.name, spec.agg in NUMERIC)
            elif spec.on and spec.agg in NUMERIC and not checks[spec.on][1]:
                checks[spec.on] = (spec.name, True)
        self._checks = tuple((f, n, num) for f, (n, num) in checks.items())
        self._getters = [[tuple(g.fields) for g in e.groups] for e in self._entities]
        if not cfg.keep_keys:
            self._key_fields = tuple(dict.fromkeys(f for s in cfg.specs for f in s.by))
        self._G = -math.inf
        self._counts = dict.fromkeys(
            (
                "events",
                "errors",
                "late",
                "late_dropped",
                "late_included",
                "out_of_order",
                "evictions_ttl",
                "evictions_lru",
                "labels",
            ),
            0,
        )
        self._since_sweep = 0

    @property
    def names(self) -> list[str]:
        """The output feature names, in spec order."""
        return [s.name for s in self.config.specs]

    # -- validation (nothing is mutated before all of it passed) ------------------------------

    def _fail(self, exc: EventError) -> EventError:
        self._counts["errors"] += 1
        return exc

    def _time(self, ts: Any) -> float:
        if type(ts) is float and ts - ts == 0.0:
            return ts
        try:
            return parse_timestamp(ts)
        except EventError as exc:
            name = self.config.specs[0].name if self.config.specs else "<none>"
            raise self._fail(FeatureTimestampError(name, "ts", exc.reason)) from exc

    def _keys(self, x: dict, targets_only: bool = False, hint: str = "") -> list[Any]:
        keys: list[Any] = []
        for ent in self._entities:
            if targets_only and not ent.targets:
                keys.append(None)
                continue
            by = ent.by
            if len(by) == 1:
                k = x.get(by[0])
                if k is None:
                    reason = "the entity key is missing" + hint
                    raise self._fail(FeatureKeyMissing(ent.first_feature, by[0], reason))
            else:
                k = tuple(x.get(f) for f in by)
                if None in k:
                    f = by[k.index(None)]
                    reason = "the entity key is missing" + hint
                    raise self._fail(FeatureKeyMissing(ent.first_feature, f, reason))
            try:
                hash(k)
            except TypeError as exc:
                raise self._fail(
                    FeatureKeyMissing(ent.first_feature, by[0], f"unhashable key {k!r}")
                ) from exc
            keys.append(k)
        return keys

    def _check_fields(self, x: dict) -> None:
        for field, name, numeric in self._checks:
            v = x.get(field, _MISSING)
            if v is _MISSING or v is None:
                raise self._fail(FeatureKeyMissing(name, field, "the field is missing"))
            if numeric:
                tv = type(v)
                if tv is float or tv is int:
                    if v - v == 0:
                        continue
                elif isinstance(v, int | float) and v - v == 0:
                    continue
                raise self._fail(FeatureValueNotNumeric(name, field, f"not a finite number: {v!r}"))

    # -- the hot path -------------------------------------------------------------------------

    def _lookup(self, ei: int, key: Any, G: float) -> _KeyState:
        table = self._tables[ei]
        ks = table.get(key)
        if ks is not None:
            if self._ttl is not None and ks.last < G - self._ttl:
                del table[key]
                self._counts["evictions_ttl"] += 1
            else:
                table.move_to_end(key)
                return ks
        if self._max_keys is not None and len(table) >= self._max_keys:
            table.popitem(last=False)
            self._counts["evictions_lru"] += 1
        ks = table[key] = _KeyState(self._entities[ei])
        return ks

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_plan", None)  # compiled from the rest (transform_one): not state
        return state

    def _compile(self) -> tuple:
        """The hot path's view of the plan, per entity: its index, table, single key field (None
        for a compound key), its groups (the row's single field or None, the row's fields,
        the features to read) and whether it has targets. Holds no state of its own."""
        plan = []
        for ei, ent in enumerate(self._entities):
            groups = tuple(
                (fields[0] if len(fields) == 1 else None, fields, tuple(g.feats))
                for g, fields in zip(ent.groups, self._getters[ei], strict=True)
            )
            single = ent.by[0] if len(ent.by) == 1 else None
            plan.append((ei, self._tables[ei], single, groups, bool(ent.targets), ent))
        checks = tuple((f, numeric) for f, _, numeric in self._checks)
        self._plan = (tuple(plan), checks)
        return self._plan

    def transform_one(self, x: dict, ts: Any) -> dict:
        """Return a new dict: ``x`` plus the features at ``ts``; then add the event to the state.

        Without ``keep_keys`` the ``by`` key fields are left out of it: it is a
        :class:`FeatureRow` whose ``entity`` holds them.

        Raises a :class:`~stream_ml.features.errors.FeatureEventError` (and changes nothing) for
        a missing key or field, a non-numeric value for a numeric aggregate or a bad timestamp.
        """
        t = ts if type(ts) is float and ts - ts == 0.0 else self._time(ts)
        plan, checks = self.__dict__.get("_plan") or self._compile()
        # validation first (nothing changes before all of it passed): the usual keys (str or
        # int, one field) and values (finite float or int) are checked here, anything else by
        # _keys / _check_fields, which name what is wrong
        keys = []
        for _, _, single, _, _, _ in plan:
            k = x.get(single) if single is not None else None
            tk = type(k)
            if tk is not str and tk is not int:
                keys = self._keys(x)
                break
            keys.append(k)
        for field, numeric in checks:
            v = x.get(field)
            tv = type(v)
            if tv is float or tv is int:
                if not numeric or v - v == 0:
                    continue
            elif v is not None and not numeric:
                continue
            self._check_fields(x)
            break
        drop = self._key_fields
        out: dict
        if drop:
            out = keyless = FeatureRow(x)
            if len(drop) == 1:
                f = drop[0]
                keyless.entity = {f: keyless.pop(f)}
            else:
                keyless.entity = {f: keyless.pop(f) for f in drop}
        else:
            out = dict(x)
        G = self._G
        wm = G - self._lateness
        counts = self._counts
        counts["events"] += 1
        if t < wm:
            counts["late"] += 1
            if self._drop:
                counts["late_dropped"] += 1
                self._peek(x, keys, t, G, out)
                return out
            counts["late_included"] += 1
        elif t < G:
            counts["out_of_order"] += 1
        ttl = self._ttl
        for (ei, table, _, groups, targets, ent), key in zip(plan, keys, strict=True):
            ks = table.get(key)
            if ks is None or (ttl is not None and ks.last < G - ttl):
                ks = self._lookup(ei, key, G)
            else:
                table.move_to_end(key)
            for (f0, fields, feats), w in zip(groups, ks.windows, strict=True):
                row = (x[f0],) if f0 is not None else tuple([x[f] for f in fields])
                states = w.observe(t, row, wm)
                for name, si, getter, default in feats:
                    v = getter(states[si], t)
                    if v is None:
                        if default is None:
                            continue
                        v = default
                    out[name] = v
            if targets:
                self._read_targets(ent, ks, t, out)
            if t > ks.last:
                ks.last = t
        if t > G:
            self._G = t
        if ttl is not None:
            self._since_sweep += 1
            if self._since_sweep >= _SWEEP_EVERY:
                self.sweep()
        return out

    def _read_targets(self, ent: Entity, ks: _KeyState | None, t: float, out: dict) -> None:
        for i, (name, param, default) in enumerate(ent.targets):
            st = ks.targets[i] if ks is not None else target_state(param)
            v = get_target_mean(st, t)
            if v is None:
                v = default
            if v is not None:
                out[name] = v

    def _peek(self, x: dict, keys: list[Any], t: float, G: float, out: dict) -> None:
        """Features of a dropped late event, read-only."""
        for ei, ent in enumerate(self._entities):
            ks = self._tables[ei].get(keys[ei])
            if ks is not None and self._ttl is not None and ks.last < G - self._ttl:
                ks = None
            for gi, g in enumerate(ent.groups):
                states = ks.windows[gi].peek(t) if ks is not None else g.make_states()
                g.read(states, t, out)
            if ent.targets:
                self._read_targets(ent, ks, t, out)

    def learn_one(self, x: dict, ts: Any, y: Any) -> None:
        """Feedback for the observation ``x`` at event time ``ts``: update target aggregates.

        ``x`` is the event, or what :meth:`transform_one` returned for it (a
        :class:`FeatureRow`, whose ``entity`` has the key fields its features left out).
        """
        if not self._has_targets:
            return
        t = self._time(ts)
        tv = type(y)
        numeric = tv is int or tv is float or tv is bool or isinstance(y, int | float)
        if not numeric or y - y != 0:
            name = next(n for e in self._entities for n, _, _ in e.targets)
            raise self._fail(FeatureValueNotNumeric(name, "y", f"not a numeric label: {y!r}"))
        entity = getattr(x, "entity", None)
        if entity is not None:
            keys = self._keys(entity, targets_only=True)
        else:
            keys = self._keys(x, targets_only=True, hint=_LEARN_HINT)
        row = (y,)
        for ei, ent in enumerate(self._entities):
            if not ent.targets:
                continue
            ks = self._lookup(ei, keys[ei], self._G)
            for st in ks.targets:
                st.update(row, t)
        self._counts["labels"] += 1

    def sweep(self) -> None:
        """Forget keys unseen for ``ttl`` of event time (oldest-seen first; bounded work)."""
        self._since_sweep = 0
        if self._ttl is None:
            return
        horizon = self._G - self._ttl
        for table in self._tables:
            while table:
                key, ks = next(iter(table.items()))
                if ks.last >= horizon:
                    break
                del table[key]
                self._counts["evictions_ttl"] += 1

    def stats(self) -> dict[str, int]:
        """Counters: events, errors, late (dropped / included), out of order, evictions, keys."""
        out = dict(self._counts)
        out["keys"] = sum(len(t) for t in self._tables)
        return out

    def __repr__(self) -> str:
        return f"FeatureSet({self.names!r})"
