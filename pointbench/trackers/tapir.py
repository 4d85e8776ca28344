"""TAPIR and BootsTAPIR (offline, and the causal online model) through upstream `tapnet.torch`.

The adapter calls the model as upstream's torch demos do (`colabs/torch_tapir_demo.ipynb`,
`colabs/torch_causal_tapir_demo.ipynb`, `tapnet/pytorch_live_demo.py`) and adds only resizing, query
conversion, device and precision.

Pixel convention. TAPIR works in raster coordinates, like pointbench: queries (t, y, x) and tracks (x, y)
at the model's input size, converted between sizes by the plain ratio (`convert_grid_coordinates`). Frames
are resized to `resolution` (default 256×256) with antialiased bilinear interpolation (align_corners=False,
the raster-consistent resize) and scaled to [-1, 1]; queries are scaled by resolution / image size and
tracks back by the inverse. Frames already at `resolution` are not resampled.

Visibility, as upstream: visible where (1 - sigmoid(occlusion)) * (1 - sigmoid(expected_dist)) exceeds
`visibility_threshold` (0.5); that product is `Tracks.confidence`.

Offline: one forward pass over the whole video; TAPIR matches every query in every frame, so frames
before a query's frame are predicted by the same pass. Online (causal model, `use_casual_conv=True`):
query features are taken from each query's own frame, then frames are fed one at a time with the causal
state carried along (`estimate_trajectories(..., causal_context=..., get_causal_context=True)`), the
last refinement resolution's output kept, exactly as upstream's causal demo.
"""

from __future__ import annotations

import numpy as np

from pointbench.trackers import torch_support as ts
from pointbench.trackers.base import Tracker, validate_track_inputs
from pointbench.types import Tracks

TAPNET_COMMIT = "c2cbab81cc06092b5f05bfe2da7bfec54e2079c9"
# tapnet's own dependencies are JAX's; its torch model needs only torch, einshape and dm-tree.
TAPNET_INSTALL = (f"pip install --no-deps 'tapnet @ git+https://github.com/google-deepmind/tapnet.git@{TAPNET_COMMIT}' "
                  "&& pip install einshape dm-tree")
TAPIR_URL = "https://storage.googleapis.com/dm-tapnet/tapir_checkpoint_panning.pt"
BOOTSTAPIR_URL = "https://storage.googleapis.com/dm-tapnet/bootstap/bootstapir_checkpoint_v2.pt"
CAUSAL_BOOTSTAPIR_URL = "https://storage.googleapis.com/dm-tapnet/bootstap/causal_bootstapir_checkpoint.pt"


