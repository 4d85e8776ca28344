"""TAPNext, BootsTAPNext and TAPNext++ through upstream tapnet's torch code (`tapnet/tapnext/tapnext_torch.py`).

The adapter calls the model as upstream's torch evaluation colabs do (`colabs/torch_tapnext_demo.ipynb`,
`colabs/torch_tapnextpp_demo.ipynb`: `run_eval_per_frame` and `deterministic_eval`) and adds only resizing,
query conversion, device and precision.

Causal, frame by frame. The first frame goes in with every query, `model(video=frame0, query_points=q)`;
each later frame with the tracking state only, `model(video=frame_t, state=state)`. A query on frame t
enters at its own frame (the model shifts query times by the state's step); the frames before it are
meaningless in this forward pass. Frames before a query's frame: as upstream's strided evaluation, a second
causal pass over the time-reversed video with query frames `T - 1 - t`, whose outputs, flipped back, replace
those frames (`backward_tracking`, default true; without it they keep the forward pass's guesses). Only
videos with a query after frame 0 run the second pass.

Pixel convention. TAPNext works in raster coordinates, like pointbench: queries (t, y, x), tracks (y, x),
both in the model's coordinate space `model.image_size` (256×256 for every released checkpoint), whatever
size the frames enter at. Frames are resized to `resolution` (256×256; 512×512 for the TAPNext++ 512
checkpoint, whose patch grid the model's position embedding is interpolated to, as upstream) with
antialiased bilinear interpolation (align_corners=False) and scaled to [-1, 1]; frames already at
`resolution` are not resampled. Queries scale by model size / image size, tracks back by the inverse (the
plain ratio, as upstream's `display_to_model` / `model_to_display`).

Visibility, as upstream: visible where the visibility logit > 0, i.e. sigmoid(logit) > 0.5 (`vis`); or,
with `visibility_score=vis_certainty`, where sigmoid(logit) · `tracker_certainty(tracks, track_logits, 8)`
> 0.5 (upstream's `use_certainty=True`). That score is `Tracks.confidence`.

Points of one pass are tracked jointly (their tokens attend to each other in every ViT block), so
`max_queries_per_pass` (default null: all at once, as upstream) bounds memory but can change results.

Random weights. Upstream's torch port creates some parameters with `torch.empty` and never initialises them
(it is meant for loading checkpoints: RMSNorm, BlockDiagonalLinear, RG-LRU, CausalConv1D, Einsum in
`tapnext_lru_modules.py`). With checkpoint=random the adapter gives those the initialisers of
recurrentgemma, whose RG-LRU upstream ports (norm scales and biases zero, weights normal with the module's
`w_init_variance_scale` over the fan-in, the RG-LRU's `a_param` such that a ∈ [0.9, 0.999]); every other
parameter keeps torch's default initialisation, all under a fixed seed.
"""

from __future__ import annotations

import math

import numpy as np

from pointbench.trackers import torch_support as ts
from pointbench.trackers.base import Tracker, validate_track_inputs
from pointbench.types import Tracks

TAPNET_COMMIT = "c2cbab81cc06092b5f05bfe2da7bfec54e2079c9"
# tapnet's declared dependencies are JAX's; its TAPNext torch code needs torch, torchvision and einops.
TAPNEXT_INSTALL = (f"pip install torchvision einops && pip install --no-deps "
                   f"'tapnet @ git+https://github.com/google-deepmind/tapnet.git@{TAPNET_COMMIT}'")
TAPNEXT_URL = "https://storage.googleapis.com/dm-tapnet/tapnext/tapnext_ckpt.npz"
BOOTSTAPNEXT_URL = "https://storage.googleapis.com/dm-tapnet/tapnext/bootstapnext_ckpt.npz"
TAPNEXTPP_URL = "https://storage.googleapis.com/dm-tapnet/tapnextpp/tapnextpp_ckpt.pt"
TAPNEXTPP_512_URL = "https://storage.googleapis.com/gresearch/tapnextpp/tapnextpp_512.ckpt"
VISIBILITY_SCORES = ("vis", "vis_certainty")
CERTAINTY_RADIUS = 8  # upstream's run_eval_per_frame(radius=8)


