"""Every runtime as a real process, driven the way a user drives it; each run's outputs and digest.

=============  ==========================================================================  ======
runtime        how it runs                                                                 resume
=============  ==========================================================================  ======
``replay``     ``stream-ml run CONFIG --json`` (the config's ``[snapshots]``)              yes
``serve``      ``stream-ml serve CONFIG`` on a loopback port; a websocket client sends     no
               the messages on ``/v1/stream``; SIGTERM at the end
``bytewax-N``  ``stream-ml run CONFIG --runtime bytewax --workers N --json`` (one global    yes
               engine); with ``--recovery DIR`` when it is to be killed
``redis``      the messages XADDed to a Redis stream, then ``python -m                     yes
               stream_ml.runtime.bytewax.group_consumer`` until idle
=============  ==========================================================================  ======

``serve`` has no source offset (a client sends, the server answers), so a killed server has
nothing to seek: it is not in the kill tests.

Where each run's outputs are read: the config's JSONL sink (``replay``, ``bytewax-N``, and
``serve``, whose websocket answers are kept apart in :attr:`Run.answers`), or the consumer's
output and dead-letter streams (``redis``). Where its final engine digest is read: the
``--json`` summary's ``digest`` (``replay``); the ``summary`` output of the global engine
(``bytewax-N``); the newest snapshot in the run's SQLite store, loaded with
:class:`stream_ml.snapshots.SnapshotStore` (``serve``: the one taken at shutdown; ``redis``:
the consumer's own store). When a runtime exposes none, :attr:`Run.digest` is None and
:attr:`Run.no_digest` says why.

Kills (:func:`run_killed`): the process is started, killed with SIGKILL once its outputs pass a
fraction of the uninterrupted run's (fractions drawn from ``random.Random(seed)``), started again
(it resumes), and so on; the last start runs to the end. The time from each restart to its first
new output is the resume time.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.acceptance.contract import ROOT, Outputs, read_jsonl

KEY = "acceptance-suite-snapshot-key"
RUNTIMES = ("replay", "serve", "bytewax-1", "bytewax-2", "redis")
RESUMABLE = ("replay", "bytewax-1", "bytewax-2", "redis")
REDIS_URL = "redis://127.0.0.1:6379/0"
TIMEOUT = 300.0


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["STREAM_ML_SNAPSHOT_KEY"] = KEY
    e.pop("STREAM_ML_TOKEN", None)  # feedback on the websocket needs no token
    e["COLUMNS"] = "200"
    return e


@dataclass
class KillPoint:
    target: float  # fraction of the uninterrupted run's outputs
    outputs: int  # outputs written when it was killed (or when it ended)
    killed: bool
    resume_seconds: float | None  # from its start to its first new output


@dataclass
class Run:
    runtime: str
    stream: str
    workdir: Path
    outputs: Outputs
    digest: str | None
    no_digest: str | None = None
    seconds: float = 0.0
    answers: Outputs | None = None  # serve: the websocket answers
    fallbacks: int = 0
    summary: Any = None
    kills: list[KillPoint] = field(default_factory=list)

    @property
    def n_killed(self) -> int:
        return sum(k.killed for k in self.kills)


def store_digest(path: Path) -> tuple[str | None, str | None]:
    """(digest of the engine in the newest valid snapshot of ``path``, why there is none)."""
    from stream_ml.snapshots import SnapshotStore

    if not Path(path).exists():
        return None, f"no snapshot store at {path}"
    with SnapshotStore(path, key=KEY) as store:
        rec = store.latest_valid()
    if rec is None:
        return None, f"{path} holds no snapshot"
    return rec.state["engine"].digest(), None  # type: ignore[index]


def final_engine(run: Run) -> Any:
    """The engine in the newest snapshot of a run's store (None for Bytewax: it has none)."""
    from stream_ml.snapshots import SnapshotStore

    path = run.workdir / ("consumer.db" if run.runtime == "redis" else "snapshots.db")
    if run.runtime.startswith("bytewax") or not path.exists():
        return None
    with SnapshotStore(path, key=KEY) as store:
        rec = store.latest_valid()
    return None if rec is None else rec.state["engine"]  # type: ignore[index]


