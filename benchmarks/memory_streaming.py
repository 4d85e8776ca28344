"""Peak memory of `pointbench tracker=lk` (default outputs, recording included) on a 40-video
synthetic set against a 2-video set: does the run stream videos, or hold them all?

    python benchmarks/memory_streaming.py [--repeats 3] [--small 2] [--large 40]

Each run is `python -m pointbench tracker=lk dataset.num_videos=N hydra.run.dir=<tmp>` with a fresh,
empty cache, started from a fresh wrapper process whose RUSAGE_CHILDREN max RSS is that run's peak.
Target: 40-video peak <= 1.3x the 2-video peak.
"""

from __future__ import annotations

import argparse

from _common import PYTHON, bench_env, exit_report, fresh_dir, header, max_rss_mib, report_samples, temp_dir, verdict

TARGET = 1.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--small", type=int, default=2)
    parser.add_argument("--large", type=int, default=40)
    args = parser.parse_args()
    header(f"memory streaming: peak RSS of pointbench tracker=lk (default outputs, recording on), "
           f"dataset.num_videos={args.large} vs {args.small}")
    with temp_dir() as root:
        def peak(videos: int) -> float:
            cmd = [PYTHON, "-m", "pointbench", "tracker=lk", f"dataset.num_videos={videos}",
                   f"hydra.run.dir={fresh_dir(root, 'run')}"]
            return max_rss_mib(cmd, bench_env(fresh_dir(root, "cache")), root)

        labels = {args.small: f"{args.small} videos", args.large: f"{args.large} videos"}
        samples = {label: [] for label in labels.values()}
        for r in range(args.repeats):  # interleaved, order alternating
            for videos in (list(labels) if r % 2 == 0 else list(labels)[::-1]):
                samples[labels[videos]].append(peak(videos))
        med = report_samples(samples, unit="MiB")
        small, large = med[labels[args.small]], med[labels[args.large]]
        print(f"   median peak RSS over {args.repeats} runs each: {args.small} videos {small:.1f} MiB, "
              f"{args.large} videos {large:.1f} MiB (+{large - small:.1f} MiB, "
              f"{(large - small) / (args.large - args.small):.2f} MiB per extra video)")
        verdict(f"{args.large}-video peak / {args.small}-video peak", large / small, TARGET, higher_is_better=False)
    exit_report()


if __name__ == "__main__":
    main()
