"""CoTracker3 (offline and online) through the upstream `cotracker` package (facebookresearch/co-tracker).

The adapter does what upstream's `CoTrackerPredictor` / `CoTrackerOnlinePredictor` do with query points,
and adds only what the harness needs: pixel-convention conversion, the backward pass for frames before
each query's frame (kept, unlike upstream's evaluator), query chunks, device and precision.

Pixel convention. CoTracker works in pixel-centre coordinates: its predictors resize frames with
`F.interpolate(..., align_corners=True)` and scale queries and tracks by `(size' - 1) / (size - 1)`, which
maps the centre of the first pixel (0) and of the last (size - 1) onto themselves; its feature sampling
(`bilinear_sampler`, align_corners=True) also reads coordinate 0 as the centre of pixel 0. pointbench uses
TAP-Vid raster coordinates (pixel centre at +0.5), so queries enter as `x - 0.5` and tracks leave as
`x + 0.5`. (Upstream's TAP-Vid loader instead scales normalised raster coordinates u by `size - 1`, which
is off the exact centre convention by 0.5 - u pixels at 256×256, up to ±0.5 px; this adapter is exact.)

Visibility. `vis` and `conf` are the model's sigmoid outputs. Upstream's rules:
  offline `CoTrackerPredictor`:        vis > 0.9 (conf ignored); the query frame is forced visible and the
                                       track snapped to the query point there;
  online `CoTrackerOnlinePredictor`:   vis * conf > 0.6;
  evaluator (`EvaluationPredictor` + `Evaluator.compute_metrics`, both models): vis * conf > 0.6.
`visibility_score` (vis | vis_conf) and `visibility_threshold` choose; the configs default to the
predictor of each model. `Tracks.confidence` is the score that is thresholded.
"""

from __future__ import annotations

import numpy as np

from pointbench.trackers import torch_support as ts
from pointbench.trackers.base import Tracker, validate_track_inputs
from pointbench.types import Tracks

COTRACKER_COMMIT = "82e02e8029753ad4ef13cf06be7f4fc5facdda4d"
COTRACKER_INSTALL = f"pip install 'cotracker @ git+https://github.com/facebookresearch/co-tracker.git@{COTRACKER_COMMIT}'"
OFFLINE_URL = "https://huggingface.co/facebook/cotracker3/resolve/main/scaled_offline.pth"
ONLINE_URL = "https://huggingface.co/facebook/cotracker3/resolve/main/scaled_online.pth"
VISIBILITY_SCORES = ("vis", "vis_conf")


