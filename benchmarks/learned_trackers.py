"""Learned trackers: each adapter (`pointbench tracker=...`) against the direct upstream call on the same model,
frames and queries. CPU, random weights (`checkpoint=random`), the models' real sizes and settings.

    python benchmarks/learned_trackers.py [--repeats 3] [--frames 24] [--queries 100] [--threads N]
                                          [--only cotracker3_offline,bootstapir] [--set NAME:OVERRIDE ...]

The direct side is what a user of the upstream package writes, from the same uint8 frames and (t, x, y)
queries to tracks in image pixels: CoTracker's predictors as their README calls them (the online one also on
the time-reversed video, for the frames before each query, as the adapter does), TAPIR's forward / causal
loop as upstream's torch demos; TAPNext / TAPNext++ as upstream's torch colabs (`run_eval_per_frame`, and the
reversed pass of their strided evaluation); LocoTrack as its evaluation's `test_step` + `eval_batch`; AllTracker as
its evaluator's `forward_batch` (per query frame), with its demo's reversed pass for the frames before (on CPU
both sides run upstream's `.cuda()` calls as the identity). Frames are made at each model's input size, so neither
side resizes. Sides alternate; the equality check is the untimed warm-up round; medians are reported.
Per model: CPU seconds per frame (the ratio's basis: on a shared machine other processes inflate wall time,
not CPU time; wall times are printed too), peak resident memory above the process's memory at the call's
start (the call's own working memory), and adapter / direct (target <= 1.05).

The newer models are heavy on a CPU (TAPNext is a 194M-parameter ViT per frame, TAPNext++ runs it on 512×512
frames, AllTracker pads every pass to 16 frames of dense flow): without --frames they run on fewer frames
(FRAMES_DEFAULT), and `--set alltracker:tracker.resolution=[128,128]` shrinks a model further. LocoTrack and
AllTracker import their code from the clones named by LOCOTRACK_REPO and ALLTRACKER_REPO (the configs' `repo`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _common import exit_report, header, interleaved_medians, verdict

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import upstream_reference as upstream  # noqa: E402  (the direct calls the adapters' equality tests check)

TARGET = 1.05
MODELS = ["cotracker3_offline", "cotracker3_online", "tapir", "bootstapir", "bootstapir_online",
          "tapnext", "bootstapnext", "tapnextpp", "locotrack", "alltracker"]
FRAMES_DEFAULT = {"tapnext": 4, "bootstapnext": 4, "tapnextpp": 2, "alltracker": 4}  # others: 24


def build_adapter(name: str, extra: list[str] = ()):
    """The tracker as `pointbench tracker=<name> tracker.checkpoint=random tracker.device=cpu [extra]` builds it."""
    from _common import compose

    from pointbench.runner import build

    cfg = compose([f"tracker={name}", "tracker.checkpoint=random", "tracker.device=cpu", *extra])
    return build(cfg.tracker, "tracker")[1]


def direct_cotracker(tracker, torch):
    """CoTrackerPredictor / CoTrackerOnlinePredictor on the adapter's model, as their README calls them."""
    predictor = upstream.cotracker_predictor(tracker)  # built once, outside the timed calls
    return lambda frames, queries: upstream.cotracker(predictor, frames, queries, torch)


def direct_tapir(tracker, torch):
    """TAPIR as upstream's torch demo (forward) and causal demo (frame by frame) call it, at 256×256 input."""
    call = upstream.tapir_causal if tracker.online else upstream.tapir_forward

    def run(frames, queries):
        tracks, occlusion, expected_dist = call(tracker.model, frames, queries, torch)
        return tracks.numpy(), ((1 - torch.sigmoid(occlusion)) * (1 - torch.sigmoid(expected_dist)) > 0.5).numpy()

    return run


def direct_tapnext(tracker, torch):
    """TAPNext / TAPNext++ as upstream's torch colabs call them (`run_eval_per_frame`, and the reversed pass of
    `deterministic_eval(strided=True)` for the frames before each query), on frames at the model's input size."""
    def run(frames, queries):
        assert frames.shape[1:3] == tuple(tracker.resolution), "frames are made at the model's input size"
        return upstream.tapnext(tracker.model, frames, queries, torch)

    return run


def direct_locotrack(tracker, torch):
    """LocoTrack as its evaluation calls it: experiment.py `test_step` (config/default.ini's forward kwargs) and
    model_utils.eval_batch's occlusion rule, frames at the model's input size."""
    return lambda frames, queries: upstream.locotrack(tracker.model, frames, queries, torch)


def direct_alltracker(tracker, torch):
    """AllTracker as its evaluator's `forward_batch` runs it (per distinct query frame; `forward_sliding` past 128
    frames), the frames before each query as its demo's `forward_video`. On CPU, `.cuda()` is the identity during
    the call (upstream calls it on the frames)."""
    def run(frames, queries):
        sliding = len(frames) > 128 if tracker.sliding == "auto" else tracker.sliding
        original = torch.Tensor.cuda
        if not torch.cuda.is_available():
            torch.Tensor.cuda = lambda self, *args, **kwargs: self
        try:
            xy, score = upstream.alltracker(tracker.model, frames, queries, tracker.iters, sliding, torch)
        finally:
            torch.Tensor.cuda = original
        return xy, score >= tracker.visibility_threshold

    return run


