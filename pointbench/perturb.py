"""Perturbations: seeded, composable corruptions of a video for robustness tests, severity 1 to 5.

A `Perturbation` names one kind or a list of kinds (applied in order), a severity per kind and a
seed. `apply_perturbation` is the pure function on arrays; `perturb_sample` and
`perturb_annotations` apply it to a dataset's `Sample` (frames, queries, ground truth, per-frame
depth and cameras, skeleton) or to its frame-less `Annotations`, so the runner can perturb any
dataset:

    spec = Perturbation(kind=["frame_drop", "jpeg"], severity=[2, 4], seed=0)
    sample = perturb_sample(dataset.load(i), spec, query_mode=dataset.query_mode)

Kinds (parameters at each severity 1..5 in `SEVERITIES`):

- photometric, geometry and timing unchanged (queries and ground truth are returned as they came):
  `gaussian_noise` (σ in grey levels), `motion_blur` (a line kernel of that length at an angle drawn
  per video), `defocus_blur` (a disk kernel of that radius), `jpeg` (that quality), `brightness`
  (grey levels added), `contrast` (pixel - frame mean scaled by that factor), `downup` (shrunk by
  that factor with area averaging, then resized back bilinearly: lost detail, same geometry). Blur
  sizes are stated at 256×256 and scale with min(H, W) / 256, as TAP-Vid scores at 256×256.
- temporal, ground truth changed with the frames:
  `frame_drop` keeps frames 0, s, 2s, … for stride s = severity + 1; ground truth (and depth,
  cameras) is subsampled to the kept frames and fps divided by s. A query on a dropped frame moves
  to the nearest kept frame where its ground truth is visible (ties: the earlier; in `first` mode
  only kept frames after it, so the frames scored stay after the query) and takes the ground-truth
  position there; with no such frame, or with no ground truth at all, the query (and its ground
  truth row) is dropped. Queries on kept frames are unchanged.
  `reverse` (severity ignored) plays the video backwards: frames and ground truth reversed, query
  frames t -> T-1-t with their positions unchanged; in `first` mode (with ground truth) each
  query moves instead to its track's first visible frame in the reversed video (its last visible
  frame in the original), as the protocol would sample it, since `first` scores only later frames.
  Either way a tracker that returns the ground truth still scores 1.0.

Randomness (the noise field, the motion-blur angle) comes from a generator seeded by (seed, video
name, kind, position in the list), hashed stably, so a video's perturbation does not depend on
which videos came before it, and the same seed gives identical frames. The draws do not depend on
the severity, so a higher severity scales the same noise (monotone in the image difference).
Inputs are never modified in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from pointbench.types import Annotations, Sample, Skeleton, Tracks, validate_frames, validate_queries

__all__ = ["KINDS", "PHOTOMETRIC_KINDS", "TEMPORAL_KINDS", "SEVERITIES", "ALIASES", "Perturbation",
           "PerturbedView", "apply_perturbation", "perturb_sample", "perturb_annotations"]

#: The parameter of each kind at severity 1, 2, 3, 4, 5 (see the module docstring for units).
SEVERITIES: dict[str, tuple] = {
    "gaussian_noise": (4, 8, 16, 32, 48),  # σ, grey levels
    "motion_blur": (3, 5, 9, 15, 23),  # kernel length, px at 256×256
    "defocus_blur": (1, 1.5, 2.5, 4, 6),  # disk radius, px at 256×256
    "jpeg": (75, 50, 30, 15, 7),  # JPEG quality
    "brightness": (16, 32, 48, 64, 80),  # grey levels added
    "contrast": (0.7, 0.5, 0.35, 0.2, 0.1),  # factor on the difference from the frame mean
    "downup": (1.5, 2, 3, 4, 6),  # downscale factor before scaling back up
    "frame_drop": (2, 3, 4, 5, 6),  # temporal stride: every s-th frame kept
    "reverse": (None, None, None, None, None),  # no severity
}
#: Short names accepted for kinds (`dataset.perturb.kind=noise,blur,jpeg`).
ALIASES = {"noise": "gaussian_noise", "blur": "motion_blur", "defocus": "defocus_blur", "drop": "frame_drop"}
TEMPORAL_KINDS = ("frame_drop", "reverse")
PHOTOMETRIC_KINDS = tuple(k for k in SEVERITIES if k not in TEMPORAL_KINDS)
KINDS = tuple(SEVERITIES)


@dataclass(frozen=True)
class Perturbation:
    """One kind or a list of kinds applied in order, a severity (1-5) for all or one per kind, a seed.

    >>> Perturbation("jpeg", 4).steps
    (('jpeg', 4),)
    >>> Perturbation(["frame_drop", "gaussian_noise"], [1, 3], seed=7).label
    'frame_drop@1+gaussian_noise@3,seed=7'
    """

    kind: str | tuple[str, ...]
    severity: int | tuple[int, ...] = 3
    seed: int = 0

    def __post_init__(self) -> None:
        kinds = _as_tuple(self.kind)
        kinds = (kinds,) if isinstance(kinds, str) else kinds
        if not isinstance(kinds, tuple) or not all(isinstance(k, str) for k in kinds):
            raise ValueError(f"perturbation: 'kind' must be a kind name or a list of them; got {self.kind!r}")
        if not kinds:
            raise ValueError(f"perturbation: 'kind' must name at least one of {list(KINDS)}; got none")
        kinds = tuple(ALIASES.get(k, k) for k in kinds)
        unknown = [k for k in kinds if k not in SEVERITIES]
        if unknown:
            raise ValueError(f"perturbation: 'kind' must be one of {list(KINDS)} (or {sorted(ALIASES)}); got {unknown}")
        severity = self.severity
        severities = (severity,) * len(kinds) if _is_int(severity) else _as_tuple(severity)
        if not (isinstance(severities, tuple) and len(severities) == len(kinds)
                and all(_is_int(s) and 1 <= s <= 5 for s in severities)):
            raise ValueError(f"perturbation: 'severity' must be an integer 1-5, or one per kind ({len(kinds)}); "
                             f"got {severity!r}")
        if not (_is_int(self.seed) and self.seed >= 0):
            raise ValueError(f"perturbation: 'seed' must be a non-negative integer; got {self.seed!r}")
        object.__setattr__(self, "kind", kinds if len(kinds) > 1 else kinds[0])
        severities = tuple(int(s) for s in severities)
        object.__setattr__(self, "severity", severities if len(kinds) > 1 else severities[0])
        object.__setattr__(self, "seed", int(self.seed))

    @property
    def steps(self) -> tuple[tuple[str, int], ...]:
        """`((kind, severity), ...)` in the order they are applied."""
        kinds = (self.kind,) if isinstance(self.kind, str) else self.kind
        severities = (self.severity,) if isinstance(self.severity, int) else self.severity
        return tuple(zip(kinds, severities))

    @property
    def temporal(self) -> bool:
        """Whether it changes frame timing (and so the ground truth and the queries)."""
        return any(k in TEMPORAL_KINDS for k, _ in self.steps)

    @property
    def label(self) -> str:
        """A readable, unique name: `kind@severity+…,seed=N`."""
        return "+".join(f"{k}@{s}" for k, s in self.steps) + f",seed={self.seed}"

    @classmethod
    def from_config(cls, value) -> "Perturbation | None":
        """From None (no perturbation), a `Perturbation`, or a mapping with `kind`, optional `severity`, `seed`
        (e.g. a Hydra `dataset.perturb` node)."""
        if value is None or isinstance(value, Perturbation):
            return value
        if isinstance(value, Mapping):
            extra = set(value) - {"kind", "severity", "seed"}
            if "kind" not in value or extra:
                raise ValueError(f"perturbation: expected keys 'kind' and optionally 'severity', 'seed'; "
                                 f"got {sorted(map(str, value))}")
            if value["kind"] is None:
                return None
            return cls(_as_tuple(value["kind"]), _as_tuple(value.get("severity", 3)), value.get("seed", 0))
        raise ValueError(f"perturbation: expected None, a Perturbation or a mapping; got {type(value).__name__}")


def _as_tuple(value):
    """A list-like (a list, a Hydra ListConfig) as a tuple; anything else as it is."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        return value
    return tuple(value)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _rng(seed: int, name: str, kind: str, step: int) -> np.random.Generator:
    """A generator that depends only on (seed, video name, kind, step), hashed stably (not `hash()`)."""
    def words(text: str) -> list[int]:
        return np.frombuffer(hashlib.sha256(text.encode()).digest()[:16], np.uint32).tolist()

    return np.random.default_rng(np.random.SeedSequence([seed, *words(name), *words(kind), step]))


