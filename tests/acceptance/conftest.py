"""Fixtures of the acceptance suite: the streams, and every run made once per session.

A run is expensive (a real process over thousands of messages) and many tests look at the same
run (its kinds, its outputs against the replay's, its digest), so :class:`Runs` makes each
``(runtime, stream, index)`` run once per session. Each test declares the runs it reads with
:func:`needs`; after collection the session starts them all, ``STREAM_ML_ACCEPTANCE_JOBS`` (2)
at a time, in the order the tests need them (uninterrupted runs before the killed runs, which
compare with them), and a test waits only for its own.

Sizes: ``STREAM_ML_ACCEPTANCE_ROWS`` (default 3000 rows per stream, 6000 messages) keeps the
suite within about three minutes on two cores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.acceptance import runtimes as rt
from tests.acceptance.contract import write_config
from tests.acceptance.streams import keyed_messages, weather_messages, write_jsonl
from tests.conftest import require_service

ROWS = int(os.environ.get("STREAM_ML_ACCEPTANCE_ROWS", "3000"))
JOBS = int(os.environ.get("STREAM_ML_ACCEPTANCE_JOBS", "2"))
STREAMS = ("weather", "keyed")
KILLS = 3  # per resumable runtime in CI (benchmarks/bench_acceptance_kills.py: 20)
KILL_SEED = 20260412
KILLED = -1  # the index of a runtime's killed-and-resumed run

Key = tuple[str, str, int]  # runtime, stream, index (KILLED: the killed run)
F = TypeVar("F", bound=Callable[..., Any])
_PLAN: list[Key] = []


def needs(*runs: tuple[str, int]) -> Callable[[F], F]:
    """Declare the runs a test reads: ``("{runtime}", 0)``, ``("replay", 0)``, ``("{runtime}",
    KILLED)``; ``{runtime}`` is the test's ``runtime`` parameter, the stream its ``stream``."""

    def mark(f: F) -> F:
        f.acceptance_needs = runs  # type: ignore[attr-defined]
        return f

    return mark


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    plan: list[Key] = []
    for item in items:
        wanted = getattr(getattr(item, "function", None), "acceptance_needs", ())
        params = getattr(getattr(item, "callspec", None), "params", {})
        for runtime, index in wanted:
            key = (runtime.format(**params), str(params.get("stream")), index)
            if key not in plan:
                plan.append(key)
    _PLAN[:] = sorted(plan, key=lambda k: k[2] == KILLED)  # killed runs last, order kept


def redis_reachable() -> bool:
    import redis

    r = redis.Redis.from_url(rt.REDIS_URL, socket_connect_timeout=1)
    try:
        r.ping()
    except Exception:
        return False
    finally:
        r.close()
    return True


class Runs:
    """Each run made once: :meth:`get` (an uninterrupted run) and :meth:`killed`.

    ``jobs > 1``: runs are made on that many threads (each drives its own processes);
    :meth:`start` queues runs ahead of the tests that read them.
    """

    def __init__(self, base: Path, rows: int = ROWS, jobs: int = 1) -> None:
        self.base = base
        self.rows = rows
        self.pool = ThreadPoolExecutor(jobs, thread_name_prefix="acceptance") if jobs > 1 else None
        self._lock = threading.Lock()
        self._messages: dict[str, Path] = {}
        self._futures: dict[Key, Future[rt.Run]] = {}

    def messages(self, stream: str) -> Path:
        with self._lock:
            path = self._messages.get(stream)
            if path is None:
                (self.base / stream).mkdir(parents=True, exist_ok=True)
                rows = self.rows
                msgs = weather_messages(rows) if stream == "weather" else keyed_messages(rows)
                path = write_jsonl(msgs, self.base / stream / "messages.jsonl")
                self._messages[stream] = path
        return path

    def start(self, keys: list[Key]) -> None:
        """Queue these runs (in this order) on the pool."""
        for key in keys:
            self.messages(key[1])
        for key in keys:
            self._future(key, background=True)

    def get(self, runtime: str, stream: str, index: int = 0) -> rt.Run:
        return self._future((runtime, stream, index)).result()

    def killed(self, runtime: str, stream: str) -> rt.Run:
        return self._future((runtime, stream, KILLED)).result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _future(self, key: Key, background: bool = False) -> Future[rt.Run]:
        with self._lock:
            fut = self._futures.get(key)
            if fut is not None:
                return fut
            fut = self._futures[key] = Future()
        if background and self.pool is not None:
            self.pool.submit(self._fill, key, fut)
        else:  # made by the caller's thread: never waits for a pool thread to be free
            self._fill(key, fut)
        return fut

    def _fill(self, key: Key, fut: Future[rt.Run]) -> None:
        try:
            fut.set_result(self._make(*key))
        except BaseException as exc:  # a skip or failure is the test's outcome, re-raised there
            fut.set_exception(exc)

    def _make(self, runtime: str, stream: str, index: int) -> rt.Run:
        if runtime == "redis":
            require_service("redis", redis_reachable())
        messages = self.messages(stream)
        name = f"{runtime}-killed" if index == KILLED else f"{runtime}-{index}"
        workdir = self.base / stream / name
        config = write_config(stream, workdir, messages)
        if index != KILLED:
            return rt.run(runtime, stream, workdir, config, messages)
        reference = self.get(runtime, stream)
        return rt.run_killed(runtime, stream, workdir, config, messages, kills=KILLS,
                             seed=KILL_SEED, expected=reference.outputs.written)  # fmt: skip


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    r = Runs(tmp_path_factory.mktemp("acceptance"), jobs=JOBS)
    r.start(list(_PLAN))
    try:
        yield r
    finally:
        r.close()