def engine_parts_differ(a: Run, b: Run) -> str:
    """Which parts of two runs' final engines differ (for failure messages), or why unknown."""
    import random

    from stream_ml.snapshots import state_digest

    ea, eb = final_engine(a), final_engine(b)
    if ea is None or eb is None:
        return "engine parts: unknown (no snapshot store to load the final engine from)"

    def dig(x: Any) -> str:
        return state_digest(x, ignore=(random.Random,))

    skip = ("snapshots", "snapshot_policy", "events", "config")
    parts = [
        k for k in ea.__dict__ if k not in skip and dig(ea.__dict__[k]) != dig(eb.__dict__.get(k))
    ]
    if "drift" in parts and ea.drift is not None and eb.drift is not None:
        for ma, mb in zip(ea.drift.monitors, eb.drift.monitors):
            for da, db in zip(ma.monitor.detectors, mb.monitor.detectors):
                va, vb = getattr(da, "__dict__", {}), getattr(db, "__dict__", {})
                attrs = [k for k in va if dig(va[k]) != dig(vb.get(k))]
                if attrs:
                    parts.append(f"drift.{ma.name}.{type(da).__name__}.{'/'.join(attrs)}")
    return "engine parts that differ: " + (", ".join(parts) or "none (bookkeeping only)")


