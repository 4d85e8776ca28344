"""TAPVid-3D videos: one `.npz` per video, in the format of the TAPVid-3D release.

Keys read (shapes as stored): `images_jpeg_bytes` (T,) JPEG-encoded frames; `tracks_XYZ`
(T, N, 3) metres in the camera frame; `visibility` (T, N); `queries_xyt` (N, 3) rows
(x, y, t); `fx_fy_cx_cy` (4,); optional `extrinsics_w2c` (T, 4, 4).

Pixel convention: `fx_fy_cx_cy` are taken as OpenCV pixel-centre intrinsics (the ADT videos are
rendered with projectaria_tools, whose pixel centres are integers), and `queries_xyt` (x, y) as
positions in those same coordinates (`fx·X/Z + cx`), so both become pointbench raster
coordinates by adding 0.5 — the gt `xy` is `pointbench.geometry.project(tracks_XYZ)`, so query
and gt agree at the query frame.

Files are read with pointbench's bounded `.npz` reader (declared shapes are checked against the
file's size before anything is allocated); JPEG frames stored as a pickled object array are read,
with `allow_pickle=True` only, by the restricted unpickler, and must then be plain bytes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pointbench.datasets.base import Dataset, npz_files
from pointbench.datasets.bounded_io import NpzArrays
from pointbench.datasets.checks import check_rigid
from pointbench.geometry import RASTER_OFFSET, project
from pointbench.types import Annotations, Sample, Tracks, invalid, validate_queries

__all__ = ["TapVid3DDataset", "intrinsics_matrix", "decode_jpeg"]

REQUIRED_KEYS = ("images_jpeg_bytes", "tracks_XYZ", "visibility", "queries_xyt", "fx_fy_cx_cy")


def intrinsics_matrix(fx_fy_cx_cy) -> np.ndarray:
    """The 3×3 float64 matrix `[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`."""
    fx, fy, cx, cy = np.asarray(fx_fy_cx_cy, np.float64)
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def decode_jpeg(data, owner: str = "image") -> np.ndarray:
    """Decode JPEG bytes to a uint8 `(H, W, 3)` RGB image."""
    if not isinstance(data, (bytes, np.bytes_)):
        raise ValueError(f"{owner}: expected JPEG bytes; got {type(data).__name__}")
    # EXIF orientation ignored, as a plain decoder (and the TAP-Vid loader) does.
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise ValueError(f"{owner}: not a decodable image ({len(data)} bytes)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _float_array(data: NpzArrays, path: Path, key: str, shape: tuple) -> np.ndarray:
    """A real-valued array of `shape` (None: any size)."""
    value = data.read(key)
    text = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
    if value.dtype.kind not in "fiu":
        raise invalid(path, key, f"a numeric array of shape {text}", f"dtype {value.dtype}")
    if value.ndim != len(shape) or any(s is not None and s != v for s, v in zip(shape, value.shape)):
        raise invalid(path, key, f"an array of shape {text}", f"shape {value.shape}")
    return value


class TapVid3DDataset(Dataset):
    """The TAPVid-3D `.npz` files in `path` (a folder, not searched recursively, or one file).

    Names are file stems, sorted. `limit` keeps the first videos only. `fps` is not stored in
    the files (ADT and Panoptic Studio are 30 fps, DriveTrack 10). Some releases store the JPEG
    frames as a pickled object array: loading those needs `allow_pickle=True` (only for files you
    trust; they are read with the restricted unpickler, which admits plain bytes only).

    2D scoring uses `query_mode = "strided"` (every frame but the query frame): TAPVid-3D's
    queries are not necessarily at a track's first visible frame and its protocol scores every
    frame, before the query too. The 3D metrics (`pointbench.metrics.tapvid3d`) score every frame.
    """

    query_mode = "strided"

    def __init__(self, path: str, limit: int | None = None, fps: float = 30.0, allow_pickle: bool = False):
        files = npz_files(path, "tapvid3d")
        if limit is not None:
            files = files[: max(int(limit), 0)]
        self.files, self.fps, self.allow_pickle = files, float(fps), allow_pickle

    @property
    def names(self) -> list[str]:
        return [f.stem for f in self.files]

    def _read(self, index: int, decode: str) -> dict:
        """Check the file and read it; `decode` is "all" or "first" (the frames to decode)."""
        if not 0 <= index < len(self.files):
            raise IndexError(f"tapvid3d dataset has {len(self.files)} videos; got index {index}")
        path = self.files[index]
        data = NpzArrays(path, self.allow_pickle)
        missing = [k for k in REQUIRED_KEYS if k not in data]
        if missing:
            raise ValueError(f"{path}: missing key(s) {missing}; keys found: {sorted(data.keys)}")
        tracks = _float_array(data, path, "tracks_XYZ", (None, None, 3))
        n_frames, n_tracks = tracks.shape[:2]
        if n_frames == 0:
            raise invalid(path, "tracks_XYZ", "at least one frame, shape (T >= 1, N, 3)", f"shape {tracks.shape}")
        visibility = data.read("visibility")
        if visibility.shape != (n_frames, n_tracks):
            raise invalid(path, "visibility", f"shape (T, N) = {(n_frames, n_tracks)} like tracks_XYZ",
                          f"shape {visibility.shape}")
        if visibility.dtype != np.bool_ and not (visibility.dtype.kind in "iuf" and np.isin(visibility, (0, 1)).all()):
            raise invalid(path, "visibility", "bool (or 0/1)", f"dtype {visibility.dtype} with other values")
        queries_xyt = _float_array(data, path, "queries_xyt", (n_tracks, 3))
        fx_fy_cx_cy = _float_array(data, path, "fx_fy_cx_cy", (4,))
        extrinsics = None
        if "extrinsics_w2c" in data:
            extrinsics = check_rigid(_float_array(data, path, "extrinsics_w2c", (n_frames, 4, 4)), path,
                                     "extrinsics_w2c")
        shape = data.shape("images_jpeg_bytes")
        if len(shape) != 1 or shape[0] != n_frames:
            raise invalid(path, "images_jpeg_bytes", f"one JPEG per frame, shape ({n_frames},)", f"shape {shape}")
        jpegs = data.read("images_jpeg_bytes")
        if jpegs.dtype.kind not in "SO":
            raise invalid(path, "images_jpeg_bytes", "JPEG-encoded frames (bytes)", f"dtype {jpegs.dtype}")
        count = n_frames if decode == "all" else 1
        frames = [decode_jpeg(jpegs[t], f"{path}: 'images_jpeg_bytes'[{t}]") for t in range(count)]
        if not np.isfinite(fx_fy_cx_cy).all() or (fx_fy_cx_cy[:2] <= 0).any():
            raise invalid(path, "fx_fy_cx_cy", "finite with fx, fy > 0", f"{fx_fy_cx_cy.tolist()}")
        sizes = {f.shape[:2] for f in frames}
        if len(sizes) > 1:
            raise invalid(path, "images_jpeg_bytes", "frames of one size", f"sizes {sorted(sizes)}")
        return dict(path=path, tracks=tracks, visibility=visibility.astype(bool), queries_xyt=queries_xyt,
                    fx_fy_cx_cy=fx_fy_cx_cy, extrinsics=extrinsics, frames=frames, n_frames=n_frames)

    def _geometry(self, raw: dict) -> tuple[np.ndarray, Tracks, np.ndarray, np.ndarray | None]:
        """Queries (t, x, y) raster, gt tracks, intrinsics (T, 3, 3), extrinsics (T, 3, 4) or None."""
        path, n_frames = raw["path"], raw["n_frames"]
        xyz = np.ascontiguousarray(raw["tracks"].transpose(1, 0, 2)).astype(np.float32)
        visible = np.ascontiguousarray(raw["visibility"].T)
        if not np.isfinite(xyz[visible]).all() or not (xyz[visible][:, 2] > 0).all():
            raise invalid(path, "tracks_XYZ", "finite and in front of the camera (z > 0) wherever visible",
                        "NaN, inf or z <= 0 at visible points")
        k = intrinsics_matrix(raw["fx_fy_cx_cy"])
        xy, _ = project(xyz.astype(np.float64), k)
        gt = Tracks(xy=xy.astype(np.float32), visible=visible, xyz=xyz, xyz_frame="camera", owner=str(path))
        q = raw["queries_xyt"].astype(np.float64)
        queries = np.stack([q[:, 2], q[:, 0] + RASTER_OFFSET, q[:, 1] + RASTER_OFFSET], axis=1).astype(np.float32)
        validate_queries(queries, n_frames, owner=f"{path}: queries_xyt (x, y, t) as (t, x, y)")
        intrinsics = np.broadcast_to(k.astype(np.float32), (n_frames, 3, 3)).copy()
        extrinsics = None if raw["extrinsics"] is None else raw["extrinsics"][:, :3, :4].astype(np.float32)
        return queries, gt, intrinsics, extrinsics

    def load_annotations(self, index: int) -> Annotations:
        """Queries, ground truth and geometry; decodes only the first frame (for the image size)."""
        raw = self._read(index, decode="first")
        queries, gt, intrinsics, extrinsics = self._geometry(raw)
        size = raw["frames"][0].shape[:2]
        return Annotations(self.names[index], queries, gt, raw["n_frames"], size, self.fps,
                           intrinsics=intrinsics, extrinsics=extrinsics)

    def load(self, index: int) -> Sample:
        raw = self._read(index, decode="all")
        queries, gt, intrinsics, extrinsics = self._geometry(raw)
        frames = np.stack(raw["frames"])
        return Sample(name=self.names[index], frames=frames, queries=queries, gt=gt, fps=self.fps,
                      intrinsics=intrinsics, extrinsics=extrinsics)