# --- Photometric kinds: frames in, frames out, one frame at a time ------------------------------------------


def _line_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised line of `length` px through the centre at `angle`, symmetric (no shift)."""
    half = (length - 1) / 2
    if half <= 0:
        return np.ones((1, 1), np.float32)
    size = 2 * int(np.ceil(half)) + 1
    c = size // 2
    kernel = np.zeros((size, size), np.float64)
    for s in np.linspace(-half, half, max(2, int(np.ceil(4 * length)))):
        x, y = c + s * np.cos(angle), c + s * np.sin(angle)
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            if 0 <= x0 + dx < size and 0 <= y0 + dy < size:
                kernel[y0 + dy, x0 + dx] += w
    return (kernel / kernel.sum()).astype(np.float32)


def _disk_kernel(radius: float) -> np.ndarray:
    """A normalised, anti-aliased disk of `radius` px."""
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    kernel = np.clip(radius + 0.5 - np.hypot(xx, yy), 0, 1)
    return (kernel / kernel.sum()).astype(np.float32)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _photometric(frames: np.ndarray, kind: str, severity: int, rng: np.random.Generator) -> np.ndarray:
    value = SEVERITIES[kind][severity - 1]
    t, h, w, _ = frames.shape
    scale = min(h, w) / 256
    out = np.empty_like(frames)
    if kind == "motion_blur":
        kernel = _line_kernel(value * scale, rng.uniform(0, np.pi))
    elif kind == "defocus_blur":
        kernel = _disk_kernel(value * scale)
    for i in range(t):
        frame = frames[i]
        if kind == "gaussian_noise":
            noise = rng.standard_normal(frame.shape, dtype=np.float32)
            out[i] = _to_uint8(frame + value * noise)
        elif kind in ("motion_blur", "defocus_blur"):
            out[i] = _to_uint8(cv2.filter2D(frame.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT_101))
        elif kind == "jpeg":
            ok, data = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, value])
            if not ok:
                raise RuntimeError(f"perturbation jpeg: OpenCV could not encode frame {i}")
            out[i] = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
        elif kind == "brightness":
            out[i] = _to_uint8(frame.astype(np.float32) + value)
        elif kind == "contrast":
            f = frame.astype(np.float32)
            mean = f.mean()
            out[i] = _to_uint8(mean + value * (f - mean))
        elif kind == "downup":
            small = (max(1, round(w / value)), max(1, round(h / value)))
            down = cv2.resize(np.ascontiguousarray(frame), small, interpolation=cv2.INTER_AREA)
            out[i] = cv2.resize(down, (w, h), interpolation=cv2.INTER_LINEAR)
        else:  # pragma: no cover - KINDS and this dispatch are one table
            raise AssertionError(kind)
    return out


# --- Temporal kinds: new frame order, ground truth and queries to match -------------------------------------


def _retime(tracks: Tracks | None, times: np.ndarray) -> Tracks | None:
    if tracks is None:
        return None
    def pick(a):
        return None if a is None else np.ascontiguousarray(a[:, times])

    return Tracks(xy=pick(tracks.xy), visible=pick(tracks.visible), confidence=pick(tracks.confidence),
                  xyz=pick(tracks.xyz), xyz_frame=tracks.xyz_frame, owner=tracks.owner)


def _temporal(n_frames: int, queries: np.ndarray, gt: Tracks | None, kind: str, severity: int,
              query_mode: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(times, new_queries, rows)`: the original frame of each new frame, the queries, the rows kept."""
    q_frames = queries[:, 0].astype(np.int64)
    if kind == "reverse":
        times = np.arange(n_frames)[::-1].copy()
        new = queries.copy()
        new[:, 0] = n_frames - 1 - q_frames
        if query_mode == "first" and gt is not None:
            seen = gt.visible.any(axis=1)
            last = n_frames - 1 - gt.visible[:, ::-1].argmax(axis=1)
            rows = np.flatnonzero(seen)
            new[rows, 0] = n_frames - 1 - last[rows]
            new[rows, 1:] = gt.xy[rows, last[rows]]
        return times, new, np.arange(len(queries))
    stride = SEVERITIES["frame_drop"][severity - 1]
    times = np.arange(0, n_frames, stride)
    new = queries.copy()
    keep = np.ones(len(queries), bool)
    for i in np.flatnonzero(q_frames % stride != 0):
        t = q_frames[i]
        candidates = times if gt is None else times[gt.visible[i, times]]
        if query_mode == "first":
            candidates = candidates[candidates > t]
        if gt is None or not len(candidates):
            keep[i] = False
            continue
        chosen = candidates[np.argmin(np.abs(candidates - t))]  # argmin: the first (earlier) of a tie
        new[i, 0], new[i, 1:] = chosen, gt.xy[i, chosen]
    new[:, 0] = new[:, 0] // stride  # kept frames are multiples of the stride
    rows = np.flatnonzero(keep)
    return times, new[rows], rows


