"""Learned trackers: each adapter (`pointbench tracker=...`) against the direct upstream call on the same model,
frames and queries. CPU, random weights (`checkpoint=random`), the models' real sizes and settings.

    python benchmarks/learned_trackers.py [--repeats 3] [--frames 24] [--queries 100] [--threads N]
                                          [--only cotracker3_offline,bootstapir]

The direct side is what a user of the upstream package writes, from the same uint8 frames and (t, x, y)
queries to tracks in image pixels: CoTracker's predictors as their README calls them (the online one also on
the time-reversed video, for the frames before each query, as the adapter does), TAPIR's forward / causal
loop as upstream's torch demos. Sides alternate, one untimed warm-up round first; medians are reported.
Per model: CPU seconds per frame (the ratio's basis: on a shared machine other processes inflate wall time,
not CPU time; wall times are printed too), peak resident memory above the process's memory at the call's
start (the call's own working memory), and adapter / direct (target <= 1.05).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import exit_report, header, interleaved_medians, verdict

TARGET = 1.05
MODELS = ["cotracker3_offline", "cotracker3_online", "tapir", "bootstapir", "bootstapir_online"]


def build_adapter(name: str):
    """The tracker as `pointbench tracker=<name> tracker.checkpoint=random tracker.device=cpu` builds it."""
    from _common import compose

    from pointbench.runner import build

    cfg = compose([f"tracker={name}", "tracker.checkpoint=random", "tracker.device=cpu"])
    return build(cfg.tracker, "tracker")[1]


def direct_cotracker(tracker, torch):
    """CoTrackerPredictor / CoTrackerOnlinePredictor on the adapter's model, as their README calls them."""
    from cotracker.predictor import CoTrackerOnlinePredictor, CoTrackerPredictor

    if not tracker.online:
        predictor = CoTrackerPredictor(checkpoint=None, window_len=tracker.window_len)
        predictor.model, predictor.interp_shape = tracker.model, tracker.model_resolution

        def run(frames, queries):
            video = torch.from_numpy(frames).permute(0, 3, 1, 2)[None].float()
            q = torch.from_numpy(queries).clone()
            q[:, 1:] -= 0.5
            xy, visible = predictor(video, queries=q[None], backward_tracking=True)
            return xy[0].permute(1, 0, 2).numpy() + 0.5, visible[0].permute(1, 0).numpy()

        return run

    predictor = CoTrackerOnlinePredictor(checkpoint=None, window_len=tracker.window_len)
    predictor.model, predictor.interp_shape = tracker.model, tracker.model_resolution

    def online(video, q):
        predictor(video_chunk=video, is_first_step=True, queries=q[None])
        for ind in range(0, video.shape[1] - predictor.step, predictor.step):
            xy, visible = predictor(video_chunk=video[:, ind: ind + predictor.step * 2])
        return xy[0].permute(1, 0, 2).numpy() + 0.5, visible[0].permute(1, 0).numpy()

    def run(frames, queries):
        video = torch.from_numpy(frames).permute(0, 3, 1, 2)[None].float()
        q = torch.from_numpy(queries).clone()
        q[:, 1:] -= 0.5
        forward = online(video, q)
        q[:, 0] = len(frames) - 1 - q[:, 0]
        backward = [a[:, ::-1] for a in online(video.flip(1), q)]
        before = np.arange(len(frames))[None] < queries[:, :1]
        return np.where(before[..., None], backward[0], forward[0]), np.where(before, backward[1], forward[1])

    return run