class Tapir(Tracker):
    """TAPIR / BootsTAPIR through `tapnet.torch.tapir_model.TAPIR`.

    Args:
        online: the causal model, fed one frame at a time.
        checkpoint: null (download `checkpoint_url` into torch's hub cache), a local file, or 'random'.
        model: keyword arguments of `TAPIR(...)`; they must match the checkpoint (see the configs).
        resolution: [height, width] the frames are resized to (multiples of 8; published numbers: 256×256).
        visibility_threshold: visible where (1 - σ(occlusion)) · (1 - σ(expected_dist)) exceeds it.
        max_queries_per_pass: queries per cost-volume pass (upstream's `query_chunk_size`, default 64);
            TAPIR tracks each query on its own, so this bounds memory without changing results.
        device: 'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:N'.
        precision: fp32, or fp16 / bf16 autocast on CUDA.
    """

    #: Packages whose version and source enter the prediction cache key (pointbench.provenance).
    upstream_packages = ("tapnet",)

    def __init__(self, online: bool = False, checkpoint: str | None = None, checkpoint_url: str | None = BOOTSTAPIR_URL,
                 model: dict | None = None, resolution=(256, 256), visibility_threshold: float = 0.5,
                 max_queries_per_pass: int = 64, device: str = "auto", precision: str = "fp32"):
        self.online = bool(online)
        self.owner = f"TAPIR ({'online' if self.online else 'offline'})"
        o = self.owner
        self.resolution = ts.check_size(resolution, o, "resolution", multiple=8, minimum=8)
        if not 0.0 <= float(visibility_threshold) <= 1.0:
            raise ValueError(f"{o}: 'visibility_threshold' must be in [0, 1]; got {visibility_threshold!r}")
        self.visibility_threshold = float(visibility_threshold)
        chunk = ts.check_chunk_size(max_queries_per_pass, o)
        if chunk is None:
            raise ValueError(f"{o}: 'max_queries_per_pass' must be a positive integer; got None")
        self.max_queries_per_pass = chunk
        model = dict(model or {})
        if "use_casual_conv" in model:
            raise ValueError(f"{o}: set 'online' instead of model.use_casual_conv")
        ts.check_precision(precision, o)
        ts.check_checkpoint(checkpoint, checkpoint_url, o)
        needs = {"torch": ts.TORCH_INSTALL, "tapnet": TAPNET_INSTALL, "einshape": TAPNET_INSTALL,
                 "tree": TAPNET_INSTALL}
        torch, self.device = ts.start(o, needs, device, precision)
        self.torch, self.precision = torch, precision
        with ts.preserved_rng(torch):
            tapir_model = ts.import_upstream("tapnet.torch.tapir_model", o, TAPNET_INSTALL)

        self.model = ts.build_model(torch, tapir_model.TAPIR, dict(model, use_casual_conv=self.online), checkpoint,
                                    checkpoint_url, o).to(self.device)

    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        torch = self.torch
        if not validate_track_inputs(frames, queries, self.owner):
            return Tracks.empty(len(frames))
        n_frames, height, width = frames.shape[:3]
        h, w = self.resolution
        with ts.inference(torch, self.device, self.precision, self.owner):
            video = self._prepare(frames)
            # (t, x, y) raster in the image -> (t, y, x) raster at the model's input size
            scale = np.array([1.0, h / height, w / width])
            points = torch.from_numpy((queries[:, [0, 2, 1]] * scale).astype(np.float32)).to(self.device)[None]
            tracks, occlusion, expected_dist = (self._online if self.online else self._offline)(video, points)
            score = (1 - torch.sigmoid(occlusion.float())) * (1 - torch.sigmoid(expected_dist.float()))
            to_image = torch.tensor([width / w, height / h], device=self.device)
            xy = tracks.float() * to_image
        return Tracks(
            xy=xy[0].cpu().numpy().astype(np.float32),
            visible=(score > self.visibility_threshold)[0].cpu().numpy(),
            confidence=score[0].clamp(0, 1).cpu().numpy().astype(np.float32),
        )

    def _prepare(self, frames: np.ndarray):
        """uint8 (T, H, W, 3) -> float (1, T, h, w, 3) in [-1, 1] at `resolution`."""
        torch = self.torch
        video = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).float()
        if tuple(frames.shape[1:3]) != self.resolution:
            video = torch.nn.functional.interpolate(video.permute(0, 3, 1, 2), self.resolution, mode="bilinear",
                                                    align_corners=False, antialias=True).permute(0, 2, 3, 1)
        return (video / 255 * 2 - 1)[None]

    def _offline(self, video, points):
        """The model's forward, as the torch demo calls it: tracks (1, N, T, 2), occlusion and expected_dist (1, N, T)."""
        out = self.model(video, points, query_chunk_size=self.max_queries_per_pass)
        return out["tracks"], out["occlusion"], out["expected_dist"]

    def _online(self, video, points):
        """The causal model frame by frame, as upstream's causal demo."""
        torch, model = self.torch, self.model
        features = self._query_features(video, points)
        state = model.construct_initial_causal_state(points.shape[1], len(features.resolutions) - 1)
        state = [{k: v.to(self.device) for k, v in d.items()} for d in state]
        outputs = []
        for t in range(video.shape[1]):
            frame = video[:, t:t + 1]
            grids = model.get_feature_grids(frame, is_training=False)
            out = model.estimate_trajectories(frame.shape[-3:-1], is_training=False, feature_grids=grids,
                                              query_features=features, query_points_in_video=None,
                                              query_chunk_size=self.max_queries_per_pass, causal_context=state,
                                              get_causal_context=True)
            state = out["causal_context"]
            outputs.append((out["tracks"][-1], out["occlusion"][-1], out["expected_dist"][-1]))
        return tuple(torch.cat(parts, dim=2) for parts in zip(*outputs))

    def _query_features(self, video, points):
        """Query features of every query from its own frame only (ResNet features are per frame, so this equals
        upstream's `get_query_features` on the whole video, without holding every frame's features)."""
        torch, model = self.torch, self.model
        frame_of = points[0, :, 0].long()
        parts = []
        for t in torch.unique(frame_of).tolist():
            rows = torch.nonzero(frame_of == t)[:, 0]
            frame = video[:, t:t + 1]
            local = points[:, rows].clone()
            local[..., 0] = 0
            grids = model.get_feature_grids(frame, is_training=False)
            parts.append((rows, model.get_query_features(frame, is_training=False, query_points=local,
                                                         feature_grids=grids)))
        first = parts[0][1]

        def gather(field):
            levels = []
            for level in range(len(getattr(first, field))):
                ref = getattr(first, field)[level]
                full = ref.new_zeros(ref.shape[0], points.shape[1], *ref.shape[2:])
                for rows, feats in parts:
                    full[:, rows] = getattr(feats, field)[level]
                levels.append(full)
            return tuple(levels)

        return type(first)(lowres=gather("lowres"), hires=gather("hires"), resolutions=first.resolutions)
