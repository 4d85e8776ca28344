"""The data contracts of pointbench: `Tracks`, `Sample` and query arrays, with validation.

Shapes are the public interface (see DESIGN.md). Every check raises `ValueError` naming the
owner (a video, a tracker, a file) and the key, with what was expected and what was found;
nothing is silently coerced.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np

__all__ = ["Tracks", "Sample", "Annotations", "Skeleton", "invalid", "validate_queries", "validate_frames"]


def invalid(owner, key: str, expected: str, found: str) -> ValueError:
    """The error for bad input: names the owner (file, video, tracker), the key, what was expected and found."""
    return ValueError(f"{owner}: '{key}' must be {expected}; got {found}")


def _check_array(value, owner: str, key: str, dtype, shape: tuple) -> np.ndarray:
    """Check dtype and shape (None in `shape` matches any size) without converting."""
    expected = f"{np.dtype(dtype).name} array of shape ({', '.join('*' if s is None else str(s) for s in shape)})"
    if not isinstance(value, np.ndarray):
        raise invalid(owner, key, expected, type(value).__name__)
    if value.dtype != dtype:
        raise invalid(owner, key, expected, f"dtype {value.dtype}")
    if value.ndim != len(shape) or any(s is not None and s != v for s, v in zip(shape, value.shape)):
        raise invalid(owner, key, expected, f"shape {value.shape}")
    return value


def validate_queries(queries, n_frames: int | None = None, owner: str = "queries") -> np.ndarray:
    """Check a float32 `(N, 3)` array of `(t, x, y)` rows: finite, integer `t` within `[0, n_frames)`."""
    _check_array(queries, owner, "queries", np.float32, (None, 3))
    if not np.isfinite(queries).all():
        raise invalid(owner, "queries", "finite", "NaN or inf")
    t = queries[:, 0]
    if not np.array_equal(t, np.round(t)):
        raise invalid(owner, "queries", "integer frame indices in column 0", f"t={t[t != np.round(t)][:3]}")
    if n_frames is not None and len(t) and (t.min() < 0 or t.max() >= n_frames):
        raise invalid(owner, "queries", f"frame indices in [0, {n_frames})", f"range [{t.min():g}, {t.max():g}]")
    return queries


def validate_frames(frames, owner: str = "frames") -> np.ndarray:
    """Check uint8 `(T, H, W, 3)` RGB frames."""
    return _check_array(frames, owner, "frames", np.uint8, (None, None, None, 3))


@dataclass(eq=False)
class Tracks:
    """Point tracks for N queries over T frames; row i of every array belongs to query i.

    `xy` is in pixels (x right, y down, TAP-Vid raster convention); it must be finite wherever
    `visible` is true. `xyz`, when given, is in the frame named by `xyz_frame`.

    >>> t = Tracks(xy=np.zeros((2, 5, 2), np.float32), visible=np.ones((2, 5), bool))
    >>> len(t), t.n_frames, len(t[[1]])
    (2, 5, 1)
    """

    xy: np.ndarray
    visible: np.ndarray
    confidence: np.ndarray | None = None
    xyz: np.ndarray | None = None
    xyz_frame: Literal["camera", "world"] | None = None
    owner: str = field(default="tracks", repr=False, compare=False)

    def __post_init__(self) -> None:
        o = self.owner
        _check_array(self.xy, o, "xy", np.float32, (None, None, 2))
        n, t = self.xy.shape[:2]
        _check_array(self.visible, o, "visible", np.bool_, (n, t))
        finite = np.isfinite(self.xy)
        if not finite.all() and not (finite.all(-1) | ~self.visible).all():  # no copy of the visible rows
            raise invalid(o, "xy", "finite wherever visible is true", "NaN or inf at visible points")
        if self.confidence is not None:
            _check_array(self.confidence, o, "confidence", np.float32, (n, t))
            if not ((self.confidence >= 0) & (self.confidence <= 1)).all():
                raise invalid(o, "confidence", "in [0, 1]", "values outside (or NaN)")
        if self.xyz is not None:
            _check_array(self.xyz, o, "xyz", np.float32, (n, t, 3))
            if self.xyz_frame not in ("camera", "world"):
                raise invalid(o, "xyz_frame", "'camera' or 'world' when xyz is given", repr(self.xyz_frame))

    def __len__(self) -> int:
        return self.xy.shape[0]

    def __eq__(self, other) -> bool:
        """Equal when every array (NaN positions included) and the xyz frame are equal."""
        if not isinstance(other, Tracks):
            return NotImplemented
        mine, theirs = self.arrays(), other.arrays()
        return (self.xyz_frame == other.xyz_frame and mine.keys() == theirs.keys()
                and all(np.array_equal(mine[k], theirs[k], equal_nan=mine[k].dtype.kind == "f") for k in mine))

    __hash__ = None

    @property
    def n_frames(self) -> int:
        return self.xy.shape[1]

    def __getitem__(self, index) -> "Tracks":
        """Subset by query index (an int, slice, index array or boolean mask)."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        return Tracks(
            xy=self.xy[index],
            visible=self.visible[index],
            confidence=None if self.confidence is None else self.confidence[index],
            xyz=None if self.xyz is None else self.xyz[index],
            xyz_frame=self.xyz_frame,
            owner=self.owner,
        )

    @classmethod
    def empty(cls, n_frames: int) -> "Tracks":
        return cls(xy=np.zeros((0, n_frames, 2), np.float32), visible=np.zeros((0, n_frames), bool))

    @classmethod
    def merge(cls, parts: list["Tracks"]) -> "Tracks":
        """Concatenate tracks of the same frames along the query axis (e.g. query chunks)."""
        if not parts:
            raise ValueError("Tracks.merge needs at least one part")

        def cat(name):
            values = [getattr(p, name) for p in parts]
            if all(v is None for v in values):
                return None
            if any(v is None for v in values):
                raise ValueError(f"Tracks.merge: '{name}' is present in some parts and missing in others")
            return np.concatenate(values, axis=0)

        lengths = {p.n_frames for p in parts}
        if len(lengths) > 1:
            raise ValueError(f"Tracks.merge: parts must cover the same frames; got frame counts {sorted(lengths)}")
        frames = {p.xyz_frame for p in parts}
        if len(frames) > 1:
            raise ValueError(f"Tracks.merge: parts have different xyz frames {sorted(map(str, frames))}")
        return cls(
            xy=cat("xy"), visible=cat("visible"), confidence=cat("confidence"), xyz=cat("xyz"),
            xyz_frame=parts[0].xyz_frame, owner=parts[0].owner,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays that are set, by name (for saving)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("owner", "xyz_frame")}
        return {k: v for k, v in out.items() if v is not None}


