"""AllTracker (Harley et al., ICCV 2025) through its upstream model (aharley/alltracker, `nets/alltracker.py`).

AllTracker estimates dense flow from one anchor frame to every other frame in sliding windows of `window_len`
frames (stride window_len / 2). The adapter calls it as upstream's evaluation does
(`test_dense_on_sparse.py`, `forward_batch`): for every distinct query frame t, one pass over frames t..T-1
with frame t as the anchor — `Net.forward` (windows over the whole clip) or, for videos of more than 128
frames, `Net.forward_sliding` (`sliding: auto`) — then each query's track is the dense map at its nearest
pixel: that pixel plus its flow, the visibility score vis · conf at the same pixel. A query on the last frame
gets no pass (its track stays at the pixel, score 0), as upstream. Frames before a query's frame: as
upstream's demo (`demo.py`, `forward_video`), a pass over the time-reversed frames t..0
(`backward_tracking`, default true; upstream's evaluator scores `first` queries only and leaves those frames
at the query pixel with score 0, which `backward_tracking=false` reproduces).

Upstream's code is not an installable package: it imports itself as the top-level packages `nets` and `utils`.
Point `repo` at a clone; the adapter imports it from there without leaving `nets` or `utils` in
`sys.modules` (pointbench.trackers.torch_support.import_from_repo). With repo null, `nets.alltracker` must
already be importable. Its blocks import torchvision (`torchvision.ops`), so AllTracker needs torchvision.
`Net(..., init_weights=False)`: upstream's default `True` downloads ImageNet ConvNeXt weights that every
released checkpoint overwrites.

Device. Upstream's `Net.get_fmaps` moves the frames with `.cuda()` in inference, so upstream runs on CUDA only.
On CUDA the adapter runs the model inside `torch.cuda.device(device)`, so that `.cuda()` lands on the
configured GPU. On CPU (not supported upstream) it runs the model with `torch.Tensor.cuda` as the identity for
the duration of the call; that is the only difference, so CPU results are upstream's computation.

Pixel convention. AllTracker's flow maps live on the pixel grid: coordinate j is the centre of pixel j.
pointbench's raster coordinates put that centre at j + 0.5, so queries enter as `x - 0.5` at the model's
size (nearest pixel: `round`, as upstream) and tracks leave as `x + 0.5`. (Upstream's TAP-Vid loaders
multiply normalised raster coordinates by the size and compare them with pixel-grid tracks, a 0.5 px offset
that this adapter does not make.) Frames are resized to `resolution` (upstream's evaluation: 384×512) with
bilinear interpolation (align_corners=False, no antialiasing, as upstream's `cv2.resize(INTER_LINEAR)`) and
enter in [0, 255].

Visibility, as upstream's evaluator: visible where vis · conf >= 0.6 (`visibility_score=vis_conf`); the
demo thresholds conf alone (`conf`, its `--conf_thr 0.1`). That score is `Tracks.confidence`.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import numpy as np

from pointbench.trackers import torch_support as ts
from pointbench.trackers.base import Tracker, validate_track_inputs
from pointbench.types import Tracks

ALLTRACKER_COMMIT = "c1ed462b7cfe9b4c6d07d8880ae5ed103b0848e0"
ALLTRACKER_INSTALL = ("git clone https://github.com/aharley/alltracker.git && git -C alltracker checkout "
                      f"{ALLTRACKER_COMMIT} && pip install torchvision einops, then tracker.repo=$PWD/alltracker "
                      "(or export ALLTRACKER_REPO=$PWD/alltracker)")
ALLTRACKER_URL = "https://huggingface.co/aharley/alltracker/resolve/main/alltracker.pth"
TINY_URL = "https://huggingface.co/aharley/alltracker/resolve/main/alltracker_tiny.pth"
PACKAGES = ("nets", "utils")  # upstream's top-level packages
MODULE = "nets.alltracker"
VISIBILITY_SCORES = ("vis_conf", "conf", "vis")
SLIDING_AFTER = 128  # upstream's evaluator: forward_sliding for videos longer than this

_CUDA_LOCK = threading.RLock()


@contextlib.contextmanager
def cuda_calls_stay(torch, device):
    """The context AllTracker's model runs in: `.cuda()` lands on `device` (CUDA), or is the identity (CPU)."""
    if device.type == "cuda":
        with torch.cuda.device(device):
            yield
        return
    with _CUDA_LOCK:
        original = torch.Tensor.cuda
        torch.Tensor.cuda = lambda self, *args, **kwargs: self
        try:
            yield
        finally:
            torch.Tensor.cuda = original