def _apply(frames, queries, gt, n_frames, steps, seed, name, query_mode):
    """Every step in order; also returns the original frame of each frame and the original row of each query."""
    times, rows = np.arange(n_frames), np.arange(len(queries))
    for step, (kind, severity) in enumerate(steps):
        if kind in TEMPORAL_KINDS:
            t_new, queries, r_new = _temporal(len(times), queries, gt, kind, severity, query_mode)
            gt = None if gt is None else _retime(gt[r_new], t_new)
            frames = None if frames is None else np.ascontiguousarray(frames[t_new])
            times, rows = times[t_new], rows[r_new]
        elif frames is not None:
            frames = _photometric(frames, kind, severity, _rng(seed, name, kind, step))
    return frames, queries.astype(np.float32), gt, times, rows


def _check_mode(query_mode) -> None:
    if query_mode not in ("first", "strided"):
        raise ValueError(f"perturbation: query_mode must be 'first' or 'strided' (the dataset's); got {query_mode!r}")


def apply_perturbation(frames: np.ndarray | None, queries: np.ndarray, gt: Tracks | None, *,
                       kind: str | Sequence[str], severity: int | Sequence[int] = 3, seed: int = 0,
                       query_mode: str, name: str = "", n_frames: int | None = None,
                       ) -> tuple[np.ndarray | None, np.ndarray, Tracks | None]:
    """Perturb one video: `(frames, queries, gt)` after every kind in `kind`, in order.

    `frames` uint8 `(T, H, W, 3)` (or None to transform only the queries and ground truth, then
    `n_frames` or `gt` gives T), `queries` float32 `(N, 3)`, `gt` the tracks of the queries or None.
    `name` (the video's) and `seed` pick the random draws; `query_mode` ("first" or "strided", the
    dataset's) decides where `frame_drop` and `reverse` move queries (module docstring). Photometric
    kinds return `queries` and `gt` as given; the returned queries and ground truth always agree
    (the ground truth is visible at each query's frame, at its position, wherever it was before).
    """
    _check_mode(query_mode)
    spec = Perturbation(_as_tuple(kind), _as_tuple(severity), seed)
    if frames is not None:
        validate_frames(frames, f"video '{name}'")
        n_frames = frames.shape[0]
    elif gt is not None:
        n_frames = gt.n_frames
    if n_frames is None:
        raise ValueError("apply_perturbation: give frames, gt or n_frames (the number of frames)")
    validate_queries(queries, n_frames, f"video '{name}'")
    if gt is not None and gt.xy.shape[:2] != (len(queries), n_frames):
        raise ValueError(f"video '{name}': 'gt' must have tracks of shape (N={len(queries)}, T={n_frames}); "
                         f"got {gt.xy.shape[:2]}")
    out_frames, out_queries, out_gt, _, _ = _apply(frames, queries, gt, n_frames, spec.steps, spec.seed, name,
                                                   query_mode)
    if not spec.temporal:
        return out_frames, queries, gt
    return out_frames, out_queries, out_gt


