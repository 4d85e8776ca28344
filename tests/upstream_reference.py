"""The upstream trackers called directly, as their own demos and evaluators call them: the reference the
adapters' equality tests compare with, and the direct side of `benchmarks/learned_trackers.py`.

Each takes the adapter's model (or the adapter, for its settings), uint8 frames `(T, H, W, 3)` and
`(t, x, y)` raster queries, and returns positions in image raster coordinates and what decides visibility.
"""

from __future__ import annotations

import numpy as np


def cotracker_predictor(tracker):
    """CoTracker's predictor for the adapter (online or offline, as the adapter is), around the adapter's model
    and with its settings."""
    from cotracker.predictor import CoTrackerOnlinePredictor, CoTrackerPredictor

    if tracker.online:
        predictor = CoTrackerOnlinePredictor(checkpoint=None, window_len=tracker.window_len)
        predictor.step = tracker.model.window_len // 2  # as upstream's evaluator sets it
    else:
        predictor = CoTrackerPredictor(checkpoint=None, window_len=tracker.window_len)
        predictor.support_grid_size = tracker.support_grid_size
    predictor.model, predictor.interp_shape = tracker.model, tracker.model_resolution
    return predictor


def cotracker(predictor, frames, queries, torch):
    """CoTracker's predictor as its README calls it: the offline one with backward_tracking; the online one fed
    steps of `step` frames in windows of 2·step, forward on the video for the frames from each query on and on
    the time-reversed video for the frames before. (xy, visible)."""
    from cotracker.predictor import CoTrackerOnlinePredictor

    video = torch.from_numpy(frames).permute(0, 3, 1, 2)[None].float()
    q = torch.from_numpy(queries).clone()
    q[:, 1:] -= 0.5  # CoTracker's pixel centres
    if not isinstance(predictor, CoTrackerOnlinePredictor):
        xy, visible = predictor(video, queries=q[None], backward_tracking=True)
        return xy[0].permute(1, 0, 2).numpy() + 0.5, visible[0].permute(1, 0).numpy()

    def run(video, q):
        predictor(video_chunk=video, is_first_step=True, queries=q[None])
        for ind in range(0, video.shape[1] - predictor.step, predictor.step):
            xy, visible = predictor(video_chunk=video[:, ind: ind + predictor.step * 2])
        return xy[0].permute(1, 0, 2).numpy() + 0.5, visible[0].permute(1, 0).numpy()

    forward = run(video, q)
    q[:, 0] = len(frames) - 1 - q[:, 0]
    backward = [a[:, ::-1] for a in run(video.flip(1), q)]
    before = np.arange(len(frames))[None] < queries[:, :1]
    return np.where(before[..., None], backward[0], forward[0]), np.where(before, backward[1], forward[1])


def tapir_forward(model, frames, queries, torch):
    """TAPIR as upstream's torch demo calls it: frames in [-1, 1], queries (t, y, x), one forward."""
    video = torch.from_numpy(frames).float() / 255 * 2 - 1
    q = torch.from_numpy(queries[:, [0, 2, 1]].copy())
    with torch.no_grad():
        out = model(video[None], q[None])
    return out["tracks"][0], out["occlusion"][0], out["expected_dist"][0]


def tapir_causal(model, frames, queries, torch):
    """The causal model as upstream's torch causal demo runs it: query features from the whole video, then frame
    by frame with the causal state."""
    video = (torch.from_numpy(frames).float() / 255 * 2 - 1)[None]
    q = torch.from_numpy(queries[:, [0, 2, 1]].copy())[None]
    with torch.no_grad():
        features = model.get_query_features(video, is_training=False, query_points=q,
                                            feature_grids=model.get_feature_grids(video, is_training=False))
        state = model.construct_initial_causal_state(q.shape[1], len(features.resolutions) - 1)
        outputs = []
        for i in range(video.shape[1]):
            frame = video[:, i: i + 1]
            out = model.estimate_trajectories(frame.shape[-3:-1], is_training=False,
                                              feature_grids=model.get_feature_grids(frame, is_training=False),
                                              query_features=features, query_points_in_video=None,
                                              query_chunk_size=64, causal_context=state, get_causal_context=True)
            state = out["causal_context"]
            outputs.append((out["tracks"][-1], out["occlusion"][-1], out["expected_dist"][-1]))
    return tuple(torch.cat(p, dim=2)[0] for p in zip(*outputs))


