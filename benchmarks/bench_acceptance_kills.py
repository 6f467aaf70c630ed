"""Kill -9 at 20 random points per resumable runtime, everything on, on the full weather stream.

The acceptance suite (``tests/acceptance``) kills each resumable runtime 3 times on a small
stream in CI; this script does it 20 times on the whole weather stream (18,159 days, 36,318
messages) with ``examples/everything_on.toml``, and prints a markdown table for RESULTS.md:

* **kills**: SIGKILLs that landed (at fractions of the uninterrupted run's outputs drawn from
  ``random.Random(seed)``; each restart resumes, the last one runs to the end);
* **outputs equal**: the killed run's outputs, as a set keyed by ``kind:id`` (snapshot records by
  id, events and tags), equal the same runtime's uninterrupted run's, and no id was written twice
  with different content;
* **digest equal**: the final engine digests are equal (``n/a``: the runtime exposes none);
* **same as replay**: the uninterrupted run's outputs equal the embedded replay's;
* **mean time to first output**: from a restart to its first new output (process start, restore,
  seek, and the sink's buffering: the JSONL sink writes 512 lines at a time);
* **extra time per kill**: (killed run's wall time - uninterrupted run's) / kills.

Run from the repository root (Redis on 127.0.0.1:6379 for the ``redis`` runtime)::

    python benchmarks/bench_acceptance_kills.py [--kills 20] [--rows N] [--seed S]
        [--runtimes replay,bytewax-1,bytewax-2,redis] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.acceptance import runtimes as rt  # noqa: E402
from tests.acceptance.contract import compare, write_config  # noqa: E402
from tests.acceptance.streams import weather_messages, write_jsonl  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--rows", type=int, default=None, help="weather rows (default: all)")
    ap.add_argument("--seed", type=int, default=20260412)
    ap.add_argument("--runtimes", default=",".join(rt.RESUMABLE))
    ap.add_argument("--keep", default=None, help="work in this directory and keep it")
    a = ap.parse_args(argv)
    base = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bench-kills-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        rows = run(base, a.kills, a.rows, a.seed, a.runtimes.split(","))
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    cmd = "python benchmarks/bench_acceptance_kills.py " + " ".join(argv or sys.argv[1:])
    print(f"\n`{cmd.strip()}`\n")
    print("| runtime | kills | outputs equal | digest equal | same as replay "
          "| mean time to first output | extra time per kill |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def run(base: Path, kills: int, n: int | None, seed: int, names: list[str]) -> list[list[str]]:
    messages = write_jsonl(weather_messages(n), base / "messages.jsonl")
    print(f"{messages.read_text().count(chr(10))} messages", file=sys.stderr)
    t0 = time.monotonic()
    replay = rt.run("replay", "weather", base / "replay-0",
                    write_config("weather", base / "replay-0", messages), messages)  # fmt: skip
    print(f"replay: {replay.seconds:.1f}s {dict(replay.outputs.kinds())}", file=sys.stderr)
    table = []
    for name in names:
        whole = replay if name == "replay" else rt.run(
            name, "weather", base / f"{name}-0",
            write_config("weather", base / f"{name}-0", messages), messages,
        )  # fmt: skip
        killed = rt.run_killed(
            name, "weather", base / f"{name}-killed",
            write_config("weather", base / f"{name}-killed", messages), messages,
            kills=kills, seed=seed, expected=whole.outputs.written,
        )  # fmt: skip
        diff = compare(whole.outputs, killed.outputs, "uninterrupted", "killed")
        vs_replay = compare(replay.outputs, whole.outputs, "replay", name)
        if whole.digest is None or killed.digest is None:
            digest = f"n/a ({whole.no_digest or killed.no_digest})"
        else:
            digest = "y" if whole.digest == killed.digest else "n"
            if digest == "n":
                digest += f" ({rt.engine_parts_differ(whole, killed).split(': ', 1)[-1]})"
        firsts = [k.resume_seconds for k in killed.kills if k.resume_seconds is not None]
        extra = (killed.seconds - whole.seconds) / max(1, killed.n_killed)
        table.append([
            name, str(killed.n_killed), "y" if not diff else f"n ({diff.splitlines()[0]})",
            digest, "y" if not vs_replay else f"n ({vs_replay.splitlines()[0]})",
            f"{statistics.mean(firsts):.2f} s" if firsts else "-", f"{extra:.2f} s",
        ])  # fmt: skip
        print(f"{name}: uninterrupted {whole.seconds:.1f}s, killed run {killed.seconds:.1f}s, "
              f"{table[-1]}", file=sys.stderr)  # fmt: skip
    print(f"total {time.monotonic() - t0:.0f}s", file=sys.stderr)
    return table


if __name__ == "__main__":
    main()
