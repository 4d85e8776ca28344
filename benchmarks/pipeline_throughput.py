"""The pipelined runner against the sequential one, side by side in one run.

    python benchmarks/pipeline_throughput.py [--videos 12] [--frames 96] [--repeats 3]

1. LK on a TAP-Vid-Kinetics-format set the benchmark writes (JPEG frames at 480×640, decoded and
   resized to 256×256 by the loader, 256 points per video, so that loading costs about what tracking
   does), `pipeline=true` against `pipeline=false`, each an in-process `run()` with
   `output.rerun=false` and no cache, with `threads.opencv=1` on both sides: the tracker and the
   loader each get a core, as when the tracker runs on a GPU. Target: at most 0.7x the sequential
   wall time. Then the same with OpenCV's default threads, where LK already keeps both cores busy
   (reported, with the bound that leaves: the CPU work of both stages over two cores).
2. The default synthetic run (recording on): the pipelined run is not slower (ratio <= 1.05).

The memory target of the pipeline (40 against 2 videos at most 1.3x) is `memory_streaming.py`,
which runs with the default `pipeline=true`.
"""

from __future__ import annotations

import argparse
import os
import pickle
from pathlib import Path

import cv2
import numpy as np

from _common import exit_report, fresh_dir, header, interleaved_medians, run_in_process, temp_dir, verdict


def write_kinetics(folder: Path, videos: int, frames: int) -> None:
    """`videos` clips of `frames` JPEG frames at 480×640 (a moving smooth texture) in two shards."""
    rng = np.random.default_rng(0)
    texture = cv2.resize(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (800, 600), interpolation=cv2.INTER_CUBIC)
    examples = []
    for v in range(videos):
        jpegs = np.empty(frames, object)
        for t in range(frames):
            shift = np.float32([[1, 0, -40 - 1.5 * t - v], [0, 1, -30 - 0.7 * t]])
            frame = cv2.warpAffine(texture, shift, (640, 480), flags=cv2.INTER_LINEAR)
            jpegs[t] = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        points = np.stack(np.meshgrid(np.linspace(0.05, 0.65, 16), np.linspace(0.05, 0.65, 16)), -1).reshape(-1, 1, 2)
        motion = np.stack([1.5 * np.arange(frames) / 640, 0.7 * np.arange(frames) / 480], -1)[None]
        examples.append({"video": jpegs, "points": (points + motion).astype(np.float64),
                         "occluded": np.zeros((len(points), frames), bool)})
    folder.mkdir(parents=True)
    half = videos // 2
    (folder / "0000_of_0010.pkl").write_bytes(pickle.dumps(examples[:half], protocol=4))
    (folder / "0001_of_0010.pkl").write_bytes(pickle.dumps(examples[half:], protocol=4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    header(f"pipeline: lk on {args.videos} Kinetics-format JPEG videos of {args.frames} frames (480x640 -> 256), "
           "pipeline=true vs false")
    with temp_dir() as root:
        folder = root / "kinetics"
        write_kinetics(folder, args.videos, args.frames)
        common = ["tracker=lk", "dataset=tapvid_kinetics", f"dataset.path={folder}", "dataset.resize=256",
                  "output.rerun=false", "cache_dir=null"]
        cores = os.cpu_count() or 1
        for threads, target in ((1, 0.7), (cores, None)):
            label = f"threads.opencv={threads}"
            sides = {p: (lambda p=p, t=threads: run_in_process([*common, f"pipeline={p}", f"threads.opencv={t}"],
                                                                fresh_dir(root, f"k-{p}")))
                     for p in ("false", "true")}
            print(f"   {label}:")
            kinetics = interleaved_medians(sides, repeats=args.repeats)
            ratio = kinetics["true"] / kinetics["false"]
            if target is not None:
                verdict(f"Kinetics-format set, {label}: pipelined / sequential wall time", ratio, target,
                        higher_is_better=False)
            else:
                print(f"   Kinetics-format set, {label}: pipelined / sequential wall time {ratio:.3f}x "
                      f"(LK runs on {threads} threads itself, so the stages share the cores)")
        cv2.setNumThreads(cores)

        header("pipeline: default synthetic run (8 videos, recording on), pipeline=true vs false")
        sides = {p: (lambda p=p: run_in_process([f"pipeline={p}", "cache_dir=null", f"threads.opencv={cores}"],
                                                fresh_dir(root, f"s-{p}")))
                 for p in ("false", "true")}
        synthetic = interleaved_medians(sides, repeats=args.repeats)
        verdict("default synthetic run, pipelined / sequential wall time", synthetic["true"] / synthetic["false"], 1.05,
                higher_is_better=False)
    exit_report()


if __name__ == "__main__":
    main()