def tapnext(model, frames, queries, torch):
    """TAPNext as upstream's torch colabs evaluate it (`run_eval_per_frame`, `deterministic_eval(strided=True)`):
    frames in [-1, 1]; queries (t, y, x) scaled to the model's space (torch_tapnextpp_demo: `* 256 / h`); the first
    frame with every query, then frame by frame with the state; visible where logit > 0; tracks (y, x) scaled back
    and flipped to (x, y); frames before each query's frame from the pass over the reversed video."""
    n_frames, h, w = frames.shape[:3]
    mh, mw = model.image_size
    video = (torch.from_numpy(frames).float() / 255.0 * 2.0 - 1.0)[None]

    def run_eval_per_frame(video, q_points):
        q_points = q_points.clone()
        q_points[..., 1] = q_points[..., 1] * (mh / h)
        q_points[..., 2] = q_points[..., 2] * (mw / w)
        with torch.no_grad():
            pred_tracks, _, visible_logits, state = model(video=video[:, :1], query_points=q_points)
            tracks, visible = [pred_tracks], [visible_logits > 0]
            for frame in range(1, video.shape[1]):
                curr_tracks, _, curr_visible_logits, state = model(video=video[:, frame:frame + 1], state=state)
                tracks.append(curr_tracks)
                visible.append(curr_visible_logits > 0)
            tracks = torch.cat(tracks, dim=1).transpose(1, 2)
            occluded = ~torch.cat(visible, dim=1).transpose(1, 2).squeeze(-1)
            tracks = tracks.clone()
            tracks[..., 0] = tracks[..., 0] * (h / mh)
            tracks[..., 1] = tracks[..., 1] * (w / mw)
        return tracks.numpy()[..., ::-1], occluded.numpy()

    q = torch.from_numpy(queries[:, [0, 2, 1]].copy())[None]
    ftracks, foccluded = (a.copy() for a in run_eval_per_frame(video, q))
    bq = q.clone()
    bq[..., 0] = n_frames - q[..., 0] - 1
    btracks, boccluded = run_eval_per_frame(video.flip(1), bq)
    btracks, boccluded = np.flip(btracks, axis=2), np.flip(boccluded, axis=2)
    for i in range(q.shape[1]):
        t = int(q[0, i, 0].item())
        ftracks[0, i, :t] = btracks[0, i, :t]
        foccluded[0, i, :t] = boccluded[0, i, :t]
    return ftracks[0], ~foccluded[0]


def locotrack(model, frames, queries, torch):
    """LocoTrack as upstream's evaluation calls it (experiment.py test_step with config/default.ini's
    model_forward_kwargs, then model_utils.eval_batch's occlusion rule), on frames at the model's size."""
    video = (torch.from_numpy(frames).float() / 255.0 * 2.0 - 1.0)[None]
    q = torch.from_numpy(queries[:, [0, 2, 1]].copy())[None]
    with torch.no_grad():
        output = model(video, q, refinement_resolutions=(tuple(frames.shape[1:3]),), query_chunk_size=256)
    pred_occ = torch.sigmoid(output["occlusion"])
    pred_occ = 1 - (1 - pred_occ) * (1 - torch.sigmoid(output["expected_dist"]))
    return output["tracks"][0].numpy(), ~(pred_occ > 0.5)[0].numpy()


def alltracker(model, frames, queries, iters, sliding, torch):
    """AllTracker as upstream's evaluator (`test_dense_on_sparse.forward_batch`) samples it: per distinct query frame
    t, `model(rgbs[:, t:])` (or `forward_sliding`), dense trajectories = grid + flow read at the query's rounded
    pixel, vis · conf; frames before t as upstream's demo (`forward_video`): the same call on rgbs[:, :t+1] flipped,
    flipped back without the overlapping frame. Pixel-grid coordinates: queries - 0.5 in, tracks + 0.5 out."""
    run = model.forward_sliding if sliding else model
    rgbs = torch.from_numpy(frames).permute(0, 3, 1, 2)[None].float()
    _, n_frames, _, h, w = rgbs.shape
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    grid_xy = torch.stack([xs, ys]).float().reshape(1, 1, 2, h, w)
    q = torch.from_numpy(queries).clone()
    q[:, 1:] -= 0.5
    xyt_all = q[:, 1:].round().long()
    xy = np.zeros((len(q), n_frames, 2), np.float32)
    score = np.zeros((len(q), n_frames), np.float32)
    with torch.no_grad():
        for t in torch.unique(q[:, 0].long()).tolist():
            rows = torch.nonzero(q[:, 0].long() == t)[:, 0]
            traj_maps_e = grid_xy.repeat(1, n_frames, 1, 1, 1)
            visconf_maps_e = torch.zeros_like(traj_maps_e)
            if t < n_frames - 1:
                flow_e, visconf_e, _, _ = run(rgbs[:, t:], iters=iters, sw=None, is_training=False)
                traj_maps_e[:, t:] = flow_e + grid_xy
                visconf_maps_e[:, t:] = visconf_e
            if t > 0:
                back_flow_e, back_visconf_e, _, _ = run(rgbs[:, :t + 1].flip([1]), iters=iters, sw=None,
                                                        is_training=False)
                if back_flow_e.dim() == 4:  # a 2-frame clip: one flow map (upstream's demo breaks), broadcast
                    back_flow_e, back_visconf_e = (x[:, None].expand(-1, 2, -1, -1, -1)
                                                   for x in (back_flow_e, back_visconf_e))
                traj_maps_e[:, :t] = (back_flow_e + grid_xy).flip([1])[:, :-1]
                visconf_maps_e[:, :t] = back_visconf_e.flip([1])[:, :-1]
            xyt = xyt_all[rows]
            trajs = traj_maps_e[0, :, :, xyt[:, 1], xyt[:, 0]].permute(2, 0, 1)  # K, T, 2
            visconfs = visconf_maps_e[0, :, :, xyt[:, 1], xyt[:, 0]].permute(2, 0, 1)  # K, T, 2
            xy[rows.numpy()] = trajs.numpy() + 0.5
            score[rows.numpy()] = (visconfs[..., 0] * visconfs[..., 1]).numpy()
    return xy, score