DIRECT = {"cotracker": direct_cotracker, "tapir": direct_tapir, "bootstapir": direct_tapir, "tapnext": direct_tapnext,
          "bootstapnext": direct_tapnext, "locotrack": direct_locotrack, "alltracker": direct_alltracker}


def direct_for(name: str, tracker, torch):
    family = next(key for key in sorted(DIRECT, key=len, reverse=True) if name.startswith(key))
    return DIRECT[family](tracker, torch)


def measured(fn, record: dict[str, list[float]]):
    """A side for `interleaved_medians`: runs `fn`, records its wall seconds and peak RSS above the start, and
    returns its CPU seconds (this process, all threads), which other processes' load on the machine inflates
    far less than wall time."""
    from pointbench.profiling import measure, resident_mb

    def side():
        start, cpu = resident_mb(), time.process_time()
        with measure() as cost:
            fn()
        cpu = time.process_time() - cpu
        record["wall"].append(cost.seconds)
        record["peak"].append(cost.peak_mem_mb - start)
        return cpu

    return side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=None, help="frames per video (default: 24, fewer for the "
                        "heavy models, FRAMES_DEFAULT)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--only", default=",".join(MODELS), help="comma-separated tracker configs")
    parser.add_argument("--set", action="append", default=[], metavar="NAME:OVERRIDE",
                        help="a config override for one model, e.g. alltracker:tracker.resolution=[128,128]")
    args = parser.parse_args()
    extra = {}
    for item in args.set:
        name, _, override = item.partition(":")
        extra.setdefault(name, []).append(override)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    header("learned trackers: adapter vs direct upstream call (CPU, random weights)")
    print(f"   torch {torch.__version__}, {torch.get_num_threads()} threads; frames of 256×256 (or the model's input "
          f"size), {args.queries} queries on random frames; {args.repeats} timed repeats")
    rows, passed = [], True
    for name in args.only.split(","):
        print(f"\n== {name}" + (f" ({' '.join(extra[name])})" if name in extra else ""))
        adapter = build_adapter(name, extra.get(name, []))
        direct = direct_for(name, adapter, torch)
        n_frames = args.frames or FRAMES_DEFAULT.get(name, 24)
        height, width = getattr(adapter, "resolution", (256, 256))
        rng = np.random.default_rng(0)
        frames = rng.integers(0, 256, (n_frames, height, width, 3), dtype=np.uint8)
        queries = np.stack([rng.integers(0, n_frames, args.queries), rng.uniform(0, width, args.queries),
                            rng.uniform(0, height, args.queries)], 1).astype(np.float32)
        print(f"   {n_frames} frames of {height}×{width}")
        ours, theirs = adapter.track(frames, queries), direct(frames, queries)
        print(f"   same result: max |Δxy| = {np.abs(ours.xy - theirs[0]).max():.2e} px, "
              f"visibility identical: {np.array_equal(ours.visible, theirs[1])}")
        record = {side: {"wall": [], "peak": []} for side in ("adapter", "direct")}
        print("   CPU seconds per call:")
        cpu = interleaved_medians({
            "adapter": measured(lambda: adapter.track(frames, queries), record["adapter"]),
            "direct": measured(lambda: direct(frames, queries), record["direct"]),
        }, repeats=args.repeats, warmup=False)  # the equality check above was the warm-up round
        wall = {side: statistics.median(r["wall"][-args.repeats:]) for side, r in record.items()}
        memory = {side: statistics.median(r["peak"]) for side, r in record.items()}
        ratio = cpu["adapter"] / cpu["direct"]
        print(f"   wall seconds per call (median): adapter {wall['adapter']:.2f}, direct {wall['direct']:.2f} "
              f"(ratio {wall['adapter'] / wall['direct']:.3f})")
        print(f"   CPU seconds per frame: adapter {cpu['adapter'] / n_frames:.3f}, direct "
              f"{cpu['direct'] / n_frames:.3f}; peak memory above start (median): adapter "
              f"{memory['adapter']:.0f} MiB, direct {memory['direct']:.0f} MiB")
        passed &= verdict(f"{name} adapter / direct CPU time", ratio, TARGET, higher_is_better=False)
        rows.append((name, cpu["adapter"] / n_frames, cpu["direct"] / n_frames, ratio,
                     wall["adapter"] / wall["direct"], memory["adapter"], memory["direct"]))
        del adapter, direct
    print("\n   model               CPU s/frame adapter  direct  ratio  wall ratio  peak MiB adapter  direct")
    for name, a, d, r, rw, ma, md in rows:
        print(f"   {name:<19} {a:19.3f} {d:7.3f} {r:6.3f} {rw:11.3f} {ma:17.0f} {md:7.0f}")
    print(f"   overall: {'PASS' if passed else 'FAIL'} (target adapter / direct <= {TARGET})")
    exit_report()


if __name__ == "__main__":
    main()
