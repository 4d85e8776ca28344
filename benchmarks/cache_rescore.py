"""Re-scoring a finished sweep from the prediction cache against the first run of that sweep.

    python benchmarks/cache_rescore.py [--videos 16] [--repeats 3]

The sweep is `tracker=static,lk` with `output.rerun=false` on the synthetic set with
`dataset.num_videos=16`, each job an in-process `pointbench.runner.run()` (whole call timed,
config composition included). Each repeat takes a fresh, empty cache: the first sweep tracks and
fills it, the second reuses it. Target: the second sweep at least 10x faster.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from _common import (Profile, exit_report, fresh_dir, header, report_samples, run_in_process, temp_dir, timed,
                     verdict)

TARGET = 10.0
TRACKERS = ("static", "lk")


def sweep(root: Path, cache: Path, videos: int) -> float:
    """Seconds of the sweep: one run() per tracker, each into its own run dir."""
    def jobs():
        for tracker in TRACKERS:
            run_in_process([f"tracker={tracker}", f"dataset.num_videos={videos}", "output.rerun=false",
                            f"cache_dir={cache}"], fresh_dir(root, f"run-{tracker}"))
    return timed(jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    header(f"cache re-score: sweep tracker={','.join(TRACKERS)} output.rerun=false dataset.num_videos={args.videos}, "
           "second run from the cache vs first run (in-process run() per job)")
    from pointbench.datasets.synthetic import SyntheticDataset
    from pointbench.trackers.lk import LucasKanadeTracker

    parts = {"dataset.load_annotations (gt)": (SyntheticDataset, "load_annotations"),
             "dataset.load (frames + gt)": (SyntheticDataset, "load"),
             "tracker.track (lk)": (LucasKanadeTracker, "track")}
    with temp_dir() as root:
        sweep(root, fresh_dir(root, "cache"), 1)  # warm-up: imports, first calls
        samples = {"first run (tracks, fills the cache)": [], "second run (from the cache)": []}
        profiles = []
        for _ in range(args.repeats):
            cache = fresh_dir(root, "cache")
            with Profile(parts) as first:
                samples["first run (tracks, fills the cache)"].append(sweep(root, cache, args.videos))
            with Profile(parts) as second:
                samples["second run (from the cache)"].append(sweep(root, cache, args.videos))
            profiles.append((first.seconds, second.seconds))
        med = report_samples(samples)
        first_s, second_s = med.values()
        print(f"   median over {args.repeats} repeats: first {first_s:.3f} s, second {second_s:.3f} s")
        verdict("first / second (re-score speed-up)", first_s / second_s, TARGET, higher_is_better=True)
        print("   where the time goes (median seconds per part):")
        rest = [first_s, second_s]
        for label in parts:
            a = statistics.median(p[0].get(label, 0.0) for p in profiles)
            b = statistics.median(p[1].get(label, 0.0) for p in profiles)
            rest = [rest[0] - a, rest[1] - b]
            print(f"     {label:<32} first {a:6.3f} s   second {b:6.3f} s")
        print(f"     {'rest (config, cache I/O, score,':<32} first {rest[0]:6.3f} s   second {rest[1]:6.3f} s")
        print("      predictions, tables)")
        print("   note: the second run still generates every video's ground truth (load_annotations) to score it")
    exit_report()


if __name__ == "__main__":
    main()