def direct_tapir(tracker, torch):
    """TAPIR as upstream's torch demo (forward) and causal demo (frame by frame) call it, at 256×256 input."""
    import torch.nn.functional as F

    model = tracker.model

    def visibles(occlusion, expected_dist):
        return (1 - F.sigmoid(occlusion)) * (1 - F.sigmoid(expected_dist)) > 0.5

    def run(frames, queries):
        video = (torch.from_numpy(frames).float() / 255 * 2 - 1)[None]
        q = torch.from_numpy(queries[:, [0, 2, 1]].copy())[None]
        with torch.no_grad():
            if not tracker.online:
                out = model(video, q)
                tracks, occlusion, expected_dist = out["tracks"], out["occlusion"], out["expected_dist"]
            else:
                features = model.get_query_features(video, is_training=False, query_points=q,
                                                    feature_grids=model.get_feature_grids(video, is_training=False))
                state = model.construct_initial_causal_state(q.shape[1], len(features.resolutions) - 1)
                outputs = []
                for i in range(video.shape[1]):
                    frame = video[:, i: i + 1]
                    out = model.estimate_trajectories(
                        frame.shape[-3:-1], is_training=False,
                        feature_grids=model.get_feature_grids(frame, is_training=False), query_features=features,
                        query_points_in_video=None, query_chunk_size=64, causal_context=state,
                        get_causal_context=True)
                    state = out["causal_context"]
                    outputs.append((out["tracks"][-1], out["occlusion"][-1], out["expected_dist"][-1]))
                tracks, occlusion, expected_dist = (torch.cat(p, dim=2) for p in zip(*outputs))
        return tracks[0].numpy(), visibles(occlusion, expected_dist)[0].numpy()

    return run


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
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--only", default=",".join(MODELS), help="comma-separated tracker configs")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    header("learned trackers: adapter vs direct upstream call (CPU, random weights)")
    print(f"   torch {torch.__version__}, {torch.get_num_threads()} threads; {args.frames} frames of 256×256, "
          f"{args.queries} queries on random frames; {args.repeats} timed repeats")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.frames, 256, 256, 3), dtype=np.uint8)
    queries = np.stack([rng.integers(0, args.frames, args.queries), rng.uniform(0, 256, args.queries),
                        rng.uniform(0, 256, args.queries)], 1).astype(np.float32)
    rows, passed = [], True
    for name in args.only.split(","):
        print(f"\n== {name}")
        adapter = build_adapter(name)
        direct = (direct_cotracker if name.startswith("cotracker") else direct_tapir)(adapter, torch)
        ours, theirs = adapter.track(frames, queries), direct(frames, queries)
        print(f"   same result: max |Δxy| = {np.abs(ours.xy - theirs[0]).max():.2e} px, "
              f"visibility identical: {np.array_equal(ours.visible, theirs[1])}")
        record = {side: {"wall": [], "peak": []} for side in ("adapter", "direct")}
        print("   CPU seconds per call:")
        cpu = interleaved_medians({
            "adapter": measured(lambda: adapter.track(frames, queries), record["adapter"]),
            "direct": measured(lambda: direct(frames, queries), record["direct"]),
        }, repeats=args.repeats)
        wall = {side: statistics.median(r["wall"][-args.repeats:]) for side, r in record.items()}
        memory = {side: statistics.median(r["peak"]) for side, r in record.items()}
        ratio = cpu["adapter"] / cpu["direct"]
        print(f"   wall seconds per call (median): adapter {wall['adapter']:.2f}, direct {wall['direct']:.2f} "
              f"(ratio {wall['adapter'] / wall['direct']:.3f})")
        print(f"   CPU seconds per frame: adapter {cpu['adapter'] / args.frames:.3f}, direct "
              f"{cpu['direct'] / args.frames:.3f}; peak memory above start (median): adapter "
              f"{memory['adapter']:.0f} MiB, direct {memory['direct']:.0f} MiB")
        passed &= verdict(f"{name} adapter / direct CPU time", ratio, TARGET, higher_is_better=False)
        rows.append((name, cpu["adapter"] / args.frames, cpu["direct"] / args.frames, ratio,
                     wall["adapter"] / wall["direct"], memory["adapter"], memory["direct"]))
        del adapter, direct
    print("\n   model               CPU s/frame adapter  direct  ratio  wall ratio  peak MiB adapter  direct")
    for name, a, d, r, rw, ma, md in rows:
        print(f"   {name:<19} {a:19.3f} {d:7.3f} {r:6.3f} {rw:11.3f} {ma:17.0f} {md:7.0f}")
    print(f"   overall: {'PASS' if passed else 'FAIL'} (target adapter / direct <= {TARGET})")
    exit_report()


if __name__ == "__main__":
    main()
