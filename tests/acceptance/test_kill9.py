"""Everything on, killed with SIGKILL at random points and resumed: nothing lost, nothing changed.

Every runtime that can resume is killed ``KILLS`` (3) times, at fractions of its uninterrupted
run's outputs drawn from ``random.Random(KILL_SEED)``, restarted each time (it resumes), then
run to the end; its outputs (as a set: re-written outputs must be the same outputs) and its
final digest must equal its uninterrupted run's (whose own equality with the embedded replay is
checked in ``test_everything_on``):

* the embedded replay (``stream-ml run`` with ``[snapshots]``: restores the newest snapshot and
  seeks the source);
* Bytewax with 1 and 2 workers (``--recovery DIR``: Bytewax's recovery partitions);
* the Redis consumer (its signed snapshot store; pending entries re-read after a restart).

``stream-ml serve`` is not here: it has no source offset to seek (clients send, it answers), so
a killed server cannot resume a stream; it restarts from its newest snapshot, which
``tests/serve/test_snapshots.py`` covers.

Both streams by default (``STREAM_ML_ACCEPTANCE_KILL_STREAMS`` and
``STREAM_ML_ACCEPTANCE_KILL_RUNTIMES`` narrow it); ``benchmarks/bench_acceptance_kills.py``
kills each runtime 20 times on the full weather stream.
"""

from __future__ import annotations

import os

import pytest

from tests.acceptance import gaps
from tests.acceptance.conftest import KILLED, KILLS, Runs, needs
from tests.acceptance.contract import compare
from tests.acceptance.runtimes import RESUMABLE, engine_parts_differ

pytestmark = pytest.mark.slow
KILL_STREAMS = os.environ.get("STREAM_ML_ACCEPTANCE_KILL_STREAMS", "weather,keyed").split(",")
KILL_RUNTIMES = os.environ.get("STREAM_ML_ACCEPTANCE_KILL_RUNTIMES", ",".join(RESUMABLE))
KILL_RUNTIMES = KILL_RUNTIMES.split(",")


@pytest.fixture(params=KILL_STREAMS)
def stream(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("runtime", gaps.params("kill_outputs", KILL_RUNTIMES))
@needs(("{runtime}", 0), ("{runtime}", KILLED))
def test_killed_and_resumed_same_outputs(runs: Runs, runtime: str, stream: str) -> None:
    killed, whole = runs.killed(runtime, stream), runs.get(runtime, stream)
    points = [(round(k.target, 2), k.outputs, k.killed) for k in killed.kills]
    assert killed.n_killed >= KILLS, f"only {killed.n_killed} kills landed: {points}"
    assert killed.kills[-1].outputs > 0, f"{runtime} wrote nothing"
    diff = compare(whole.outputs, killed.outputs, "uninterrupted", "killed")
    assert not diff, f"{runtime} on {stream}, kills at {points}: {diff}"


@pytest.mark.parametrize("runtime", gaps.params("kill_digest", KILL_RUNTIMES))
@needs(("{runtime}", 0), ("{runtime}", KILLED))
def test_killed_and_resumed_same_digest(runs: Runs, runtime: str, stream: str) -> None:
    killed, whole = runs.killed(runtime, stream), runs.get(runtime, stream)
    assert whole.digest is not None, f"{runtime}: {whole.no_digest}"
    assert killed.digest == whole.digest, (
        f"{runtime} on {stream}: {engine_parts_differ(whole, killed)}"
    )