def _per_frame(value, times):
    return None if value is None else np.ascontiguousarray(value[times])


def _stride(spec: Perturbation) -> int:
    """The product of the frame-drop strides: how much longer a frame lasts after the perturbation."""
    return int(np.prod([SEVERITIES["frame_drop"][s - 1] for k, s in spec.steps if k == "frame_drop"]))


def perturb_sample(sample: Sample, spec, query_mode: str) -> Sample:
    """`sample` under the perturbation `spec` (a `Perturbation`, a config mapping, or None: unchanged).

    Frames as `apply_perturbation` (random draws keyed by `sample.name`); under `frame_drop` and
    `reverse` the ground truth, queries, per-frame depth, intrinsics and extrinsics follow the kept
    frames, dropped queries take their skeleton ids with them, and fps is divided by the stride.
    """
    spec = Perturbation.from_config(spec)
    if spec is None:
        return sample
    _check_mode(query_mode)
    frames, queries, gt, times, rows = _apply(sample.frames, sample.queries, sample.gt, sample.n_frames,
                                              spec.steps, spec.seed, sample.name, query_mode)
    if not spec.temporal:
        return replace(sample, frames=frames)
    skeleton = sample.skeleton
    if skeleton is not None:
        skeleton = Skeleton(skeleton.names, skeleton.connections, skeleton.keypoint_ids[rows])
    return replace(sample, frames=frames, queries=queries, gt=gt, fps=sample.fps / _stride(spec),
                   depth=_per_frame(sample.depth, times), intrinsics=_per_frame(sample.intrinsics, times),
                   extrinsics=_per_frame(sample.extrinsics, times), skeleton=skeleton)


