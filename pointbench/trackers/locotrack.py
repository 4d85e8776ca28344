"""LocoTrack (Cho et al., ECCV 2024) through its upstream PyTorch model (cvlab-kaist/locotrack, `locotrack_pytorch/`).

The adapter calls the model as upstream's evaluation does (`locotrack_pytorch/experiment.py`:
`LocoTrackModel.test_step` -> `model(video, query_points, **model_forward_kwargs)` with
`config/default.ini`'s `query_chunk_size=256`, then `model_utils.eval_batch`) and adds only resizing, query
conversion, device and precision.

Upstream's code is not an installable package: it imports itself as the top-level package `models` (as
SpaTrackerV2 does). Point `repo` at a clone (or at its `locotrack_pytorch/` folder); the adapter imports it
from there without leaving `models` in `sys.modules` (pointbench.trackers.torch_support.import_from_repo), so
it can share a process with SpatialTrackerV2. With repo null, `models.locotrack_model` must already be
importable (PYTHONPATH).

Pixel convention. LocoTrack is TAPIR's lineage and works in raster coordinates, like pointbench: queries
(t, y, x) and tracks (x, y) at the model's input size. Frames are resized to `resolution` (default 256×256,
upstream's evaluation size) with antialiased bilinear interpolation (align_corners=False) and scaled to
[-1, 1]; frames already at `resolution` are not resampled. Queries scale by resolution / image size,
tracks back by the inverse.

Offline: one forward pass over the whole video; every query is matched in every frame, so frames before a
query's frame come from the same pass (no backward pass needed; its transformer attends both ways in time).
Visibility, as upstream's `eval_batch`: occluded where 1 - (1 - σ(occlusion)) · (1 - σ(expected_dist)) > 0.5,
visible elsewhere; the product is `Tracks.confidence`. Queries are tracked independently, so `max_queries_per_pass`
(upstream's `query_chunk_size`) only bounds memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pointbench.trackers import torch_support as ts
from pointbench.trackers.base import Tracker, validate_track_inputs
from pointbench.types import Tracks

LOCOTRACK_COMMIT = "3385a233a270160b253a69050c6a3934527f7775"
LOCOTRACK_INSTALL = ("git clone https://github.com/cvlab-kaist/locotrack.git && git -C locotrack checkout "
                     f"{LOCOTRACK_COMMIT} && pip install einops, then tracker.repo=$PWD/locotrack "
                     "(or export LOCOTRACK_REPO=$PWD/locotrack)")
BASE_URL = "https://huggingface.co/datasets/hamacojr/LocoTrack-pytorch-weights/resolve/main/locotrack_base.ckpt"
SMALL_URL = "https://huggingface.co/datasets/hamacojr/LocoTrack-pytorch-weights/resolve/main/locotrack_small.ckpt"
PACKAGES = ("models",)  # upstream's top-level package
MODULE = "models.locotrack_model"


def source_folder(repo, owner: str) -> Path | None:
    """The folder that holds upstream's `models/` package: `repo` itself or its `locotrack_pytorch/`."""
    if repo is None:
        return None
    path = Path(str(repo)).expanduser().resolve()
    for folder in (path / "locotrack_pytorch", path):
        if (folder / "models" / "locotrack_model.py").is_file():
            return folder
    raise FileNotFoundError(f"{owner}: 'repo' must be a clone of cvlab-kaist/locotrack (with "
                            f"locotrack_pytorch/models/locotrack_model.py); {path} is not. Get it with:\n"
                            f"    {LOCOTRACK_INSTALL}")


