"""Kubric (MOVi-E, TAP-Vid-Kubric) videos exported to `.npz`, one file per video.

The format (pointbench's own; nothing of TensorFlow is needed to read it):

    video          uint8 (T, H, W, 3) RGB
    target_points  float (N, T, 2) positions (x, y) in pixels of this video, TAP-Vid raster
                   convention (pixel (i, j) covers [j, j+1) × [i, i+1)); values at occluded
                   frames are not read
    occluded       bool (N, T), True where the point is not visible
    depth          optional float (T, H, W): z-depth in metres along the optical axis (0 = invalid)
    intrinsics     optional float (3, 3) or (T, 3, 3): OpenCV pixel-centre intrinsics, pixels
    extrinsics     optional float (3, 4)/(4, 4) or (T, 3, 4)/(T, 4, 4): world-to-camera, OpenCV axes

Other keys (e.g. the pipeline's own `query_points`) are ignored: queries are sampled from the
tracks by the TAP-Vid protocol (`query_mode` first or strided every `query_stride` frames), as
for every other pointbench dataset, and tracks never visible are dropped.

Where the numbers come from: kubric's `challenges/point_tracking/dataset.py`
(`create_point_tracking_dataset`, also what tapnet's `create_kubric_eval_dataset` reads) yields
per video `video` float in [-1, 1], `target_points` (N, T, 2) already in raster pixels (x, y)
of the rendered frame (256×256 for `movi_e/256x256`; not normalised), `occluded` (N, T) and
`query_points` (N, 3) as (t, y, x). So the export is::

    import numpy as np, tensorflow_datasets as tfds
    from kubric.challenges.point_tracking.dataset import create_point_tracking_dataset

    ds = create_point_tracking_dataset(split="validation", train_size=(256, 256), shuffle_buffer_size=None,
                                       repeat=False, random_crop=False)
    for i, ex in enumerate(tfds.as_numpy(ds)):
        np.savez_compressed(f"movi_e/{i:05d}.npz",
                            video=np.clip(np.round((ex["video"] + 1) * 127.5), 0, 255).astype(np.uint8),
                            target_points=ex["target_points"].astype(np.float32),  # pixels already
                            occluded=ex["occluded"])

(with `batch_dims`, drop the batch axis first: `ex = {k: v[0] for k, v in ex.items()}`). Keep
`train_size` equal to the rendered size (256×256 for `movi_e/256x256`): the pipeline scales
`target_points` to the rendered frame size, while it resizes the video to `train_size`. Tracks
kept in [0, 1] (TAP-Vid pickles) must be multiplied by (W, H); a file whose visible points all lie
in [-1, 1] on a larger frame is refused as "normalised". Kubric's depth is the distance along
each pixel's ray, not z: convert with `z = d / ‖K⁻¹ (j, i, 1)‖` (pixel-centre K) before saving `depth`.

Memory: `load_annotations` reads the tracks and only the header of `video` (its shape). Files are
read with pointbench's bounded `.npz` reader: every declared shape is checked against the file's
size before anything is allocated, and object (pickled) arrays are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pointbench.datasets.base import Dataset, npz_files
from pointbench.datasets.bounded_io import NpzArrays
from pointbench.datasets.checks import check_intrinsics, check_rigid
from pointbench.datasets.queries import QUERY_MODES, sample_queries
from pointbench.types import Annotations, Sample, Tracks, invalid

__all__ = ["KubricDataset", "REQUIRED_KEYS", "npz_shape"]

REQUIRED_KEYS = ("video", "target_points", "occluded")


def npz_shape(path: Path, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of array `key` in an .npz file, read from its header without loading the data."""
    arrays = NpzArrays(path)
    return arrays.shape(key), arrays.dtype(key)