def _lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def _json_out(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise AssertionError(f"{what} printed no JSON summary: {text[-2000:]!r}") from exc


class Process:
    """A runtime that is one process over the config's source (replay, Bytewax, consumer)."""

    name = "process"

    def __init__(self, workdir: Path, config: Path) -> None:
        self.workdir, self.config = workdir, config
        self.sink = workdir / "outputs.jsonl"

    def prepare(self) -> None:
        """Before the first start (e.g. put the messages on a broker)."""

    def command(self, resumable: bool) -> list[str]:
        raise NotImplementedError

    def progress(self) -> int:
        return _lines(self.sink)

    def finish(self, stdout: str) -> tuple[Outputs, str | None, str | None, Any]:
        """(outputs, digest, why no digest, summary) once the process ended."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def start(self, resumable: bool, tag: str) -> subprocess.Popen[bytes]:
        out = open(self.workdir / f"{tag}.stdout", "wb")  # noqa: SIM115 (closed by wait)
        err = open(self.workdir / f"{tag}.stderr", "wb")  # noqa: SIM115
        try:
            return subprocess.Popen(self.command(resumable), stdout=out, stderr=err, env=env(),
                                    cwd=self.workdir)  # fmt: skip
        finally:
            out.close()
            err.close()

    def wait(self, proc: subprocess.Popen[bytes], tag: str) -> str:
        try:
            code = proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        stdout = (self.workdir / f"{tag}.stdout").read_text()
        if code != 0:
            stderr = (self.workdir / f"{tag}.stderr").read_text()
            raise AssertionError(f"{self.name} exited with {code}: {stderr[-3000:]}")
        return stdout


class Replay(Process):
    name = "replay"

    def command(self, resumable: bool) -> list[str]:
        return [sys.executable, "-m", "stream_ml.cli", "run", str(self.config), "--json"]

    def finish(self, stdout: str) -> tuple[Outputs, str | None, str | None, Any]:
        summary = _json_out(stdout, "stream-ml run")
        digest = summary.get("digest")
        why = None if digest else "the --json summary has no digest"
        return Outputs.of(read_jsonl(self.sink)), digest, why, summary


class Bytewax(Process):
    def __init__(self, workdir: Path, config: Path, workers: int) -> None:
        super().__init__(workdir, config)
        self.workers = workers
        self.name = f"bytewax-{workers}"

    def command(self, resumable: bool) -> list[str]:
        cmd = [sys.executable, "-m", "stream_ml.cli", "run", str(self.config), "--runtime",
               "bytewax", "--workers", str(self.workers), "--json"]  # fmt: skip
        if resumable:  # epochs short enough that a kill lands after some recovery snapshots
            cmd += ["--recovery", str(self.workdir / "recovery"), "--snapshot-interval", "0.2"]
        return cmd

    def finish(self, stdout: str) -> tuple[Outputs, str | None, str | None, Any]:
        result = _json_out(stdout, "stream-ml run --runtime bytewax")
        outputs = Outputs.of(read_jsonl(self.sink))
        summaries = [s for s in outputs.summaries if s.get("id") == "__global__"]
        summary = (result.get("keys") or {}).get("__global__") or (summaries or [None])[-1]
        if summary is None:
            return outputs, None, "no summary output for the global engine", result
        digest = summary.get("digest")
        why = None if digest else "the global engine's summary output has no digest"
        return outputs, digest, why, result


class RedisConsumer(Process):
    name = "redis"

    def __init__(self, workdir: Path, config: Path, messages: Path) -> None:
        super().__init__(workdir, config)
        import redis

        self.messages = messages
        self.r = redis.Redis.from_url(REDIS_URL)
        self.prefix = f"acceptance:{uuid.uuid4().hex[:10]}"
        self.stream, self.out, self.dlq = (f"{self.prefix}:{n}" for n in ("in", "out", "dlq"))
        self.store = workdir / "consumer.db"

    def prepare(self) -> None:
        lines = [x for x in self.messages.read_text().splitlines() if x.strip()]
        for i in range(0, len(lines), 1000):
            pipe = self.r.pipeline(transaction=False)
            for line in lines[i : i + 1000]:
                pipe.xadd(self.stream, {"data": line})
            pipe.execute()

    def command(self, resumable: bool) -> list[str]:
        return [sys.executable, "-m", "stream_ml.runtime.bytewax.group_consumer",
                "--config", str(self.config), "--url", REDIS_URL, "--stream", self.stream,
                "--group", "acceptance", "--consumer", "c1", "--output", self.out,
                "--dead-letters", self.dlq, "--snapshot", str(self.store),
                "--snapshot-every", "500", "--count", "200", "--idle-exit", "0.5"]  # fmt: skip

    def progress(self) -> int:
        return int(self.r.xlen(self.out))

    def finish(self, stdout: str) -> tuple[Outputs, str | None, str | None, Any]:
        outs = [json.loads(f[b"data"]) for _, f in self.r.xrange(self.out)]
        outs += [json.loads(f[b"data"]) for _, f in self.r.xrange(self.dlq)]
        digest, why = store_digest(self.store)
        return Outputs.of(outs), digest, why, stdout.strip()

    def close(self) -> None:
        keys = list(self.r.scan_iter(match=f"{self.prefix}:*"))
        if keys:
            self.r.delete(*keys)
        self.r.close()


def process_for(runtime: str, workdir: Path, config: Path, messages: Path) -> Process:
    if runtime == "replay":
        return Replay(workdir, config)
    if runtime.startswith("bytewax-"):
        return Bytewax(workdir, config, int(runtime.split("-", 1)[1]))
    if runtime == "redis":
        return RedisConsumer(workdir, config, messages)
    raise ValueError(f"{runtime!r} is not a process runtime")


def run_process(runtime: str, stream: str, workdir: Path, config: Path, messages: Path) -> Run:
    """One uninterrupted run of a process runtime."""
    p = process_for(runtime, workdir, config, messages)
    try:
        p.prepare()
        t0 = time.monotonic()
        stdout = p.wait(p.start(False, "run"), "run")
        seconds = time.monotonic() - t0
        outputs, digest, why, summary = p.finish(stdout)
    finally:
        p.close()
    return Run(runtime, stream, workdir, outputs, digest, why, seconds, summary=summary)


def run_killed(runtime: str, stream: str, workdir: Path, config: Path, messages: Path, *,
               kills: int, seed: int, expected: int) -> Run:  # fmt: skip
    """Kill the runtime with SIGKILL ``kills`` times at random points, resume, run to the end.

    ``expected``: how many outputs the uninterrupted run writes (kill points are fractions of
    it, drawn from ``random.Random(seed)``).
    """
    rng = random.Random(seed)
    targets = sorted(rng.uniform(0.05, 0.95) for _ in range(kills))
    p = process_for(runtime, workdir, config, messages)
    points: list[KillPoint] = []
    try:
        p.prepare()
        t0 = time.monotonic()
        for i, frac in enumerate(targets):
            before = p.progress()
            started = time.monotonic()
            proc = p.start(True, f"kill{i}")
            first: float | None = None
            killed = False
            while proc.poll() is None:
                n = p.progress()
                if first is None and n > before:
                    first = time.monotonic() - started
                if n > before and n >= frac * expected:
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                    break
                if time.monotonic() - started > TIMEOUT:
                    proc.kill()
                    raise AssertionError(f"{runtime} made no progress for {TIMEOUT}s")
                time.sleep(0.005)
            proc.wait()
            points.append(KillPoint(frac, p.progress(), killed, first))
        before = p.progress()
        started = time.monotonic()
        proc = p.start(True, "final")
        first = None
        while proc.poll() is None and first is None:
            if p.progress() > before:
                first = time.monotonic() - started
            time.sleep(0.005)
        stdout = p.wait(proc, "final")
        points.append(KillPoint(1.0, p.progress(), False, first))
        seconds = time.monotonic() - t0
        outputs, digest, why, summary = p.finish(stdout)
    finally:
        p.close()
    return Run(runtime, stream, workdir, outputs, digest, why, seconds, summary=summary,
               kills=points)  # fmt: skip


# -- serve ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def send_all(url: str, messages: list[str], window: int = 32) -> list[dict[str, Any]]:
    """Send every message as its own frame, ``window`` frames in flight; answers in order."""
    from websockets.asyncio.client import connect

    answers: list[dict[str, Any]] = []
    async with connect(url, max_size=None, open_timeout=30) as ws:
        for i in range(0, len(messages), window):
            chunk = messages[i : i + window]
            for m in chunk:
                await ws.send(m)
            for _ in chunk:
                answers.append(json.loads(await ws.recv()))
    return answers


def run_serve(stream: str, workdir: Path, config: Path, messages: Path) -> Run:
    """``stream-ml serve CONFIG`` with a real websocket client on loopback, then SIGTERM."""
    import httpx

    port = _free_port()
    cmd = [sys.executable, "-m", "stream_ml.cli", "serve", str(config), "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning"]  # fmt: skip
    lines = [x for x in messages.read_text().splitlines() if x.strip()]
    err_path = workdir / "serve.stderr"
    t0 = time.monotonic()
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env(),
                                cwd=workdir)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    why = err_path.read_text()[-3000:]
                    raise AssertionError(f"serve did not start: {why}") from exc
                time.sleep(0.05)
        answers = asyncio.run(send_all(f"ws://127.0.0.1:{port}/v1/stream", lines))
        proc.send_signal(signal.SIGTERM)  # graceful: the server snapshots at shutdown
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if code not in (0, -signal.SIGTERM):
        raise AssertionError(f"serve exited with {code}: {err_path.read_text()[-3000:]}")
    seconds = time.monotonic() - t0
    digest, why = store_digest(workdir / "snapshots.db")
    return Run("serve", stream, workdir, Outputs.of(read_jsonl(workdir / "outputs.jsonl")),
               digest, why, seconds, answers=Outputs.of(answers),
               fallbacks=sum(1 for a in answers if a.get("fallback")))  # fmt: skip


def run(runtime: str, stream: str, workdir: Path, config: Path, messages: Path) -> Run:
    """One uninterrupted run of ``runtime`` (see the module docstring)."""
    if runtime == "serve":
        return run_serve(stream, workdir, config, messages)
    return run_process(runtime, stream, workdir, config, messages)
