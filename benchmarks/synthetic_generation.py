"""Generating the synthetic videos against tracking them with Lucas–Kanade: the data should cost
less than the work it benchmarks.

    python benchmarks/synthetic_generation.py [--videos 16] [--repeats 5] [--opencv-threads N]
                                              [--before OLD_SYNTHETIC_PY]

Both sides on the same videos, `dataset=synthetic dataset.num_videos=16` and `tracker=lk` as the
config composes them: generation is `dataset.load(i)` for every video (textures, frames, ground
truth, queries); tracking is `tracker.track(frames, queries)` on those videos (generated once,
before timing). Interleaved repeats, medians of wall-clock time (the target) and of this process's
CPU time. Target: generation / tracking <= 1.

`--before FILE` adds a third side, the generator as FILE has it (e.g. the version before a change:
`git show REV:pointbench/datasets/synthetic.py > /tmp/old_synthetic.py`), checks that it makes the
same videos bit for bit, and prints the speed-up. `--opencv-threads N` sets cv2.setNumThreads(N)
first (both sides use OpenCV's threads; the generator renders and makes textures in that many).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import statistics
import time

from _common import compose, exit_report, header, interleaved_medians, verdict

TARGET = 1.0


def build(node):
    """The dataset or tracker a config group node names, with the parameters its class takes (the
    node's other keys, such as `name` or a dataset's shard, are the runner's)."""
    from hydra.utils import get_class
    from omegaconf import OmegaConf

    params = OmegaConf.to_container(node, resolve=True)
    cls = get_class(params.pop("_target_"))
    accepted = inspect.signature(cls).parameters
    return cls(**{key: value for key, value in params.items() if key in accepted})


def load_module(path: str):
    spec = importlib.util.spec_from_file_location("synthetic_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--opencv-threads", type=int, default=None)
    parser.add_argument("--before", default=None, help="a synthetic.py to time as a third side (and compare)")
    args = parser.parse_args()
    import cv2
    import numpy as np

    if args.opencv_threads is not None:
        cv2.setNumThreads(args.opencv_threads)
    header(f"synthetic generation vs LK tracking: dataset=synthetic dataset.num_videos={args.videos}, tracker=lk, "
           "the same videos")
    from pointbench.datasets import synthetic

    cfg = compose(["dataset=synthetic", f"dataset.num_videos={args.videos}", "tracker=lk"])
    dataset, tracker = build(cfg.dataset), build(cfg.tracker)
    samples = [dataset.load(i) for i in range(len(dataset))]
    print(f"   {len(samples)} videos of {samples[0].frames.shape[0]} frames at "
          f"{samples[0].frames.shape[2]}x{samples[0].frames.shape[1]}, {sum(len(s.queries) for s in samples)} queries")

    cpu: dict[str, list[float]] = {}

    def measured(name, fn):
        def side():
            start = time.process_time()
            fn()
            cpu.setdefault(name, []).append(time.process_time() - start)
        return side

    def generate(ds):
        for i in range(len(ds)):
            ds.load(i)

    def track():
        for s in samples:
            tracker.track(s.frames, s.queries)

    gen, lk = "generation (dataset.load, all videos)", "tracking (lk.track, the same videos)"
    sides = {gen: measured(gen, lambda: generate(dataset)), lk: measured(lk, track)}
    before = None
    if args.before:
        old = load_module(args.before)
        before_ds = old.SyntheticDataset(**{k: getattr(dataset, k) for k in (
            "num_videos", "num_frames", "height", "width", "num_tracks", "num_layers", "motion_strength", "seed",
            "query_mode", "query_stride", "fps")})
        same = all(np.array_equal(a.frames, b.frames) and np.array_equal(a.queries, b.queries)
                   and np.array_equal(a.gt.xy, b.gt.xy) and np.array_equal(a.gt.visible, b.gt.visible)
                   for a, b in zip(samples, (before_ds.load(i) for i in range(len(before_ds)))))
        print(f"   --before {args.before}: the same frames, queries and ground truth, bit for bit: {same}")
        before = f"generation before ({args.before})"
        sides[before] = measured(before, lambda: generate(before_ds))
    # Seconds inside each function, summed over the threads that call it (so parts can add up to
    # more than the side's wall time); only the current generator's functions are wrapped.
    parts = {"make_texture (textures)": (synthetic, "make_texture"),
             "_foreground (layers in front, warped)": (synthetic, "_foreground"),
             "_composite (background, blend)": (synthetic, "_composite"),
             "track_layer_points (ground truth)": (synthetic, "track_layer_points")}
    med = interleaved_medians(sides, repeats=args.repeats, parts=parts)
    print("   (the generator's parts are summed over its threads: they can add up to more than its wall time)")
    cpu_med = {name: statistics.median(values[1:]) for name, values in cpu.items()}  # [0]: the warm-up round
    for name in sides:
        print(f"   {name}: median wall {med[name]:.3f} s, CPU {cpu_med[name]:.3f} s "
              f"({1000 * med[name] / len(samples):.1f} ms wall per video)")
    print(f"   CPU time (this process, all threads): generation / tracking {cpu_med[gen] / cpu_med[lk]:.3f}x")
    if before:
        print(f"   speed-up of generation: before / now {med[before] / med[gen]:.2f}x wall, "
              f"{cpu_med[before] / cpu_med[gen]:.2f}x CPU")
        print(f"   before / tracking: {med[before] / med[lk]:.3f}x wall")
    verdict("generation / tracking (wall)", med[gen] / med[lk], TARGET, higher_is_better=False)
    exit_report()


if __name__ == "__main__":
    main()