class TAPNext(Tracker):
    """TAPNext / BootsTAPNext / TAPNext++ through `tapnet.tapnext.tapnext_torch.TAPNext`.

    Args:
        checkpoint: null (download `checkpoint_url` into torch's hub cache), a local file, or 'random'.
            `.npz`: a JAX checkpoint, converted by upstream's `restore_model_from_jax_checkpoint`;
            otherwise a torch file read with `weights_only=True` (a `state_dict` wrapper and the
            `tapnext.` key prefix are removed, as upstream's `TAPNextPP.from_checkpoint`).
        model: keyword arguments of `TAPNext(...)`; `image_size` is the model's coordinate space
            ([256, 256] for every released checkpoint).
        resolution: [height, width] the frames are resized to (multiples of the patch size, 8).
        visibility_score: `vis` (sigmoid of the visibility logit, upstream's default) or `vis_certainty`
            (times upstream's `tracker_certainty`); visible where it exceeds `visibility_threshold`.
        backward_tracking: fill frames before each query's frame from the time-reversed video.
        max_queries_per_pass: queries per pass (null: all at once, as upstream; points of a pass interact).
        device: 'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:N'.
        precision: fp32, or fp16 / bf16 autocast on CUDA (upstream's colabs evaluate under fp16 autocast).
    """

    #: Packages whose version and source enter the prediction cache key (pointbench.provenance).
    upstream_packages = ("tapnet",)

    def __init__(self, checkpoint: str | None = None, checkpoint_url: str | None = BOOTSTAPNEXT_URL,
                 model: dict | None = None, resolution=(256, 256), visibility_score: str = "vis",
                 visibility_threshold: float = 0.5, backward_tracking: bool = True,
                 max_queries_per_pass: int | None = None, device: str = "auto", precision: str = "fp32"):
        o = self.owner = "TAPNext"
        model = dict(model or {})
        self.image_size = ts.check_size(model.pop("image_size", (256, 256)), o, "model.image_size", multiple=8,
                                        minimum=8)
        patch = model.get("patch_size", (8, 8))
        self.resolution = ts.check_size(resolution, o, "resolution", multiple=int(max(patch)), minimum=8)
        if visibility_score not in VISIBILITY_SCORES:
            raise ValueError(f"{o}: 'visibility_score' must be one of {VISIBILITY_SCORES}; got {visibility_score!r}")
        if not 0.0 < float(visibility_threshold) < 1.0:
            raise ValueError(f"{o}: 'visibility_threshold' must be in (0, 1); got {visibility_threshold!r}")
        self.visibility_score, self.visibility_threshold = visibility_score, float(visibility_threshold)
        self.backward_tracking = bool(backward_tracking)
        self.max_queries_per_pass = ts.check_chunk_size(max_queries_per_pass, o)
        ts.check_precision(precision, o)
        ts.check_checkpoint(checkpoint, checkpoint_url, o)
        needs = {"torch": ts.TORCH_INSTALL, "torchvision": TAPNEXT_INSTALL, "einops": TAPNEXT_INSTALL,
                 "tapnet": TAPNEXT_INSTALL}
        torch, self.device = ts.start(o, needs, device, precision)
        self.torch, self.precision = torch, precision
        with ts.preserved_rng(torch):
            self._upstream = ts.import_upstream("tapnet.tapnext.tapnext_torch", o, TAPNEXT_INSTALL)
            self._utils = ts.import_upstream("tapnet.tapnext.tapnext_torch_utils", o, TAPNEXT_INSTALL)
            self._lru = ts.import_upstream("tapnet.tapnext.tapnext_lru_modules", o, TAPNEXT_INSTALL)
        self.model = self._build(model, checkpoint, checkpoint_url).to(self.device)

    # ------------------------------------------------------------------ model

    def _build(self, kwargs: dict, checkpoint, url):
        torch, o = self.torch, self.owner
        path = ts.checkpoint_file(torch, checkpoint, url, o)
        with ts.preserved_rng(torch):
            torch.manual_seed(0)
            try:
                model = self._upstream.TAPNext(image_size=self.image_size, **kwargs)
            except TypeError as error:
                raise ValueError(f"{o}: 'model' has a key TAPNext(...) does not take: {error}") from error
            if path is None:
                self._initialise_empty(model)
        if path is None:
            return model.eval()
        try:
            if path.suffix == ".npz":  # upstream's converter reads it with np.load (no pickle)
                self._utils.restore_model_from_jax_checkpoint(model, str(path))
            else:
                state = ts.unwrap_state(torch.load(path, map_location="cpu", weights_only=True), "state_dict",
                                        "tapnext.")
                model.load_state_dict(state)
        except (RuntimeError, KeyError, ValueError) as error:
            raise ValueError(f"{o}: checkpoint {path} does not fit the model this config builds "
                             f"(check the model settings against the checkpoint): {error}") from error
        return model.eval()

    def _initialise_empty(self, model) -> None:
        """Deterministic values for the parameters upstream creates with torch.empty (see the module docstring)."""
        torch, lru = self.torch, self._lru
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, lru.RMSNorm):
                    module.scale.zero_()
                elif isinstance(module, lru.BlockDiagonalLinear):
                    module.w.normal_(0.0, math.sqrt(module.w_init_variance_scale / module.block_width))
                    module.b.zero_()
                elif isinstance(module, lru.CausalConv1D):
                    module.w.normal_(0.0, math.sqrt(module.w_init_variance_scale / module.temporal_width))
                    module.b.zero_()
                elif isinstance(module, lru.Einsum):
                    module.w.normal_(0.0, math.sqrt(module.w_init_variance_scale / module.w_shape[0]))
                    module.b.zero_()
                if isinstance(module, lru.RGLRU):  # recurrentgemma: decay radius in [0.9, 0.999], softplus-inverted
                    radius = torch.empty_like(module.a_param).uniform_(0.9**2, 0.999**2).log_().mul_(0.5)
                    module.a_param.copy_(radius.neg_().exp_().sub_(1.0).log_())

    # ------------------------------------------------------------------ tracking

    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        torch = self.torch
        if not validate_track_inputs(frames, queries, self.owner):
            return Tracks.empty(len(frames))
        n_frames, height, width = frames.shape[:3]
        mh, mw = self.image_size
        xy, score, visible = [], [], []
        with ts.inference(torch, self.device, self.precision, self.owner):
            video = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)  # uint8; frames converted one by one
            scale = np.array([1.0, mh / height, mw / width])
            to_image = torch.tensor([width / mw, height / mh], device=self.device)
            for chunk in ts.query_chunks(len(queries), self.max_queries_per_pass):
                # (t, x, y) raster in the image -> (t, y, x) raster in the model's space
                q = torch.from_numpy((queries[chunk][:, [0, 2, 1]] * scale).astype(np.float32)).to(self.device)[None]
                tracks, s, v = self._run(video, q, reverse=False)
                if self.backward_tracking and bool((q[0, :, 0] > 0).any()):
                    q_rev = q.clone()
                    q_rev[..., 0] = n_frames - 1 - q_rev[..., 0]
                    back = self._run(video, q_rev, reverse=True)
                    before = torch.arange(n_frames, device=self.device)[None, :] < q[0, :, :1]  # (n, T)
                    tracks = torch.where(before[..., None], back[0], tracks)
                    s, v = torch.where(before, back[1], s), torch.where(before, back[2], v)
                xy.append(tracks.float().flip(-1) * to_image)  # (y, x) -> (x, y), model -> image
                score.append(s.float())
                visible.append(v)
        score = torch.cat(score)
        return Tracks(
            xy=torch.cat(xy).cpu().numpy().astype(np.float32),
            visible=torch.cat(visible).cpu().numpy(),
            confidence=score.clamp(0, 1).cpu().numpy().astype(np.float32),
        )

    def _frame(self, video, t: int):
        """uint8 frame t of (T, H, W, 3) -> float (1, 1, h, w, 3) in [-1, 1] at `resolution`."""
        frame = video[t:t + 1].float()
        if tuple(frame.shape[1:3]) != self.resolution:
            frame = self.torch.nn.functional.interpolate(frame.permute(0, 3, 1, 2), self.resolution, mode="bilinear",
                                                         align_corners=False, antialias=True).permute(0, 2, 3, 1)
        return (frame / 255 * 2 - 1)[None]

    def _run(self, video, q, reverse: bool):
        """One causal pass (over the time-reversed video if `reverse`), as upstream's `run_eval_per_frame`: tracks
        (n, T, 2) as (y, x) in model space, visibility score and visible (n, T), in the video's frame order."""
        torch, model, n_frames = self.torch, self.model, len(video)
        order = range(n_frames - 1, -1, -1) if reverse else range(n_frames)
        tracks, scores, visible, state = [], [], [], None
        for i, t in enumerate(order):
            if i == 0:
                out = model(video=self._frame(video, t), query_points=q)
            else:
                out = model(video=self._frame(video, t), state=state)
            frame_tracks, track_logits, visible_logits, state = out
            score, vis = self._visibility(frame_tracks, track_logits, visible_logits)
            tracks.append(frame_tracks[0, 0])
            scores.append(score)
            visible.append(vis)
        tracks, scores, visible = torch.stack(tracks, 1), torch.stack(scores, 1), torch.stack(visible, 1)
        if reverse:
            tracks, scores, visible = tracks.flip(1), scores.flip(1), visible.flip(1)
        return tracks, scores, visible

    def _visibility(self, frame_tracks, track_logits, visible_logits):
        """Score and visible (n,) of one frame's outputs: tracks (1, 1, n, 2), logits (1, 1, n, 512), (1, 1, n, 1)."""
        torch = self.torch
        logits = visible_logits[0, 0, :, 0]
        if self.visibility_score == "vis":
            # upstream's rule is logit > 0; the threshold on the sigmoid is applied to the logit, exactly
            threshold = math.log(self.visibility_threshold / (1 - self.visibility_threshold))
            return torch.sigmoid(logits.float()), logits > threshold
        certainty = self._utils.tracker_certainty(frame_tracks[0, 0], track_logits[0, 0], CERTAINTY_RADIUS)[:, 0]
        score = torch.sigmoid(logits) * certainty
        return score, score > self.visibility_threshold