class LocoTrack(Tracker):
    """LocoTrack through upstream `locotrack_pytorch/models/locotrack_model.LocoTrack`.

    Args:
        checkpoint: null (download `checkpoint_url` into torch's hub cache), a local file, or 'random'.
            The released files are Lightning checkpoints: read with `weights_only=True`, their
            `state_dict` unwrapped and the `model.` key prefix removed, as upstream's `load_model`.
        repo: the locotrack clone to import from; null: `models.locotrack_model` already importable.
        model: keyword arguments of `LocoTrack(...)`; `model_size` base (LocoTrack-B) or small must match
            the checkpoint.
        resolution: [height, width] the frames are resized to (multiples of 8; upstream's evaluation: 256×256).
        refinement_resolutions: upstream's forward argument; null: its default for the input size (at
            256×256 that is upstream's evaluation setting, ((256, 256),)).
        visibility_threshold: visible where (1 - σ(occlusion)) · (1 - σ(expected_dist)) reaches it.
        max_queries_per_pass: upstream's `query_chunk_size` (its evaluation: 256); memory only.
        device: 'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:N'.
        precision: fp32, or fp16 / bf16 autocast on CUDA.
    """

    def __init__(self, checkpoint: str | None = None, checkpoint_url: str | None = BASE_URL, repo: str | None = None,
                 model: dict | None = None, resolution=(256, 256), refinement_resolutions=None,
                 visibility_threshold: float = 0.5, max_queries_per_pass: int = 256, device: str = "auto",
                 precision: str = "fp32"):
        o = self.owner = "LocoTrack"
        self.resolution = ts.check_size(resolution, o, "resolution", multiple=8, minimum=8)
        self.refinement_resolutions = None
        if refinement_resolutions is not None:
            self.refinement_resolutions = [ts.check_size(r, o, "refinement_resolutions", multiple=8, minimum=8)
                                           for r in refinement_resolutions]
        if not 0.0 <= float(visibility_threshold) <= 1.0:
            raise ValueError(f"{o}: 'visibility_threshold' must be in [0, 1]; got {visibility_threshold!r}")
        self.visibility_threshold = float(visibility_threshold)
        chunk = ts.check_chunk_size(max_queries_per_pass, o)
        if chunk is None:
            raise ValueError(f"{o}: 'max_queries_per_pass' must be a positive integer; got None")
        self.max_queries_per_pass = chunk
        ts.check_precision(precision, o)
        ts.check_checkpoint(checkpoint, checkpoint_url, o)
        folder = source_folder(repo, o)
        # with `repo` set, its folder is in the config and so in the prediction cache key already
        self.upstream_packages = () if folder is not None else PACKAGES
        needs = {"torch": ts.TORCH_INSTALL, "einops": LOCOTRACK_INSTALL}
        torch, self.device = ts.start(o, needs, device, precision)
        self.torch, self.precision = torch, precision
        with ts.preserved_rng(torch):
            upstream = ts.import_from_repo(folder, MODULE, PACKAGES, o, LOCOTRACK_INSTALL)
        self.upstream = upstream
        self.model = ts.build_model(torch, upstream.LocoTrack, dict(model or {}), checkpoint, checkpoint_url, o,
                                    prepare_state=lambda state: ts.unwrap_state(state, "state_dict", "model.")
                                    ).to(self.device)

    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        torch = self.torch
        if not validate_track_inputs(frames, queries, self.owner):
            return Tracks.empty(len(frames))
        n_frames, height, width = frames.shape[:3]
        h, w = self.resolution
        with ts.inference(torch, self.device, self.precision, self.owner):
            video = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).float()
            if (height, width) != self.resolution:
                video = torch.nn.functional.interpolate(video.permute(0, 3, 1, 2), self.resolution, mode="bilinear",
                                                        align_corners=False, antialias=True).permute(0, 2, 3, 1)
            video = (video / 255 * 2 - 1)[None]
            # (t, x, y) raster in the image -> (t, y, x) raster at the model's input size
            scale = np.array([1.0, h / height, w / width])
            points = torch.from_numpy((queries[:, [0, 2, 1]] * scale).astype(np.float32)).to(self.device)[None]
            out = self.model(video, points, query_chunk_size=self.max_queries_per_pass,
                             refinement_resolutions=self.refinement_resolutions)
            score = (1 - torch.sigmoid(out["occlusion"].float())) * (1 - torch.sigmoid(out["expected_dist"].float()))
            xy = out["tracks"].float() * torch.tensor([width / w, height / h], device=self.device)
        return Tracks(
            xy=xy[0].cpu().numpy().astype(np.float32),
            visible=~(1 - score > 1 - self.visibility_threshold)[0].cpu().numpy(),  # eval_batch's occlusion rule
            confidence=score[0].clamp(0, 1).cpu().numpy().astype(np.float32),
        )
