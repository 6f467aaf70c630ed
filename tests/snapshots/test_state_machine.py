"""Stateful property test: latest_valid is always the newest uncorrupted surviving snapshot."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from stream_ml.errors import SnapshotCorrupt
from stream_ml.snapshots import SnapshotStore
from tests.snapshots.conftest import KEY, edit_payload, read_row, save


class StoreMachine(RuleBasedStateMachine):
    @initialize()
    def open_store(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="snapsm-"))
        self.path = self.dir / "s.db"
        self.store = SnapshotStore(self.path, key=KEY)
        self.states: dict[int, object] = {}  # surviving versions -> state
        self.tagged: set[int] = set()
        self.corrupt: set[int] = set()

    @rule(state=st.dictionaries(st.text(max_size=3), st.integers() | st.floats(allow_nan=False)))
    def save(self, state: dict[str, object]) -> None:
        version = save(self.store, state, len(self.states) + 1)
        assert all(version > v for v in self.states)
        self.states[version] = state

    @precondition(lambda self: self.states)
    @rule(data=st.data())
    def tag(self, data: st.DataObject) -> None:
        version = data.draw(st.sampled_from(sorted(self.states)))
        self.store.tag(version, "t")
        self.tagged.add(version)

    @precondition(lambda self: self.states)
    @rule(keep=st.integers(1, 4))
    def prune(self, keep: int) -> None:
        newest = sorted(self.states)[-keep:]
        expected = sorted(v for v in self.states if v not in newest and v not in self.tagged)
        assert self.store.prune(keep) == expected
        for v in expected:
            del self.states[v]

    @precondition(lambda self: set(self.states) - self.corrupt)
    @rule(where=st.floats(0, 1), how=st.sampled_from(["flip", "cut"]))
    def corrupt_latest(self, where: float, how: str) -> None:
        """Damage the newest snapshot that is still intact (flip one bit, or cut the tail)."""
        latest = max(set(self.states) - self.corrupt)
        payload = bytearray(read_row(self.path, latest)["payload"])
        i = min(int(where * len(payload)), len(payload) - 1)
        if how == "flip":
            payload[i] ^= 0x10
        else:
            del payload[i:]
        edit_payload(self.path, latest, bytes(payload))
        self.corrupt.add(latest)

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = SnapshotStore(self.path, key=KEY)

    @invariant()
    def latest_valid_is_newest_uncorrupted(self) -> None:
        if not hasattr(self, "store"):
            return
        good = [v for v in self.states if v not in self.corrupt]
        try:
            recovered = self.store.latest_valid()
        except SnapshotCorrupt:
            assert self.states and not good
            return
        if not self.states:
            assert recovered is None
            return
        assert recovered is not None
        assert recovered.info.version == max(good)
        assert recovered.state == self.states[max(good)]
        skipped = sorted(v for v in self.states if v > max(good))
        assert sorted(s.version for s in recovered.skipped) == skipped

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.close()
            shutil.rmtree(self.dir, ignore_errors=True)


StoreMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=15, deadline=None, derandomize=True
)
TestStoreMachine = StoreMachine.TestCase
