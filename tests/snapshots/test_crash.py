"""A writer process killed with SIGKILL at random moments never leaves the store unusable."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from stream_ml.snapshots import SnapshotStore, codec, state_digest
from tests.snapshots.conftest import KEY

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import random, sys
    from stream_ml.snapshots import SnapshotStore, state_digest
    path, key, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    store = SnapshotStore(path, key=key, keep_last=5)
    n = 0
    while True:
        n += 1
        blob = rng.randbytes(rng.choice([10, 3_000, 40_000, 200_000]))
        state = {"n": n, "blob": blob, "w": [rng.random() for _ in range(50)]}
        store.save(state, engine="crash", offset={"n": n}, events=n, event_time=float(n),
                   config_hash="c", metrics={"digest": state_digest(state)},
                   tags=("tagged",) if n % 7 == 0 else ())
        if n == 3:
            print("started", flush=True)
    """
)


SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    "seed", [11, 22, 33, *(pytest.param(s, marks=SLOW) for s in (44, 55, 66, 77, 88))]
)
def test_sigkill_at_random_times(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "crash.db"
    for _kill in range(2):  # kill, restart on the same file, kill again
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), KEY.decode(), str(rng.randrange(10**6))],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        try:
            assert proc.stdout.readline().strip() == "started"
            time.sleep(rng.uniform(0.0, 0.4))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
    with SnapshotStore(path, key=KEY) as store:
        recovered = store.latest_valid()
        assert recovered is not None and recovered.skipped == ()
        state, info = recovered.state, recovered.info
        assert isinstance(state, dict)
        assert info.events == state["n"] and info.offset == {"n": state["n"]}
        assert info.metrics["digest"] == state_digest(state)
        row_payload = store.db.execute(
            "SELECT payload FROM snapshots WHERE version = ?", [info.version]
        ).fetchone()[0]
        assert codec.sha256_hex(row_payload) == info.sha256
        for older in store.list():  # every surviving snapshot verifies
            assert store.load(older.version)[0]["n"] == older.events  # type: ignore[index]
