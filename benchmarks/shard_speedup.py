"""One evaluation split into 2 shards on 2 joblib workers against the same evaluation unsharded.

    python benchmarks/shard_speedup.py [--repeats 3] [--videos 64] [--frames 48] [--pipeline]

Both as subprocesses `python -m pointbench -m tracker=lk dataset.num_videos=64 dataset.num_frames=48
output.rerun=false` with a fresh cache and sweep dir each: unsharded (one job, basic launcher)
against `dataset.num_shards=2 'dataset.shard=range(2)' hydra/launcher=joblib hydra.launcher.n_jobs=2`,
with OpenCV at one thread per process on both sides (OPENCV_FOR_THREADS_NUM=1) and `pipeline=false`,
so that the speed-up is the sharding's, not OpenCV's own threads nor the pipelined runner's (which
already keeps a second core busy loading while the first tracks). Also checks that the merged
leaderboard has the unsharded run's metrics. Target: at least 1.7x faster. `--pipeline` repeats the
measurement with the default `pipeline=true` on both sides, for comparison.
"""

from __future__ import annotations

import argparse

import pandas as pd

from _common import bench_env, exit_report, fresh_dir, header, interleaved_medians, run_pointbench, temp_dir, verdict

TARGET = 1.7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--videos", type=int, default=64)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--pipeline", action="store_true", help="also measure with pipeline=true")
    args = parser.parse_args()
    for pipeline in ("false", "true") if args.pipeline else ("false",):
        measure(args, pipeline)
    exit_report()


def measure(args, pipeline: str) -> None:
    base = ["-m", "tracker=lk", f"pipeline={pipeline}", f"dataset.num_videos={args.videos}", f"dataset.num_frames={args.frames}",
            "output.rerun=false", "report.enabled=false", "comparison.enabled=false"]
    sharded = ["dataset.num_shards=2", "dataset.shard=range(2)", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    header("shard speed-up: python -m pointbench " + " ".join(base) + f" ; {' '.join(sharded)} vs unsharded")
    boards: dict[str, pd.DataFrame] = {}
    with temp_dir() as root:
        def side(name: str, extra: list[str]):
            def go() -> float:
                sweep = fresh_dir(root, f"sweep-{name}")
                env = bench_env(fresh_dir(root, "cache"), OPENCV_FOR_THREADS_NUM="1")
                done = run_pointbench([*base, *extra, f"hydra.sweep.dir={sweep}"], env, root)
                boards[name] = pd.read_csv(sweep / "leaderboard.csv")
                return done.seconds
            return go

        med = interleaved_medians({"unsharded": side("unsharded", []), "2 shards": side("sharded", sharded)},
                                  repeats=args.repeats, warmup=False)
        whole, split = boards["unsharded"], boards["sharded"]
        same = all(abs(whole.loc[0, m] - split.loc[0, m]) < 1e-12 for m in ("AJ", "delta_avg", "OA"))
        print(f"   merged leaderboard: {len(split)} row, {int(split.loc[0, 'videos'])} videos, AJ "
              f"{100 * split.loc[0, 'AJ']:.2f} (unsharded {100 * whole.loc[0, 'AJ']:.2f}): "
              f"{'identical' if same else 'DIFFERENT'} metrics")
        verdict(f"unsharded / 2 shards on 2 workers (speed-up, pipeline={pipeline})",
                med["unsharded"] / med["2 shards"], TARGET if pipeline == "false" else 1.0, higher_is_better=True)


if __name__ == "__main__":
    main()
