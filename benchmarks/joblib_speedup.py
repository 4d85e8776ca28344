"""A 4-job sweep with the joblib launcher (2 jobs in parallel) against Hydra's basic launcher
(one job after another), both as subprocesses `python -m pointbench -m ...`.

    python benchmarks/joblib_speedup.py [--repeats 3] [--videos 4] [--frames 48] [--opencv-threads N]

Sweep: `tracker=lk dataset.seed=0,1,2,3 dataset.num_videos=8 dataset.num_frames=48
output.rerun=false`, a fresh empty cache (POINTBENCH_CACHE) and sweep dir for every sweep.
Python start-up, Hydra and the end-of-sweep leaderboard callback are included on both sides;
the script also reports the time up to the last job's end (from the timestamped output), i.e.
without that callback, which does the same serial work on both sides.
`--opencv-threads N` sets OPENCV_FOR_THREADS_NUM=N on both sides (default: OpenCV as it is).
Target: joblib at least 1.6x faster.
"""

from __future__ import annotations

import argparse
import os
import statistics

from _common import (bench_env, exit_report, fresh_dir, header, interleaved_medians, report_samples, run_pointbench,
                     temp_dir, verdict)

TARGET = 1.6
JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--opencv-threads", type=int, default=None)
    args = parser.parse_args()
    sweep = ["-m", "tracker=lk", "dataset.seed=0,1,2,3", f"dataset.num_videos={args.videos}",
             f"dataset.num_frames={args.frames}", "output.rerun=false",
             # the end-of-sweep report and comparison are the same work whatever the launcher
             "report.enabled=false", "comparison.enabled=false"]
    header("joblib speed-up: python -m pointbench " + " ".join(sweep) + f" ; {' '.join(JOBLIB)} vs basic launcher")
    threads = {} if args.opencv_threads is None else {"OPENCV_FOR_THREADS_NUM": str(args.opencv_threads)}
    print(f"   cores: os.cpu_count() = {os.cpu_count()}; OpenCV threads per process: "
          f"{args.opencv_threads if threads else 'default (as is)'}")
    with temp_dir() as root:
        jobs_done: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}

        def side(name: str, extra: list[str]):
            jobs_done[name], cpu[name] = [], []

            def go() -> float:
                env = bench_env(fresh_dir(root, "cache"), **threads)
                done = run_pointbench([*sweep, *extra, f"hydra.sweep.dir={fresh_dir(root, 'sweep')}"], env, root)
                # Every job prints "outputs: <run dir>" as it finishes; after the last one only the
                # end-of-sweep leaderboard callback (the same work on both sides) and the exit remain.
                jobs_done[name].append(done.last_arrival("outputs: "))
                cpu[name].append(done.cpu_seconds)
                return done.seconds
            return go

        med = interleaved_medians({"basic launcher": side("basic launcher", []),
                                   "joblib n_jobs=2": side("joblib n_jobs=2", JOBLIB)},
                                  repeats=args.repeats, warmup=False)
        basic, joblib = med.values()
        print(f"   median over {args.repeats} interleaved repeats: basic {basic:.3f} s, joblib {joblib:.3f} s "
              "(whole command: start-up, 4 jobs, end-of-sweep leaderboard callback)")
        verdict("basic / joblib (speed-up, whole command)", basic / joblib, TARGET, higher_is_better=True)
        print("   until the last job printed 'outputs:' (start-up + jobs, without the end-of-sweep callback):")
        jobs = report_samples(jobs_done)
        tails = {name: statistics.median(t - j for t, j in zip(samples, jobs_done[name]))
                 for name, samples in med.samples.items()}
        print(f"   end-of-sweep callback + exit (median): basic {tails['basic launcher']:.3f} s, "
              f"joblib {tails['joblib n_jobs=2']:.3f} s")
        verdict("basic / joblib (speed-up, up to the last job's end)", jobs["basic launcher"] / jobs["joblib n_jobs=2"],
                TARGET, higher_is_better=True)
        print("   CPU seconds (user + system of the command and the children it waited for):")
        cpu_med = report_samples(cpu)
        used = cpu_med["basic launcher"] / basic
        print(f"   cores kept busy on average (CPU / wall): basic {used:.2f}, joblib {cpu_med['joblib n_jobs=2'] / joblib:.2f} "
              f"of {os.cpu_count()}; joblib can only win where the basic launcher leaves cores idle")
    exit_report()


if __name__ == "__main__":
    main()
