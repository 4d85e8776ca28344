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
import time

import numpy as np
from _common import exit_report, header, interleaved_medians, verdict

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


def direct_tapnext(tracker, torch):
    """TAPNext / TAPNext++ as upstream's torch colabs call them (torch_tapnext_demo / torch_tapnextpp_demo
    `run_eval_per_frame`): frames at the model's input size in [-1, 1], queries (t, y, x) scaled to the model's
    space, the first frame with the queries, then frame by frame with the state; visible where logit > 0; frames
    before each query's frame from the pass over the reversed video (`deterministic_eval(strided=True)`)."""
    model = tracker.model
    mh, mw = model.image_size

    def run_eval_per_frame(video, q_points, h, w):
        q_points = q_points.clone()
        q_points[..., 1] = q_points[..., 1] * (mh / h)
        q_points[..., 2] = q_points[..., 2] * (mw / w)
        pred_tracks, _, visible_logits, state = model(video=video[:, :1], query_points=q_points)
        tracks, visible = [pred_tracks], [visible_logits > 0]
        for frame in range(1, video.shape[1]):
            curr_tracks, _, curr_visible_logits, state = model(video=video[:, frame:frame + 1], state=state)
            tracks.append(curr_tracks)
            visible.append(curr_visible_logits > 0)
        tracks = torch.cat(tracks, dim=1).transpose(1, 2).clone()
        occluded = ~torch.cat(visible, dim=1).transpose(1, 2).squeeze(-1)
        tracks[..., 0] = tracks[..., 0] * (h / mh)
        tracks[..., 1] = tracks[..., 1] * (w / mw)
        return tracks.numpy()[..., ::-1].copy(), occluded.numpy().copy()

    def run(frames, queries):
        n_frames, h, w = frames.shape[:3]
        assert (h, w) == tracker.resolution, "frames are made at the model's input size"
        with torch.no_grad():
            video = (torch.from_numpy(frames).float() / 255.0 * 2.0 - 1.0)[None]
            q = torch.from_numpy(queries[:, [0, 2, 1]].copy())[None]
            ftracks, foccluded = run_eval_per_frame(video, q, h, w)
            bq = q.clone()
            bq[..., 0] = n_frames - q[..., 0] - 1
            btracks, boccluded = run_eval_per_frame(video.flip(1), bq, h, w)
        btracks, boccluded = np.flip(btracks, axis=2), np.flip(boccluded, axis=2)
        for i in range(q.shape[1]):
            t = int(q[0, i, 0].item())
            ftracks[0, i, :t] = btracks[0, i, :t]
            foccluded[0, i, :t] = boccluded[0, i, :t]
        return ftracks[0], ~foccluded[0]

    return run


def direct_locotrack(tracker, torch):
    """LocoTrack as its evaluation calls it: experiment.py `test_step` (config/default.ini's forward kwargs) and
    model_utils.eval_batch's occlusion rule, frames at the model's input size."""
    model = tracker.model

    def run(frames, queries):
        with torch.no_grad():
            video = (torch.from_numpy(frames).float() / 255.0 * 2.0 - 1.0)[None]
            q = torch.from_numpy(queries[:, [0, 2, 1]].copy())[None]
            output = model(video, q, refinement_resolutions=(tuple(frames.shape[1:3]),), query_chunk_size=256)
            pred_occ = torch.sigmoid(output["occlusion"])
            pred_occ = 1 - (1 - pred_occ) * (1 - torch.sigmoid(output["expected_dist"]))
        return output["tracks"][0].numpy(), ~(pred_occ > 0.5)[0].numpy()

    return run


def direct_alltracker(tracker, torch):
    """AllTracker as its evaluator's `forward_batch` runs it (per distinct query frame t, `model(rgbs[:, t:])`, or
    `forward_sliding` past 128 frames; grid + flow and vis · conf read at the query's rounded pixel), the frames
    before t as its demo's `forward_video` (the same call on rgbs[:, :t+1] flipped, flipped back without the
    overlapping frame). Pixel-grid coordinates: queries - 0.5 in, tracks + 0.5 out. On CPU, `.cuda()` is the
    identity during the call (upstream calls it on the frames)."""
    model = tracker.model

    def run(frames, queries):
        n_frames = len(frames)
        call = model.forward_sliding if (n_frames > 128 if tracker.sliding == "auto" else tracker.sliding) else model
        original = torch.Tensor.cuda
        if not torch.cuda.is_available():
            torch.Tensor.cuda = lambda self, *args, **kwargs: self
        try:
            with torch.no_grad():
                rgbs = torch.from_numpy(frames).permute(0, 3, 1, 2)[None].float()
                _, _, _, h, w = rgbs.shape
                ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
                grid_xy = torch.stack([xs, ys]).float().reshape(1, 1, 2, h, w)
                q = torch.from_numpy(queries).clone()
                q[:, 1:] -= 0.5
                xyt_all = q[:, 1:].round().long()
                xy = np.zeros((len(q), n_frames, 2), np.float32)
                score = np.zeros((len(q), n_frames), np.float32)
                for t in torch.unique(q[:, 0].long()).tolist():
                    rows = torch.nonzero(q[:, 0].long() == t)[:, 0]
                    traj_maps_e = grid_xy.repeat(1, n_frames, 1, 1, 1)
                    visconf_maps_e = torch.zeros_like(traj_maps_e)
                    if t < n_frames - 1:
                        flow_e, visconf_e, _, _ = call(rgbs[:, t:], iters=tracker.iters, sw=None, is_training=False)
                        traj_maps_e[:, t:] = flow_e + grid_xy
                        visconf_maps_e[:, t:] = visconf_e
                    if t > 0:
                        back_flow_e, back_visconf_e, _, _ = call(rgbs[:, :t + 1].flip([1]), iters=tracker.iters,
                                                                 sw=None, is_training=False)
                        if back_flow_e.dim() == 4:  # a 2-frame clip: one flow map (upstream's demo breaks), broadcast
                            back_flow_e, back_visconf_e = (x[:, None].expand(-1, 2, -1, -1, -1)
                                                           for x in (back_flow_e, back_visconf_e))
                        traj_maps_e[:, :t] = (back_flow_e + grid_xy).flip([1])[:, :-1]
                        visconf_maps_e[:, :t] = back_visconf_e.flip([1])[:, :-1]
                    xyt = xyt_all[rows]
                    trajs = traj_maps_e[0, :, :, xyt[:, 1], xyt[:, 0]].permute(2, 0, 1)
                    visconfs = visconf_maps_e[0, :, :, xyt[:, 1], xyt[:, 0]].permute(2, 0, 1)
                    xy[rows.numpy()] = trajs.numpy() + 0.5
                    score[rows.numpy()] = (visconfs[..., 0] * visconfs[..., 1]).numpy()
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
