"""The feedback-loop scenario over several seeds: exposure Gini, top-10% share, coverage, CTR
and regret per policy (greedy on the model, epsilon exploration floor, least-exposed floor).

    python benchmarks/bench_feedback_loop.py [--events 4000] [--seeds 0 1 2]

Prints a Markdown table (the RESULTS entry). Each run replays the scenario through the engine
(``FeedbackLoop(policy).run``); the numbers are seeded, not timings.
"""

from __future__ import annotations

import argparse

import numpy as np

from scenarios.feedback_loop import ITEMS, POLICIES, FeedbackLoop, policy_report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=FeedbackLoop.default_events)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    print("| seed | policy | Gini | top-10% share | coverage | CTR | CTR 2nd half "
          "| expected CTR 2nd half | oracle CTR | regret |")  # fmt: skip
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for seed in args.seeds:
        truth = FeedbackLoop().ground_truth(args.events, seed)
        p = np.array([truth["p"][c] for c in ITEMS])
        for policy in POLICIES:
            pages, clicks = FeedbackLoop(policy).run(args.events, seed)
            f = policy_report(pages, clicks, p, every=args.events)["final"]
            print(f"| {seed} | {policy} | {f['gini']:.3f} | {f['top10_share']:.3f} | "
                  f"{f['coverage']} | {f['ctr']:.4f} | {f['ctr_second_half']:.4f} | "
                  f"{f['expected_ctr_second_half']:.4f} | {truth['oracle_ctr']:.4f} | "
                  f"{f['regret']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