class KubricDataset(Dataset):
    """Kubric videos from `.npz` files in the format above: `path` is a folder of them (not
    searched recursively; names are file stems, sorted) or one file. `limit` keeps the first videos.
    """

    positions_under_occlusion = True  # ground truth continues behind occluders (breakdowns)

    def __init__(self, path: str | None = None, query_mode: str = "first", query_stride: int = 5,
                 fps: float = 12.0, limit: int | None = None):
        if query_mode not in QUERY_MODES:
            raise ValueError(f"kubric dataset: query_mode must be one of {QUERY_MODES}; got {query_mode!r}")
        if isinstance(query_stride, bool) or not isinstance(query_stride, int) or query_stride < 1:
            raise ValueError(f"kubric dataset: query_stride must be a positive integer; got {query_stride!r}")
        if isinstance(fps, bool) or not (isinstance(fps, (int, float)) and fps > 0):
            raise ValueError(f"kubric dataset: fps must be a positive number; got {fps!r}")
        files = npz_files(path, "kubric")  # format and export: this module's docstring
        self.files = files if limit is None else files[: max(int(limit), 0)]
        self.query_mode, self.query_stride, self.fps = query_mode, query_stride, float(fps)

    @property
    def names(self) -> list[str]:
        return [f.stem for f in self.files]

    def _file(self, index: int) -> Path:
        if not 0 <= index < len(self.files):
            raise IndexError(f"kubric dataset has {len(self.files)} videos; got index {index}")
        return self.files[index]

    def _tracks(self, path: Path, data: NpzArrays, video_shape: tuple) -> tuple[np.ndarray, Tracks]:
        """Queries and ground truth from `target_points` / `occluded`, checked against the video's shape."""
        missing = [k for k in REQUIRED_KEYS if k not in data]
        if missing:
            raise ValueError(f"{path}: missing key(s) {missing}; keys found: {sorted(data.keys)}")
        if len(video_shape) != 4 or video_shape[3] != 3:
            raise invalid(path, "video", "uint8 RGB frames of shape (T, H, W, 3)", f"shape {video_shape}")
        if 0 in video_shape[:3]:
            raise invalid(path, "video", "at least one frame of at least 1x1 pixels, shape (T, H, W, 3)",
                          f"shape {video_shape}")
        t, height, width = video_shape[:3]
        points, occluded = data.read("target_points"), data.read("occluded")
        if points.dtype.kind != "f" or points.ndim != 3 or points.shape[1:] != (t, 2):
            raise invalid(path, "target_points", f"a float array of shape (N, T={t}, 2)",
                        f"{points.dtype} array of shape {points.shape}")
        if occluded.dtype != np.bool_ or occluded.shape != points.shape[:2]:
            raise invalid(path, "occluded", f"a bool array of shape {points.shape[:2]}",
                        f"{occluded.dtype} array of shape {occluded.shape}")
        visible = ~occluded
        xy = points[visible]
        if not np.isfinite(xy).all():
            raise invalid(path, "target_points", "finite wherever 'occluded' is false", "NaN or inf at visible points")
        outside = (xy < -1).any(axis=1) | (xy[:, 0] > width + 1) | (xy[:, 1] > height + 1)
        if outside.any():
            raise invalid(path, "target_points", f"pixels within the {width}x{height} frame (up to one pixel) wherever "
                        "'occluded' is false", f"{outside.sum()} visible points outside, e.g. (x, y) = "
                        f"{tuple(xy[outside][0].tolist())}")
        if len(xy) >= 10 and min(width, height) > 16 and (np.abs(xy) <= 1).all():
            raise invalid(path, "target_points", f"pixels (x in [0, {width}], y in [0, {height}])",
                        "every visible point within [-1, 1]: normalised coordinates? Convert them to pixels: "
                        "[0, 1] -> multiply by (W, H); [-1, 1] -> (p + 1) / 2 * (W, H)")
        xy32 = points.astype(np.float32)
        queries, track = sample_queries(xy32, visible, self.query_mode, self.query_stride)
        return queries, Tracks(xy=xy32[track], visible=visible[track], owner=str(path))

    def _optional(self, path: Path, data: NpzArrays, t: int, height: int, width: int) -> dict:
        """depth, intrinsics and extrinsics, as Sample wants them (float32, per frame), where present."""
        out = {}
        if "depth" in data:
            shape, dtype = data.shape("depth"), data.dtype("depth")
            if dtype.kind != "f" or shape != (t, height, width):
                raise invalid(path, "depth", f"a float array of shape (T, H, W) = {(t, height, width)}",
                            f"{dtype} array of shape {shape}")
            out["depth"] = data.read("depth").astype(np.float32)
        for key, shapes in (("intrinsics", [(3, 3)]), ("extrinsics", [(3, 4), (4, 4)])):
            if key not in data:
                continue
            shape, dtype = data.shape(key), data.dtype(key)
            if (dtype.kind not in "fiu" or len(shape) not in (2, 3) or shape[-2:] not in shapes
                    or (len(shape) == 3 and shape[0] != t)):
                expected = " or ".join(f"{s} / (T={t}, {s[0]}, {s[1]})" for s in shapes)
                raise invalid(path, key, f"finite numbers of shape {expected}", f"{dtype} array of shape {shape}")
            m = data.read(key)
            check = check_intrinsics if key == "intrinsics" else check_rigid
            check(m, path, key)
            m = m[..., :3, :]  # a 4×4 extrinsic's last row (0, 0, 0, 1) is dropped
            out[key] = np.broadcast_to(m.astype(np.float32), (t, *m.shape[-2:])).copy()
        return out

    def load_annotations(self, index: int) -> Annotations:
        """Queries and ground truth; reads only the header of `video`."""
        path = self._file(index)
        data = NpzArrays(path)
        shape = self._video_header(path, data)
        queries, gt = self._tracks(path, data, shape)
        extra = self._optional(path, data, *shape[:3])  # depth and camera, as `load` gives them
        return Annotations(path.stem, queries, gt, shape[0], tuple(shape[1:3]), self.fps, **extra)

    def load(self, index: int) -> Sample:
        path = self._file(index)
        data = NpzArrays(path)
        shape = self._video_header(path, data)
        queries, gt = self._tracks(path, data, shape)
        extra = self._optional(path, data, *shape[:3])
        return Sample(name=path.stem, frames=data.read("video"), queries=queries, gt=gt, fps=self.fps, **extra)

    @staticmethod
    def _video_header(path: Path, data: NpzArrays) -> tuple[int, ...]:
        if "video" not in data:
            raise ValueError(f"{path}: missing key(s) ['video']; keys found: {sorted(data.keys)}")
        if data.dtype("video") != np.uint8:
            raise invalid(path, "video", "uint8 RGB frames of shape (T, H, W, 3)", f"dtype {data.dtype('video')}")
        return data.shape("video")