@dataclass(eq=False)
class Skeleton:
    """Named keypoints and their connections (a pose skeleton); `keypoint_ids[i]` is query i's keypoint."""

    names: list[str]
    connections: list[tuple[int, int]]
    keypoint_ids: np.ndarray  # int (N,)

    def __post_init__(self) -> None:
        k = len(self.names)
        ids = np.asarray(self.keypoint_ids)
        if ids.ndim != 1 or ids.dtype.kind not in "iu" or (len(ids) and (ids.min() < 0 or ids.max() >= k)):
            raise invalid("skeleton", "keypoint_ids", f"1-D integers in [0, {k})", f"{ids.dtype} {ids.shape}")
        if any(not (0 <= a < k and 0 <= b < k) for a, b in self.connections):
            raise invalid("skeleton", "connections", f"pairs of keypoint indices in [0, {k})", str(self.connections))


@dataclass(eq=False)
class Annotations:
    """What scoring needs of a video, without its frames: queries, ground truth and frame geometry."""

    name: str
    queries: np.ndarray
    gt: Tracks | None
    n_frames: int
    image_size: tuple[int, int]  # (height, width)
    fps: float = 30.0
    depth: np.ndarray | None = None  # for lifting 2D predictions to 3D
    intrinsics: np.ndarray | None = None
    extrinsics: np.ndarray | None = None


@dataclass(eq=False)
class Sample:
    """One video with its queries and (optional) ground truth; `gt` row i is the track of query i."""

    name: str
    frames: np.ndarray
    queries: np.ndarray
    gt: Tracks | None = None
    fps: float = 30.0
    depth: np.ndarray | None = None
    intrinsics: np.ndarray | None = None
    extrinsics: np.ndarray | None = None
    skeleton: Skeleton | None = None

    def __post_init__(self) -> None:
        owner = f"video '{self.name}'"
        validate_frames(self.frames, owner)
        t = self.frames.shape[0]
        validate_queries(self.queries, t, owner)
        n = self.queries.shape[0]
        if self.gt is not None:
            if not isinstance(self.gt, Tracks):
                raise invalid(owner, "gt", "Tracks or None", type(self.gt).__name__)
            if self.gt.xy.shape[:2] != (n, t):
                raise invalid(owner, "gt", f"tracks of shape (N={n}, T={t})", f"{self.gt.xy.shape[:2]}")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise invalid(owner, "fps", "a positive number", repr(self.fps))
        h, w = self.frames.shape[1:3]
        if self.depth is not None:
            _check_array(self.depth, owner, "depth", np.float32, (t, h, w))
        if self.intrinsics is not None:
            _check_array(self.intrinsics, owner, "intrinsics", np.float32, (t, 3, 3))
        if self.extrinsics is not None:
            _check_array(self.extrinsics, owner, "extrinsics", np.float32, (t, 3, 4))
        if self.skeleton is not None and len(self.skeleton.keypoint_ids) != n:
            raise invalid(owner, "skeleton", f"one keypoint id per query ({n})", str(len(self.skeleton.keypoint_ids)))

    @property
    def n_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return self.frames.shape[1], self.frames.shape[2]

    def annotations(self) -> Annotations:
        return Annotations(self.name, self.queries, self.gt, self.n_frames, self.image_size, self.fps,
                           self.depth, self.intrinsics, self.extrinsics)