class AllTracker(Tracker):
    """AllTracker through upstream `nets.alltracker.Net`.

    Args:
        checkpoint: null (download `checkpoint_url` into torch's hub cache), a local file, or 'random'.
            Read with `weights_only=True`; the released files wrap the state dict as {'model': ...}.
        repo: the alltracker clone to import from; null: `nets.alltracker` already importable.
        model: further keyword arguments of `Net(...)` (the tiny checkpoint: use_basicencoder, no_split).
        resolution: [height, width] the frames are resized to (upstream's evaluation: 384×512; 768×1024 for
            its best DAVIS numbers). Multiples of 8.
        window_len: frames per window, `Net(seqlen)` (the released checkpoints: 16).
        iters: refinement iterations per window (upstream's `inference_iters`: 4).
        sliding: auto (forward_sliding for videos of more than 128 frames, as upstream's evaluator),
            true (always forward_sliding) or false (always forward).
        visibility_score: vis_conf (vis · conf, the evaluator's), conf (the demo's) or vis.
        visibility_threshold: visible where the score is at least this (evaluator: 0.6).
        backward_tracking: frames before each query's frame from a pass over the time-reversed frames.
        device: 'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:N'.
        precision: fp32, or fp16 / bf16 autocast on CUDA (upstream's `--mixed_precision`).
    """

    def __init__(self, checkpoint: str | None = None, checkpoint_url: str | None = ALLTRACKER_URL,
                 repo: str | None = None, model: dict | None = None, resolution=(384, 512), window_len: int = 16,
                 iters: int = 4, sliding="auto", visibility_score: str = "vis_conf",
                 visibility_threshold: float = 0.6, backward_tracking: bool = True, device: str = "auto",
                 precision: str = "fp32"):
        o = self.owner = "AllTracker"
        self.resolution = ts.check_size(resolution, o, "resolution", multiple=8, minimum=8)
        if int(window_len) != window_len or window_len < 4 or window_len % 2:
            raise ValueError(f"{o}: 'window_len' must be an even integer >= 4; got {window_len!r}")
        if int(iters) != iters or iters < 1:
            raise ValueError(f"{o}: 'iters' must be a positive integer; got {iters!r}")
        if sliding not in ("auto", True, False):
            raise ValueError(f"{o}: 'sliding' must be auto, true or false; got {sliding!r}")
        if visibility_score not in VISIBILITY_SCORES:
            raise ValueError(f"{o}: 'visibility_score' must be one of {VISIBILITY_SCORES}; got {visibility_score!r}")
        if not 0.0 <= float(visibility_threshold) <= 1.0:
            raise ValueError(f"{o}: 'visibility_threshold' must be in [0, 1]; got {visibility_threshold!r}")
        self.window_len, self.iters, self.sliding = int(window_len), int(iters), sliding
        self.visibility_score, self.visibility_threshold = visibility_score, float(visibility_threshold)
        self.backward_tracking = bool(backward_tracking)
        extra = dict(model or {})
        if "seqlen" in extra:
            raise ValueError(f"{o}: set 'window_len' instead of model.seqlen")
        extra.setdefault("init_weights", False)
        ts.check_precision(precision, o)
        ts.check_checkpoint(checkpoint, checkpoint_url, o)
        folder = None
        if repo is not None:
            folder = Path(str(repo)).expanduser().resolve()
            if not (folder / "nets" / "alltracker.py").is_file():
                raise FileNotFoundError(f"{o}: 'repo' must be a clone of aharley/alltracker (with nets/alltracker.py);"
                                        f" {folder} is not. Get it with:\n    {ALLTRACKER_INSTALL}")
        # with `repo` set, its folder is in the config and so in the prediction cache key already
        self.upstream_packages = () if folder is not None else PACKAGES
        needs = {"torch": ts.TORCH_INSTALL, "torchvision": ALLTRACKER_INSTALL, "einops": ALLTRACKER_INSTALL}
        torch, self.device = ts.start(o, needs, device, precision)
        self.torch, self.precision = torch, precision
        with ts.preserved_rng(torch):
            upstream = ts.import_from_repo(folder, MODULE, PACKAGES, o, ALLTRACKER_INSTALL)
        self.upstream = upstream
        self.model = ts.build_model(torch, upstream.Net, dict(seqlen=self.window_len, **extra), checkpoint,
                                    checkpoint_url, o).to(self.device)

    def track(self, frames: np.ndarray, queries: np.ndarray) -> Tracks:
        torch = self.torch
        if not validate_track_inputs(frames, queries, self.owner):
            return Tracks.empty(len(frames))
        n_frames, height, width = frames.shape[:3]
        h, w = self.resolution
        n = len(queries)
        with (ts.inference(torch, self.device, self.precision, self.owner),
              cuda_calls_stay(torch, self.device)):
            video = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).permute(0, 3, 1, 2).float()
            if (height, width) != self.resolution:
                video = torch.nn.functional.interpolate(video, self.resolution, mode="bilinear", align_corners=False)
            video = video[None]  # (1, T, 3, h, w) in [0, 255]
            # raster in the image -> pixel grid at the model's size -> nearest pixel, as upstream
            centre = queries[:, 1:] * np.array([w / width, h / height]) - 0.5
            pixel = torch.from_numpy(np.round(centre).astype(np.int64)).to(self.device)
            pixel[:, 0].clamp_(0, w - 1)
            pixel[:, 1].clamp_(0, h - 1)
            xy = pixel.float()[:, None, :].repeat(1, n_frames, 1)  # (n, T, 2): the pixel itself where no pass runs
            score = torch.zeros(n, n_frames, device=self.device)
            frame_of = torch.from_numpy(queries[:, 0].astype(np.int64)).to(self.device)
            for t in torch.unique(frame_of).tolist():
                rows = torch.nonzero(frame_of == t)[:, 0]
                px = pixel[rows]
                if t < n_frames - 1:
                    xy[rows, t:], score[rows, t:] = self._sample(video[:, t:], px, n_frames)
                if t > 0 and self.backward_tracking:
                    back_xy, back_score = self._sample(video[:, :t + 1].flip(1), px, n_frames)
                    xy[rows, :t], score[rows, :t] = back_xy.flip(1)[:, :-1], back_score.flip(1)[:, :-1]
            to_image = torch.tensor([width / w, height / h], device=self.device)
            xy = (xy + 0.5) * to_image  # pixel grid -> raster, model -> image
        return Tracks(
            xy=xy.cpu().numpy().astype(np.float32),
            visible=(score >= self.visibility_threshold).cpu().numpy(),
            confidence=score.clamp(0, 1).cpu().numpy().astype(np.float32),
        )

    def _sample(self, clip, pixel, n_frames: int):
        """One pass with clip[:, 0] as the anchor: for the (k, 2) pixels, positions (k, Tc, 2) on the pixel grid and
        visibility scores (k, Tc)."""
        model = self.model
        sliding = n_frames > SLIDING_AFTER if self.sliding == "auto" else self.sliding
        run = model.forward_sliding if sliding else model
        flows, visconfs, _, _ = run(clip, iters=self.iters, sw=None, is_training=False)
        if flows.dim() == 4:  # a 2-frame clip: one flow map, which upstream broadcasts over both frames
            flows, visconfs = flows[:, None].expand(-1, 2, -1, -1, -1), visconfs[:, None].expand(-1, 2, -1, -1, -1)
        # sampled where the maps are (forward_sliding returns them on the CPU), then moved
        at = pixel.to(flows.device)
        x, y = at[:, 0], at[:, 1]
        flow = flows[0][:, :, y, x].permute(2, 0, 1).to(self.device)  # (k, Tc, 2)
        vis, conf = (visconfs[0][:, c, y, x].T.to(self.device) for c in (0, 1))  # (k, Tc)
        score = {"vis_conf": vis * conf, "conf": conf, "vis": vis}[self.visibility_score]
        return pixel.float()[:, None, :] + flow, score
