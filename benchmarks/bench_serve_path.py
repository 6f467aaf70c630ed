"""The server's own work per ``/v1/stream`` message, in process (no sockets): decode, validate,
engine, answer, metrics. Used with callgrind to count instructions, which do not depend on what
else the machine is doing:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python benchmarks/bench_serve_path.py 1000
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python benchmarks/bench_serve_path.py 3000

(instructions per message = difference of the two totals / 2000; start-up cancels out). Run
plainly it prints microseconds per message.

Usage: python benchmarks/bench_serve_path.py [N]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


def main() -> None:
    from river import linear_model, preprocessing

    from stream_ml import Engine
    from stream_ml.serve import ServeSettings, create_app
    from stream_ml.serve.security import TokenBucket
    from stream_ml.serve.sockets import _answer

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    texts = [
        json.dumps({"id": f"e{i}", "key": f"u{i % 100}", "features": {"a": i % 7, "b": 0.5}})
        for i in range(n)
    ]
    settings = ServeSettings(rate=1e9, burst=10**9)
    engine = Engine({"lr": preprocessing.StandardScaler() | linear_model.LogisticRegression()})
    st = create_app(engine, settings).state.serve

    async def run() -> float:
        bucket = TokenBucket(1e9, 10**9, time.monotonic)
        t0 = time.perf_counter()
        for text in texts:
            await _answer({"text": text}, st, bucket, True)
        return (time.perf_counter() - t0) / n * 1e6

    print(f"{asyncio.run(run()):.2f} us per message ({n} messages)")


if __name__ == "__main__":
    main()