class CoTracker3(Tracker):
    """CoTracker3, offline (whole video at once) or online (sliding windows of `window_len` frames).

    Args:
        online: the online model, fed `window_len // 2` new frames per step as upstream's online predictor.
        checkpoint: null (download `checkpoint_url` into torch's hub cache), a local file, or 'random'.
        model_resolution: [height, width] the frames are resized to (multiples of 4, upstream 384×512).
        window_len: frames per window (offline 60, online 16 for the released checkpoints).
        iters: refinement iterations per window (upstream predictors: 6).
        support_grid_size: an n×n grid of extra queries at frame 0 tracked with every pass and dropped
            (offline predictor: 6; online predictor: none, 0; upstream's evaluator: 5).
        visibility_score, visibility_threshold: visible where the score (`vis` or `vis * conf`) exceeds it.
        backward_tracking: fill frames before each query's frame by tracking the time-reversed video
            (upstream's `backward_tracking=True`); false keeps the forward pass's guesses there.
        max_queries_per_pass: queries per model pass (null: all at once, as upstream). CoTracker tracks
            the points of one pass jointly, so smaller passes bound memory but can change results.
        device: 'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:N'.
        precision: fp32, or fp16 / bf16 autocast on CUDA.
        model: further keyword arguments of the upstream model class (e.g. `num_virtual_tracks`); they
            must match the checkpoint, and the released checkpoints need none.
    """

    #: Packages whose version and source enter the prediction cache key (pointbench.provenance).
    upstream_packages = ("cotracker",)

    def __init__(self, online: bool = False, checkpoint: str | None = None, checkpoint_url: str | None = OFFLINE_URL,
                 model_resolution=(384, 512), window_len: int = 60, iters: int = 6, support_grid_size: int = 6,
                 visibility_score: str = "vis", visibility_threshold: float = 0.9, backward_tracking: bool = True,
                 max_queries_per_pass: int | None = None, device: str = "auto", precision: str = "fp32",
                 model: dict | None = None):
        self.online = bool(online)
        self.owner = f"CoTracker3 ({'online' if self.online else 'offline'})"
        o = self.owner
        self.model_resolution = ts.check_size(model_resolution, o, "model_resolution", multiple=4, minimum=32)
        if int(window_len) != window_len or window_len < 2:
            raise ValueError(f"{o}: 'window_len' must be an integer >= 2; got {window_len!r}")
        if int(iters) != iters or iters < 1:
            raise ValueError(f"{o}: 'iters' must be a positive integer; got {iters!r}")
        if int(support_grid_size) != support_grid_size or support_grid_size < 0:
            raise ValueError(f"{o}: 'support_grid_size' must be an integer >= 0; got {support_grid_size!r}")
        if visibility_score not in VISIBILITY_SCORES:
            raise ValueError(f"{o}: 'visibility_score' must be one of {VISIBILITY_SCORES}; got {visibility_score!r}")
        if not 0.0 <= float(visibility_threshold) <= 1.0:
            raise ValueError(f"{o}: 'visibility_threshold' must be in [0, 1]; got {visibility_threshold!r}")
        self.window_len, self.iters = int(window_len), int(iters)
        self.support_grid_size = int(support_grid_size)
        self.visibility_score, self.visibility_threshold = visibility_score, float(visibility_threshold)
        self.backward_tracking = bool(backward_tracking)
        self.max_queries_per_pass = ts.check_chunk_size(max_queries_per_pass, o)
        ts.check_precision(precision, o)
        ts.check_checkpoint(checkpoint, checkpoint_url, o)
        extra = dict(model or {})
        clash = sorted(set(extra) & {"stride", "corr_radius", "window_len", "model_resolution"})
        if clash:
            raise ValueError(f"{o}: set {clash} as tracker keys, not inside 'model'")
        needs = {"torch": ts.TORCH_INSTALL, "cotracker": COTRACKER_INSTALL}
        torch, self.device = ts.start(o, needs, device, precision)
        self.torch, self.precision = torch, precision
        with ts.preserved_rng(torch):  # importing the model modules calls torch.manual_seed(0)
            module = "cotracker3_online" if self.online else "cotracker3_offline"
            models = ts.import_upstream(f"cotracker.models.core.cotracker.{module}", o, COTRACKER_INSTALL)
            self._grid = ts.import_upstream("cotracker.models.core.model_utils", o, COTRACKER_INSTALL).get_points_on_a_grid
        cls = models.CoTrackerThreeOnline if self.online else models.CoTrackerThreeOffline

        # as upstream's build_cotracker, plus the model resolution it leaves at 384×512
        kwargs = dict(stride=4, corr_radius=3, window_len=self.window_len, model_resolution=self.model_resolution,
                      **extra)
        self.model = ts.build_model(torch, cls, kwargs, checkpoint, checkpoint_url, o).to(self.device)

    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        torch = self.torch
        any_query = validate_track_inputs(frames, queries, self.owner)
        n_frames, height, width = frames.shape[:3]
        if min(height, width) < 2:
            raise ValueError(f"{self.owner}: frames must be at least 2×2 pixels; got {height}×{width}")
        if not any_query:
            return Tracks.empty(n_frames)
        h, w = self.model_resolution
        to_model = torch.tensor([(w - 1) / (width - 1), (h - 1) / (height - 1)], device=self.device)
        to_image = torch.tensor([(width - 1) / (w - 1), (height - 1) / (h - 1)], device=self.device)
        xy, score, visible = [], [], []
        with torch.no_grad(), ts.autocast(torch, self.device, self.precision, self.owner):
            video = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).permute(0, 3, 1, 2).float()
            video = torch.nn.functional.interpolate(video, (h, w), mode="bilinear", align_corners=True)[None]
            reversed_video = None
            for chunk in ts.query_chunks(len(queries), self.max_queries_per_pass):
                q = torch.from_numpy(np.array(queries[chunk])).to(self.device)[None]
                q[..., 1:] -= 0.5  # raster -> pixel centre
                q[..., 1:] *= to_model
                needs_backward = self.backward_tracking and bool((q[0, :, 0] > 0).any())
                if needs_backward and reversed_video is None:
                    reversed_video = video.flip(1)
                coords, s, v = self._track_chunk(video, reversed_video if needs_backward else None, q)
                xy.append(coords * to_image + 0.5)  # pixel centre -> raster
                score.append(s)
                visible.append(v)
        return Tracks(
            xy=torch.cat(xy).float().cpu().numpy(),
            visible=torch.cat(visible).cpu().numpy(),
            confidence=torch.cat(score).float().clamp(0, 1).cpu().numpy(),
        )

    def _track_chunk(self, video, reversed_video, q):
        """Tracks of queries `q` (1, n, 3) in model coordinates: coords (n, T, 2), score (n, T), visible (n, T)."""
        torch = self.torch
        n, n_frames = q.shape[1], video.shape[1]
        if self.support_grid_size:
            grid = self._grid(self.support_grid_size, self.model_resolution, device=self.device)
            q = torch.cat([q, torch.cat([torch.zeros_like(grid[..., :1]), grid], dim=2)], dim=1)
        coords, vis, conf = self._run(video, q)
        if reversed_video is not None:
            q_rev = q.clone()
            q_rev[..., 0] = n_frames - 1 - q_rev[..., 0]
            rev = [x.flip(1) for x in self._run(reversed_video, q_rev)]
            before = torch.arange(n_frames, device=q.device)[None, :, None] < q[:, None, :, 0]  # (1, T, N)
            coords = torch.where(before[..., None], rev[0], coords)
            vis, conf = torch.where(before, rev[1], vis), torch.where(before, rev[2], conf)
        coords, vis, conf = coords[0, :, :n], vis[0, :, :n], conf[0, :, :n]  # (T, n, ...): drop the support grid
        score = vis if self.visibility_score == "vis" else vis * conf
        visible = score > self.visibility_threshold
        if not self.online:  # the offline predictor pins each track to its query point at the query frame
            frame, index = q[0, :n, 0].long(), torch.arange(n, device=q.device)
            coords[frame, index] = q[0, :n, 1:].to(coords.dtype)
            visible[frame, index] = True
        return coords.transpose(0, 1), score.transpose(0, 1), visible.transpose(0, 1)

    def _run(self, video, q):
        """One model pass over the whole video: coords (1, T, N, 2), vis and conf (1, T, N)."""
        if not self.online:
            coords, vis, conf, _ = self.model(video=video, queries=q, iters=self.iters)
            return coords, vis, conf
        # As upstream's online predictor: windows of 2·step frames starting every step frames, the last
        # one shorter; a video of at most 2·step frames is one window.
        step, n_frames = self.model.window_len // 2, video.shape[1]
        self.model.init_video_online_processing()
        for start in range(0, max(n_frames - step, 1), step):
            coords, vis, conf, _ = self.model(video=video[:, start:start + 2 * step], queries=q, iters=self.iters,
                                              is_online=True)
        return coords, vis, conf
