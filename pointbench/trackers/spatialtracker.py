"""SpatialTrackerV2 (Xiao et al., ICCV 2025) through its upstream repository (github.com/henry123-boy/SpaTrackerV2).

Upstream is not a pip package: it is a clone whose root must be importable (`models.SpaTrackV2...`), it needs a
CUDA GPU (its `SpaTrack2.forward_stream` calls `.cuda()`), and it loads its weights from Hugging Face with
`from_pretrained`. Install: see `SPATRACKER_INSTALL` and the README ("SpatialTrackerV2").

The adapter follows upstream's `inference.py` (commit `SPATRACKER_COMMIT`):

  front end   `VGGT4Track.from_pretrained("Yuxihenry/SpatialTrackerV2_Front")`, called on the frames resized to
              `input_width` (518) pixels wide, values in [0, 1], shape (1, T, 3, h, w). Its outputs: `points_map`
              (T, h, w, 3) whose z is the depth, `unc_metric` (T, h, w) the depth confidence (kept where > 0.5),
              `intrs` (1, T, 3, 3) and `poses_pred` (1, T, 4, 4) camera-to-world, the first camera being the world.
  tracker     `Predictor.from_pretrained("Yuxihenry/SpatialTrackerV2-Offline" | "-Online")` with
              `predictor.spatrack.track_num` support points, called as
              `forward(video (T, 3, h, w) float 0..255, depth=(T, h, w), intrs=(T, 3, 3), extrs=(T, 4, 4) camera-to-
              world, queries=(N, 3) rows (t, x, y), fps=1, full_point, iters_track, query_no_BA=True,
              fixed_cam=False, stage=1, unc_metric=(T, h, w), support_frame=T-1, replace_ratio=0.2)`; it returns
              `(c2w (T, 4, 4), intrs (T, 3, 3), point_map, depth_conf, track3d (T, N, 6): camera-frame xyz + rgb,
              track2d (T, N, 3): x, y, depth, vis (T, N, 1), conf (T, N, 1), video)`.

With the dataset's depth and intrinsics (upstream's "RGBD" mode) the front end is skipped and the frames keep their
native size; the dataset's extrinsics are then given to the tracker as camera-to-world poses (`extrs`), as upstream
does with MegaSAM's. Intrinsics alone: the front end runs, told the focal lengths (its `fx_prev`, `fy_prev`), and
the tracker gets the dataset's intrinsics. Extrinsics without depth are used only to re-anchor the world (below):
the front end's depth has its own scale, which the dataset's metric poses would contradict.

Deviations from `inference.py`, both needed for a benchmark:
  * `full_point=True`. With upstream's default (False) the query points that fall on low-confidence depth are
    dropped and the list is refilled with random duplicates, so row i is no longer query i (upstream issue #21).
  * Frames before a query's frame. The offline model (one window of `S_wind` = 500 frames) tracks every query over
    the whole window, before its frame too; queries that enter in a later window (online model: windows of 20
    frames; offline: videos longer than 500 frames) get nothing before that window. `backward_tracking`: `auto`
    fills those from a pass over the time-reversed video, `true` takes every frame before each query's frame from
    it (as the CoTracker adapter), `false` never runs it.

Pixel convention. Upstream's 2D coordinates (queries, `track2d`, intrinsics) are pixel-centre coordinates of the
frames it is given: `depth_to_points_colmap` unprojects pixel (i, j) at (j, i) and its samplers use
`align_corners=True`. Queries enter as (x·sx − 0.5, y·sy − 0.5) where (sx, sy) is the resize to the model's input,
tracks leave as ((u + 0.5)/sx, (v + 0.5)/sy), and intrinsics convert exactly with `pixel_resize_matrix` (upstream
itself rescales between its internal resolutions by plain multiplication, within half a pixel of its model
resolution; that is inside the model and left alone).

Visibility. Upstream's `vis` is sigmoid(logit) + 0.2 (a bias it adds "for evaluation"), in [0.2, 1.2]; its own
rule is `vis > 0.5`. `visibility_score` (`vis` | `vis_conf` = vis · conf) and `visibility_threshold` choose;
`Tracks.confidence` is that score clipped to [0, 1].

3D. `Tracks.xyz` is upstream's `track3d` unchanged: each point in the camera frame of its own frame
(`xyz_frame="camera"`), scored against camera-frame ground truth without any re-anchoring. The cameras come with
`track_with_cameras`: upstream's camera-to-world poses P(t) live in its world, the first camera's frame (P(0) = I).
Given the dataset's world-to-camera extrinsics E(t), the adapter re-anchors them: camera-to-world in the dataset's
world is W(t) = E(0)⁻¹ · P(0)⁻¹ · P(t), i.e. world_dataset = E(0)⁻¹ ∘ P(0)⁻¹ ∘ upstream_world (= E(0)⁻¹ ∘
upstream_world, as P(0) = I); without them W(t) = P(0)⁻¹ · P(t), the first camera's frame. The result's
`extrinsics` are W(t)⁻¹ (pointbench's world-to-camera) and `world_tracks()` / `to_world` turn the tracks into
world-frame ones. With the front end's depth, distances have the front end's scale (the dataset's extrinsics set
the orientation and origin only).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointbench.geometry import camera_to_world
from pointbench.trackers import torch_support as ts
from pointbench.trackers.base import Tracker
from pointbench.types import Tracks, validate_frames, validate_queries

SPATRACKER_COMMIT = "16732307966fbc05beb822b70b1c2d77d89810ce"
SPATRACKER_INSTALL = (
    "git clone https://github.com/henry123-boy/SpaTrackerV2.git && "
    f"git -C SpaTrackerV2 checkout {SPATRACKER_COMMIT} && "
    "python -m pip install -r SpaTrackerV2/requirements.txt\n"
    "and point pointbench at the clone: tracker.repo=/path/to/SpaTrackerV2 (or export SPATRACKERV2_REPO=...)")
PREDICTOR_MODULE = "models.SpaTrackV2.models.predictor"
FRONT_MODULE = "models.SpaTrackV2.models.vggt4track.models.vggt_moe"
FRONT_CHECKPOINT = "Yuxihenry/SpatialTrackerV2_Front"
OFFLINE_CHECKPOINT = "Yuxihenry/SpatialTrackerV2-Offline"
ONLINE_CHECKPOINT = "Yuxihenry/SpatialTrackerV2-Online"
VGGT_WIDTH = 518  # VGGT4Track resizes its input to this width and crops anything taller
PATCH = 14
VISIBILITY_SCORES = ("vis", "vis_conf")
# Upstream inference.py's fixed arguments of Predictor.forward (full_point: see the module docstring).
FORWARD_ARGS = dict(fps=1, full_point=True, query_no_BA=True, fixed_cam=False, stage=1, replace_ratio=0.2)


def pixel_resize_matrix(sx: float, sy: float) -> np.ndarray:
    """A (3, 3) with `A @ [u, v, 1]` the pixel-centre position after resizing an image by (sx, sy) (raster
    coordinates scale exactly: u' + 0.5 = sx (u + 0.5)). Intrinsics convert as `K' = A @ K`."""
    return np.array([[sx, 0, (sx - 1) / 2], [0, sy, (sy - 1) / 2], [0, 0, 1]], np.float64)


def to_world(tracks: Tracks, extrinsics: np.ndarray) -> Tracks:
    """The camera-frame `tracks` with `xyz` in the world frame of `extrinsics` (T, 3, 4) world-to-camera."""
    if tracks.xyz is None or tracks.xyz_frame != "camera":
        raise ValueError(f"to_world: need tracks with camera-frame xyz; got xyz_frame={tracks.xyz_frame!r}")
    xyz = camera_to_world(tracks.xyz, extrinsics).astype(np.float32)
    return Tracks(xy=tracks.xy, visible=tracks.visible, confidence=tracks.confidence, xyz=xyz, xyz_frame="world",
                  owner=tracks.owner)


@dataclass(eq=False)
class SpatialTrackerV2Result:
    """Tracks (camera-frame xyz) and the cameras SpatialTrackerV2 used for them.

    `extrinsics` (T, 3, 4) world-to-camera, in the dataset's world when its extrinsics were given (`world` =
    "dataset"), else in upstream's, the first camera's frame (`world` = "first_camera"); `intrinsics` (T, 3, 3)
    OpenCV pixel-centre at the frames' native size. Both None when there was no query to track.

    >>> result = tracker.track_with_cameras(frames, queries, extrinsics=sample.extrinsics)  # doctest: +SKIP
    >>> result.world_tracks().xyz          # (N, T, 3) in the dataset's world  # doctest: +SKIP
    """

    tracks: Tracks
    extrinsics: np.ndarray | None
    intrinsics: np.ndarray | None
    world: str

    def world_tracks(self) -> Tracks:
        """The tracks with `xyz` in this result's world (`to_world` with its extrinsics)."""
        return self.tracks if self.extrinsics is None else to_world(self.tracks, self.extrinsics)


@dataclass
class _Inputs:
    """What one Predictor pass gets: video (T, 3, h, w) float 0..255 (torch), depth (T, h, w), intrinsics
    (T, 3, 3) at (h, w), camera-to-world (T, 4, 4) or None, depth confidence mask (T, h, w) or None, and the
    resize (sx, sy) from the native frames to (h, w)."""

    video: object
    depth: np.ndarray
    intrinsics: np.ndarray
    c2w: np.ndarray | None
    unc: np.ndarray | None
    scale: tuple[float, float]

    def reversed(self) -> "_Inputs":
        flip = (lambda a: None if a is None else np.ascontiguousarray(a[::-1]))
        return _Inputs(self.video.flip(0), flip(self.depth), flip(self.intrinsics), flip(self.c2w), flip(self.unc),
                       self.scale)


class SpatialTrackerV2(Tracker):
    """SpatialTrackerV2: 2D and 3D tracks, with the front end's (or the dataset's) depth, intrinsics and poses.

    Args:
        online: the online model (`SpatialTrackerV2-Online`, windows of 20 frames) instead of the offline one.
        checkpoint: a Hugging Face model id or a local directory for `Predictor.from_pretrained`; null: the
            official offline / online model.
        front_checkpoint: the same for the front end `VGGT4Track`.
        repo: the SpaTrackerV2 clone to import from (prepended to sys.path); null: already importable.
        track_num: support points tracked with the queries (`predictor.spatrack.track_num`; upstream 756).
        iters: refinement iterations (`iters_track`; upstream 4).
        input_width: width the frames are resized to for the front end and the tracker (a multiple of 14;
            upstream 518); the height keeps the aspect ratio, rounded to a multiple of 14. Frames with the
            dataset's depth keep their native size (upstream's RGBD mode).
        depth_conf_threshold: front-end depth is used where its confidence exceeds this (upstream 0.5).
        visibility_score, visibility_threshold: visible where `vis` or `vis · conf` exceeds the threshold.
        backward_tracking: auto | true | false, see the module docstring.
        max_queries_per_pass: queries per Predictor pass (null: all). Points of a pass and the support points
            are tracked jointly, so smaller passes bound memory but can change results.
        dataset_geometry: use the depth / intrinsics / extrinsics given to `track` (false: always the front end).
        device: 'auto' (CUDA, required by upstream), or a torch device; 'cpu' only works with a stand-in.
        precision: bf16 (upstream's autocast), fp16 or fp32.
    """

    #: Packages whose version and source enter the prediction cache key (pointbench.provenance).
    upstream_packages = ("models",)

    accepts_geometry = True  # track() takes the dataset's depth, intrinsics and extrinsics as keywords

    def __init__(self, online: bool = False, checkpoint: str | None = None, front_checkpoint: str = FRONT_CHECKPOINT,
                 repo: str | None = None, track_num: int = 756, iters: int = 4, input_width: int = 518,
                 depth_conf_threshold: float = 0.5, visibility_score: str = "vis", visibility_threshold: float = 0.5,
                 backward_tracking="auto", max_queries_per_pass: int | None = None, dataset_geometry: bool = True,
                 device: str = "auto", precision: str = "bf16"):
        self.online = bool(online)
        o = self.owner = f"SpatialTrackerV2 ({'online' if self.online else 'offline'})"
        integers = (("track_num", track_num, 0), ("iters", iters, 1), ("input_width", input_width, PATCH))
        for key, value, minimum in integers:
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"{o}: '{key}' must be an integer >= {minimum}; got {value!r}")
        if input_width % PATCH:
            raise ValueError(f"{o}: 'input_width' must be a multiple of {PATCH}; got {input_width!r}")
        if visibility_score not in VISIBILITY_SCORES:
            raise ValueError(f"{o}: 'visibility_score' must be one of {VISIBILITY_SCORES}; got {visibility_score!r}")
        numbers = (("visibility_threshold", visibility_threshold), ("depth_conf_threshold", depth_conf_threshold))
        for key, value in numbers:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise ValueError(f"{o}: '{key}' must be a number; got {value!r}")
        if not (isinstance(backward_tracking, bool) or backward_tracking == "auto"):
            raise ValueError(f"{o}: 'backward_tracking' must be auto, true or false; got {backward_tracking!r}")
        for key, value in (("checkpoint", checkpoint), ("front_checkpoint", front_checkpoint)):
            if value is not None and not (isinstance(value, (str, Path)) and str(value)):
                raise ValueError(f"{o}: '{key}' must be a Hugging Face model id or a directory; got {value!r}")
        if front_checkpoint is None:
            raise ValueError(f"{o}: 'front_checkpoint' must be set (upstream's: {FRONT_CHECKPOINT})")
        self.track_num, self.iters, self.input_width = int(track_num), int(iters), int(input_width)
        self.depth_conf_threshold = float(depth_conf_threshold)
        self.visibility_score, self.visibility_threshold = visibility_score, float(visibility_threshold)
        self.backward_tracking = backward_tracking
        self.max_queries_per_pass = ts.check_chunk_size(max_queries_per_pass, o)
        self.dataset_geometry = bool(dataset_geometry)
        self.checkpoint = str(checkpoint) if checkpoint is not None else (
            ONLINE_CHECKPOINT if self.online else OFFLINE_CHECKPOINT)
        self.front_checkpoint = str(front_checkpoint)
        ts.check_precision(precision, o)

        torch = self.torch = ts.import_torch(o)
        if device == "auto" and not torch.cuda.is_available():
            raise RuntimeError(f"{o} needs a CUDA GPU: upstream moves its work to CUDA itself (`.cuda()`), and "
                               f"CUDA is not available here (torch {torch.__version__}). Run it on a machine with an "
                               "NVIDIA GPU and a CUDA build of torch.")
        self.device = ts.resolve_device(torch, "cuda" if device == "auto" else device, o)
        self.precision = precision
        ts.autocast(torch, self.device, precision, o)  # a bad device/precision pair fails now
        self._add_repo(repo)
        with ts.preserved_rng(torch):
            self._front_class = ts.import_upstream(FRONT_MODULE, o, SPATRACKER_INSTALL).VGGT4Track
            predictor_class = ts.import_upstream(PREDICTOR_MODULE, o, SPATRACKER_INSTALL).Predictor
            predictor = self._load(predictor_class, self.checkpoint, "checkpoint")
        predictor.spatrack.track_num = self.track_num
        predictor.eval()
        predictor.to(self.device)  # upstream's Predictor.to returns None: no chaining
        self.predictor = predictor
        self._front = None  # loaded at the first video without the dataset's depth

    # ------------------------------------------------------------------ loading

    def _add_repo(self, repo) -> None:
        if repo is None:
            return
        path = Path(str(repo)).expanduser().resolve()
        if not (path / "models" / "SpaTrackV2").is_dir():
            raise FileNotFoundError(f"{self.owner}: 'repo' must be a clone of SpaTrackerV2 (with models/SpaTrackV2/); "
                                    f"{path} is not. Get it with:\n    {SPATRACKER_INSTALL}")
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))

    def _load(self, cls, name: str, key: str):
        try:
            return cls.from_pretrained(name)
        except Exception as error:  # no network, unknown id, incomplete directory
            raise RuntimeError(
                f"{self.owner}: could not load {cls.__name__}.from_pretrained({name!r}) ({error}). Download it with\n"
                f"    huggingface-cli download {name} --local-dir /path/to/{Path(name).name}\n"
                f"and set tracker.{key}=/path/to/{Path(name).name}") from error

    @property
    def front(self):
        """The front end VGGT4Track, loaded on first use."""
        if self._front is None:
            with ts.preserved_rng(self.torch):
                front = self._load(self._front_class, self.front_checkpoint, "front_checkpoint")
            front.eval()
            self._front = front.to(self.device)
        return self._front

    # ------------------------------------------------------------------ tracking

    def track(self, frames: np.ndarray, queries: np.ndarray, depth: np.ndarray | None = None,
              intrinsics: np.ndarray | None = None, extrinsics: np.ndarray | None = None) -> Tracks:
        """Tracks with camera-frame `xyz`. `depth` float (T, H, W) metres (0 = invalid), `intrinsics` (T, 3, 3)
        OpenCV pixel-centre and `extrinsics` (T, 3, 4) world-to-camera are the dataset's, when it has them."""
        return self.track_with_cameras(frames, queries, depth, intrinsics, extrinsics).tracks

    def track_with_cameras(self, frames: np.ndarray, queries: np.ndarray, depth: np.ndarray | None = None,
                           intrinsics: np.ndarray | None = None, extrinsics: np.ndarray | None = None
                           ) -> SpatialTrackerV2Result:
        """`track`, and the cameras: see `SpatialTrackerV2Result`."""
        validate_frames(frames, self.owner)
        n_frames = len(frames)
        validate_queries(queries, n_frames, self.owner)
        if not self.dataset_geometry:
            depth = intrinsics = extrinsics = None
        self._check_geometry(frames.shape[:3], depth, intrinsics, extrinsics)
        world = "first_camera" if extrinsics is None else "dataset"
        if len(queries) == 0:
            return SpatialTrackerV2Result(Tracks.empty(n_frames), None, None, world)
        torch = self.torch
        with torch.no_grad():
            inputs = self._inputs(frames, depth, intrinsics, extrinsics)
            sx, sy = inputs.scale
            backward_inputs, parts, cameras = None, [], None
            for chunk in ts.query_chunks(len(queries), self.max_queries_per_pass):
                q = np.array(queries[chunk], np.float32)
                q[:, 1] = q[:, 1] * sx - 0.5  # raster -> pixel centre at the model's input size
                q[:, 2] = q[:, 2] * sy - 0.5
                out = self._run(inputs, q)
                if cameras is None:  # the first pass's: each pass estimates them with its own points
                    cameras = out["c2w"], out["intrinsics"]
                back = self._needs_backward(q[:, 0])
                if back.any():
                    if backward_inputs is None:
                        backward_inputs = inputs.reversed()
                    q_rev = q[back].copy()
                    q_rev[:, 0] = n_frames - 1 - q_rev[:, 0]
                    rev = self._run(backward_inputs, q_rev)
                    before = np.arange(n_frames)[None, :] < q[back, :1]  # (n_back, T)
                    for key in ("uv", "xyz", "vis", "conf"):
                        flipped = rev[key][:, ::-1]
                        mask = before if flipped.ndim == 2 else before[..., None]
                        out[key][back] = np.where(mask, flipped, out[key][back])
                parts.append(out)
        cat = {key: np.concatenate([p[key] for p in parts]) for key in ("uv", "xyz", "vis", "conf")}
        score = cat["vis"] if self.visibility_score == "vis" else cat["vis"] * cat["conf"]
        xy = (cat["uv"] + 0.5) / np.array([sx, sy])  # pixel centre -> raster at the native size
        tracks = Tracks(xy=xy.astype(np.float32), visible=score > self.visibility_threshold,
                        confidence=np.clip(score, 0, 1).astype(np.float32), xyz=cat["xyz"].astype(np.float32),
                        xyz_frame="camera", owner=self.owner)
        c2w, k_input = cameras
        native_k = np.linalg.inv(pixel_resize_matrix(sx, sy)) @ k_input
        return SpatialTrackerV2Result(tracks, self._world_to_camera(c2w, extrinsics), native_k.astype(np.float32),
                                      world)

    def _needs_backward(self, t: np.ndarray) -> np.ndarray:
        """Queries whose frames before t come from the time-reversed pass."""
        if self.backward_tracking is True:
            return t > 0
        if self.backward_tracking is False:
            return np.zeros(len(t), bool)
        return t >= self.predictor.S_wind  # upstream's first window holds frames [0, S_wind)

    def _check_geometry(self, shape, depth, intrinsics, extrinsics) -> None:
        n, h, w = shape
        for key, value, expected in (("depth", depth, (n, h, w)), ("intrinsics", intrinsics, (n, 3, 3)),
                                     ("extrinsics", extrinsics, (n, 3, 4))):
            if value is None:
                continue
            if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.shape != expected:
                found = (f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__)
                raise ValueError(f"{self.owner}: '{key}' must be a float array of shape {expected}; got {found}")
            if not np.isfinite(value).all():
                raise ValueError(f"{self.owner}: '{key}' must be finite; got NaN or inf")
        if depth is not None:
            if intrinsics is None:
                raise ValueError(f"{self.owner}: 'depth' needs 'intrinsics' too (SpatialTrackerV2 unprojects it)")
            if not (depth > 0).any():
                raise ValueError(f"{self.owner}: 'depth' has no valid (> 0) value")

    def _inputs(self, frames, depth, intrinsics, extrinsics) -> _Inputs:
        torch = self.torch
        video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()  # (T, 3, H, W) 0..255
        if depth is not None:  # upstream's RGBD mode: native size, the dataset's cameras
            c2w = None if extrinsics is None else np.linalg.inv(_homogeneous(extrinsics)).astype(np.float32)
            return _Inputs(video, depth.astype(np.float32), intrinsics.astype(np.float32), c2w, None, (1.0, 1.0))
        n_frames, height, width = frames.shape[:3]
        if round(height * VGGT_WIDTH / width / PATCH) * PATCH > VGGT_WIDTH:
            raise ValueError(f"{self.owner}: the front end (VGGT4Track) crops frames taller than wide; these are "
                             f"{height}×{width}. Give the dataset's depth and intrinsics, or frames at least as wide "
                             "as tall")
        h, w = max(PATCH, round(height * self.input_width / width / PATCH) * PATCH), self.input_width
        if (h, w) != (height, width):  # as upstream's preprocess_image, without its crop
            video = torch.nn.functional.interpolate(video, size=(h, w), mode="bicubic", align_corners=False)
        sx, sy = w / width, h / height
        kwargs = {}
        if intrinsics is not None:  # the focal lengths at the front end's input size
            kwargs = dict(fx_prev=(intrinsics[:, 0, 0] * sx).astype(np.float32),
                          fy_prev=(intrinsics[:, 1, 1] * sy).astype(np.float32))
        with ts.autocast(torch, self.device, self.precision, self.owner):
            pred = self.front(video[None].to(self.device) / 255, **kwargs)
        c2w = _numpy(pred["poses_pred"]).reshape(n_frames, 4, 4)
        k = _numpy(pred["intrs"]).reshape(n_frames, 3, 3)
        depth = _numpy(pred["points_map"]).reshape(n_frames, h, w, 3)[..., 2]
        unc = _numpy(pred["unc_metric"]).reshape(n_frames, h, w) > self.depth_conf_threshold
        if intrinsics is not None:
            k = pixel_resize_matrix(sx, sy) @ intrinsics.astype(np.float64)
        return _Inputs(video, np.ascontiguousarray(depth), k.astype(np.float32), c2w, unc, (sx, sy))

    def _run(self, inputs: _Inputs, q: np.ndarray) -> dict:
        """One Predictor pass: uv (n, T, 2) pixel centre at the input size, xyz (n, T, 3) camera frame, vis and
        conf (n, T), and the cameras c2w (T, 4, 4) and intrinsics (T, 3, 3) at the input size."""
        torch = self.torch
        with ts.autocast(torch, self.device, self.precision, self.owner):
            out = self.predictor.forward(inputs.video, depth=inputs.depth, intrs=inputs.intrinsics, extrs=inputs.c2w,
                                         queries=q, iters_track=self.iters, unc_metric=inputs.unc,
                                         support_frame=len(inputs.video) - 1, **FORWARD_ARGS)
        c2w, intrs, _, _, track3d, track2d, vis, conf = (_numpy(x) for x in out[:8])
        n_frames, n = len(inputs.video), len(q)
        return dict(uv=track2d[..., :2].transpose(1, 0, 2).astype(np.float64),
                    xyz=track3d[..., :3].transpose(1, 0, 2),
                    vis=vis.reshape(n_frames, n).T.astype(np.float64),
                    conf=conf.reshape(n_frames, n).T.astype(np.float64),
                    c2w=c2w.reshape(n_frames, 4, 4).astype(np.float64), intrinsics=intrs.reshape(n_frames, 3, 3))

    @staticmethod
    def _world_to_camera(c2w: np.ndarray, extrinsics: np.ndarray | None) -> np.ndarray:
        """Upstream's camera-to-world P(t), re-anchored: W(t) = E(0)⁻¹ · P(0)⁻¹ · P(t); returns W(t)⁻¹[:3]."""
        anchored = np.linalg.inv(c2w[0]) @ c2w
        if extrinsics is not None:
            anchored = np.linalg.inv(_homogeneous(extrinsics[:1]))[0] @ anchored
        return np.linalg.inv(anchored)[:, :3].astype(np.float32)


def _homogeneous(extrinsics: np.ndarray) -> np.ndarray:
    """(T, 3, 4) -> (T, 4, 4) float64."""
    out = np.zeros((len(extrinsics), 4, 4))
    out[:, :3] = extrinsics
    out[:, 3, 3] = 1
    return out


def _numpy(x) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x.astype(np.float64) if x.dtype.kind == "f" else x
    return x.detach().float().cpu().numpy()