def perturb_annotations(annotations: Annotations, spec, query_mode: str) -> Annotations:
    """The `Annotations` of the perturbed video (what scoring needs, without decoding frames):
    the same queries, ground truth, frame count, fps and per-frame geometry as `perturb_sample`."""
    spec = Perturbation.from_config(spec)
    if spec is None or not spec.temporal:
        return annotations
    _check_mode(query_mode)
    a = annotations
    _, queries, gt, times, _ = _apply(None, a.queries, a.gt, a.n_frames, spec.steps, spec.seed, a.name, query_mode)
    return replace(a, queries=queries, gt=gt, n_frames=len(times), fps=a.fps / _stride(spec),
                   depth=_per_frame(a.depth, times), intrinsics=_per_frame(a.intrinsics, times),
                   extrinsics=_per_frame(a.extrinsics, times))


class PerturbedView:
    """A dataset whose every video is perturbed by `spec` (frames on `load`, geometry and timing on
    `load_annotations` too); any other attribute is the dataset's. The perturbation is part of the
    dataset's config, so of the run identity and the cache key."""

    def __init__(self, dataset, spec: Perturbation):
        self.dataset, self.spec = dataset, spec
        self.query_mode = getattr(dataset, "query_mode", "first")

    @property
    def names(self) -> list[str]:
        return self.dataset.names

    def __len__(self) -> int:
        return len(self.dataset.names)

    def load(self, index: int) -> Sample:
        return perturb_sample(self.dataset.load(index), self.spec, self.query_mode)

    def load_annotations(self, index: int) -> Annotations:
        return perturb_annotations(self.dataset.load_annotations(index), self.spec, self.query_mode)

    def __getattr__(self, name):
        if name in ("dataset", "spec"):
            raise AttributeError(name)
        if name == "scene" and self.spec.temporal:  # a scene's timing would no longer match its frames
            raise AttributeError(name)
        return getattr(self.dataset, name)
