"""Multi-camera recordings with SAM2 instance masks: one `.npz` per recording, one video per camera.

Keys of a recording file (C cameras, T frames, H×W pixels):

    rgbs        uint8 [C, T, H, W, 3] or [C, T, 3, H, W] RGB (channels last when the last axis is 3)
    depths      real [C, T, H, W] z-depth in metres along the optical axis (0 or non-finite = invalid)
    intrs       real [C, T, 3, 3] or [C, 3, 3]: OpenCV pixel-centre intrinsics
    extrs       real [C, T, 3, 4] or [C, 3, 4] (also [C, T, 4, 4] / [C, 4, 4] with last row 0 0 0 1):
                world-to-camera, OpenCV axes (x right, y down, z forward)
    camera_ids  optional int or str [C] (default 0 … C-1), unique
    masks       bool or integer (non-zero = inside), in one of these forms (`mask_key`, default
                `sam2_masks`):
                - one key per instance, `<mask_key>/<instance>` or `<mask_key>_<instance>`, each
                  [C, T, H, W]; the instance id is the part after the separator, in file order;
                - one key `<mask_key>` [C, K, T, H, W] (K instances) or [C, T, H, W] (one), with
                  optional `instance_ids` [K] (int or str; default 0 … K-1);
                - with `allow_pickle=True` only: one key `<mask_key>` holding a pickled dict
                  {instance: [C, T, H, W]} (what `np.savez(sam2_masks=dict)` writes). It is read
                  with pointbench's restricted unpickler (numpy arrays and plain containers only).

Each camera is a video named `<file stem>/cam<camera id>` with depth, intrinsics and extrinsics and
no ground truth. Its queries are, for every instance, pixels of the instance's mask at the first
frame where that mask is non-empty in that camera: at most `max_points_per_mask`, spread evenly by
farthest-point sampling over the mask pixels at least `mask_margin` pixels inside the mask (the
whole mask where none is), at pixel centres (j + 0.5, i + 0.5). `query_ids(index)` gives each
query's camera and instance id.

After a run, `combine_predictions` (called by the runner) writes per recording
`<out_dir>/multiview/<stem>.npz` with the tracks of all its cameras in one world frame (see there).

Memory: arrays are read per camera, with pointbench's bounded `.npz` reader (declared shapes are
checked against the file's size before anything is allocated). Uncompressed `.npz` members
(`np.savez`) are read at the camera's slab; compressed ones (`np.savez_compressed`) are
decompressed up to the camera's slab and no further (Fortran-ordered arrays and pickled masks are
read whole). `load_annotations` reads no RGB data.

A file that cannot be read (or whose keys and shapes are wrong) is listed as one video,
`<file name> (unreadable)`, whose loading raises the file's error; the other recordings still run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pointbench.datasets.base import Dataset, npz_files
from pointbench.datasets.bounded_io import NpzArrays
from pointbench.datasets.checks import check_intrinsics, check_rigid, detached, fresh, unreadable_name
from pointbench.geometry import camera_to_world, lift
from pointbench.io import atomic_path
from pointbench.types import Annotations, Sample, Tracks, invalid

__all__ = ["MultiViewNpzDataset", "sample_mask_points", "NpzArrays"]

log = logging.getLogger("pointbench")

def sample_mask_points(mask: np.ndarray, max_points: int, margin: float = 0.0) -> np.ndarray:
    """At most `max_points` pixels `(P, 2)` (row, column) of a boolean mask `(H, W)`, spread evenly.

    Farthest-point sampling: the first pixel is the one nearest the mask's centroid, each next one
    the pixel farthest from those chosen (ties: first in raster order), so any prefix of the result
    is itself spread over the mask. Only pixels more than `margin` pixels from the nearest pixel
    outside the mask are candidates, unless there are none.
    """
    mask = np.asarray(mask, bool)
    pixels = np.argwhere(mask)
    if margin > 0 and len(pixels):
        inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        deep = np.argwhere(inside > margin)
        if len(deep):
            pixels = deep
    if len(pixels) <= max_points:
        return pixels
    points = pixels.astype(np.float64)
    first = int(np.argmin(((points - points.mean(axis=0)) ** 2).sum(axis=1)))
    chosen = [first]
    distance = ((points - points[first]) ** 2).sum(axis=1)
    for _ in range(max_points - 1):
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        np.minimum(distance, ((points - points[nxt]) ** 2).sum(axis=1), out=distance)
    return pixels[chosen]


@dataclass
class _Recording:
    """What the headers of one recording file say (checked), and where its masks are."""

    path: Path
    camera_ids: list  # int or str, one per camera
    n_frames: int
    size: tuple[int, int]  # (H, W)
    channels_last: bool
    intrinsics: np.ndarray  # float32 (C, T, 3, 3)
    extrinsics: np.ndarray  # float32 (C, T, 3, 4)
    mask_form: str  # "keys" | "stacked" | "dict"
    mask_keys: dict  # instance id (str) -> key (keys form); {} otherwise
    instance_ids: list[str]  # stacked form

    @property
    def stem(self) -> str:
        return self.path.stem

    def name(self, camera: int) -> str:
        return f"{self.stem}/cam{self.camera_ids[camera]}"


def _ids(arrays: NpzArrays, key: str, count: int, what: str) -> list:
    """Optional 1-D int/str ids `(count,)`, unique; default 0 … count-1."""
    if key not in arrays:
        return list(range(count))
    shape, dtype = arrays.shape(key), arrays.dtype(key)
    if shape != (count,) or dtype.kind not in "iuU":
        raise invalid(arrays.path, key, f"int or str ids of shape ({count},), one per {what}", f"{dtype} {shape}")
    ids = arrays.read(key).tolist()
    if len(set(ids)) != len(ids):
        raise invalid(arrays.path, key, "unique", str(ids))
    return ids


def _read_recording(path: Path, mask_key: str, allow_pickle: bool) -> _Recording:
    arrays = NpzArrays(path, allow_pickle)
    required = {"rgbs": "[C, T, H, W, 3] or [C, T, 3, H, W] uint8", "depths": "[C, T, H, W] metres",
                "intrs": "[C, T, 3, 3] or [C, 3, 3]", "extrs": "[C, T, 3, 4] or [C, 3, 4] world-to-camera"}
    for key, expected in required.items():
        if key not in arrays:
            raise ValueError(f"{path}: missing key '{key}' ({expected}); keys found: {sorted(arrays.keys)}")

    shape, dtype = arrays.shape("rgbs"), arrays.dtype("rgbs")
    if dtype != np.uint8 or len(shape) != 5 or 3 not in (shape[4], shape[2]):
        raise invalid(path, "rgbs", required["rgbs"], f"{dtype} {shape}")
    channels_last = shape[4] == 3
    n_cameras, n_frames = shape[:2]
    height, width = shape[2:4] if channels_last else shape[3:5]
    if 0 in (n_cameras, n_frames, height, width):
        raise invalid(path, "rgbs", "at least one camera and one frame of at least 1x1 pixels", f"shape {shape}")
    dims = f"C={n_cameras}, T={n_frames}, H={height}, W={width}"

    def real(key: str, shapes: list[tuple], text: str) -> tuple:
        found, kind = arrays.shape(key), arrays.dtype(key).kind
        if kind not in "fiu" or found not in shapes:
            raise invalid(path, key, f"a real array of shape {text} ({dims} from 'rgbs')", f"{arrays.dtype(key)} {found}")
        return found

    real("depths", [(n_cameras, n_frames, height, width)], "[C, T, H, W]")
    real("intrs", [(n_cameras, n_frames, 3, 3), (n_cameras, 3, 3)], "[C, T, 3, 3] or [C, 3, 3]")
    real("extrs", [(n_cameras, n_frames, r, 4) for r in (3, 4)] + [(n_cameras, r, 4) for r in (3, 4)],
         "[C, T, 3, 4] or [C, 3, 4] (or 4×4)")
    intrinsics = check_intrinsics(arrays.read("intrs").reshape(n_cameras, -1, 3, 3), path, "intrs")
    intrinsics = np.broadcast_to(intrinsics, (n_cameras, n_frames, 3, 3))
    extrinsics = arrays.read("extrs")
    extrinsics = check_rigid(extrinsics.reshape(n_cameras, -1, *extrinsics.shape[-2:]), path, "extrs")
    extrinsics = np.broadcast_to(extrinsics[..., :3, :], (n_cameras, n_frames, 3, 4))
    camera_ids = _ids(arrays, "camera_ids", n_cameras, "camera")

    mask_shape = (n_cameras, n_frames, height, width)

    def check_mask(key: str, shapes: list[tuple], text: str) -> tuple:
        found, kind = arrays.shape(key), arrays.dtype(key).kind
        if kind not in "biu" or found not in shapes:
            raise invalid(path, key, f"a bool or integer mask of shape {text} ({dims} from 'rgbs')",
                        f"{arrays.dtype(key)} {found}")
        return found

    prefixed = {key[len(mask_key) + 1:]: key for key in arrays.keys
                if key[:len(mask_key) + 1] in (f"{mask_key}/", f"{mask_key}_") and key != "instance_ids"}
    mask_keys, instance_ids = {}, []
    if mask_key in arrays and prefixed:
        raise ValueError(f"{path}: masks given both as '{mask_key}' and per instance ({sorted(prefixed.values())}); "
                         "keep one form")
    if mask_key in arrays and arrays.dtype(mask_key).hasobject:
        form = "dict"
        if not allow_pickle:
            arrays.read(mask_key)  # raises, naming the key and the flag
    elif mask_key in arrays:
        form = "stacked"
        found = arrays.shape(mask_key)
        stacked = [(n_cameras, found[1], n_frames, height, width)] if len(found) == 5 else []
        check_mask(mask_key, [mask_shape, *stacked], "[C, K, T, H, W] or [C, T, H, W]")
        count = found[1] if len(found) == 5 else 1
        instance_ids = [str(i) for i in _ids(arrays, "instance_ids", count, "instance")]
    elif prefixed:
        form = "keys"
        if len(set(prefixed)) != len(prefixed) or "" in prefixed:
            raise ValueError(f"{path}: instance mask keys {sorted(prefixed.values())} give empty or repeated ids")
        for instance, key in prefixed.items():
            check_mask(key, [mask_shape], "[C, T, H, W]")
        mask_keys = prefixed
    else:
        raise ValueError(f"{path}: missing key '{mask_key}' (masks [C, K, T, H, W] or [C, T, H, W], or one key "
                         f"'{mask_key}/<instance>' or '{mask_key}_<instance>' per instance [C, T, H, W]); "
                         f"keys found: {sorted(arrays.keys)}")
    return _Recording(path, camera_ids, n_frames, (height, width), channels_last,
                      intrinsics.astype(np.float32), extrinsics.astype(np.float32), form, mask_keys, instance_ids)


class MultiViewNpzDataset(Dataset):
    """Multi-camera recordings (format above): `path` is one `.npz` file or a folder of them (not
    searched recursively, sorted). One video per camera, named `<file stem>/cam<camera id>`.

    Args:
        mask_key: name of the masks key (or of the per-instance keys' prefix).
        max_points_per_mask: at most this many queries per instance and camera.
        mask_margin: queries lie more than this many pixels inside the mask where it is thick
            enough (mask edges are where segmentation and depth are least reliable); 0: anywhere.
        fps: playback rate in the recording (not stored in the files).
        allow_pickle: accept masks stored as a pickled dict (only for files you trust).

    Every file's keys and shapes are checked from the headers when the dataset is built; a
    malformed file is listed as one video `<file name> (unreadable)` whose loading raises the
    error (naming the file, the key and the shape found), and the other files' videos still run.
    """

    query_mode = "first"

    def __init__(self, path: str, mask_key: str = "sam2_masks", max_points_per_mask: int = 64,
                 mask_margin: float = 2.0, fps: float = 30.0, allow_pickle: bool = False):
        files = npz_files(path, "multiview_npz")
        if int(max_points_per_mask) < 1:
            raise ValueError(f"multiview_npz dataset: max_points_per_mask must be >= 1; got {max_points_per_mask}")
        self.mask_key, self.max_points_per_mask = mask_key, int(max_points_per_mask)
        self.mask_margin, self.fps, self.allow_pickle = float(mask_margin), float(fps), allow_pickle
        self.recordings, self._videos, self._names, taken = [], [], [], set()
        for file in files:
            try:
                recording = _read_recording(file, mask_key, allow_pickle)
            except Exception as error:  # a broken file costs only its own videos
                self._videos.append((file, detached(error)))
                self._names.append(unreadable_name(file, taken))
                continue
            self.recordings.append(recording)
            for camera in range(len(recording.camera_ids)):
                self._videos.append((recording, camera))
                taken.add(recording.name(camera))
                self._names.append(recording.name(camera))
        self._queries: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def _video(self, index: int) -> tuple[_Recording, int]:
        if not 0 <= index < len(self._videos):
            raise IndexError(f"multiview_npz dataset has {len(self._videos)} videos; got index {index}")
        recording, camera = self._videos[index]
        if isinstance(camera, BaseException):
            raise fresh(camera)
        return recording, camera

    def scene(self, index: int) -> str:
        """The recording (file stem) that video `index` is a camera of."""
        recording = self._videos[index][0]
        return recording.stem

    def _masks(self, recording: _Recording, camera: int):
        """(instance id, mask (T, H, W)) of every instance, for one camera, read one at a time."""
        arrays = NpzArrays(recording.path, self.allow_pickle)
        shape = (recording.n_frames, *recording.size)
        if recording.mask_form == "keys":
            for instance, key in recording.mask_keys.items():
                yield instance, arrays.read(key, camera)
        elif recording.mask_form == "stacked":
            masks = arrays.read(self.mask_key, camera).reshape(-1, *shape)
            yield from zip(recording.instance_ids, masks)
        else:
            masks = arrays.read(self.mask_key)
            if not isinstance(masks, dict):
                raise invalid(recording.path, self.mask_key, "a pickled dict {instance: [C, T, H, W] mask}",
                            type(masks).__name__)
            for instance, mask in masks.items():
                mask = np.asarray(mask)
                if mask.dtype.kind not in "biu" or mask.shape != (len(recording.camera_ids), *shape):
                    raise invalid(recording.path, f"{self.mask_key}[{instance!r}]",
                                f"a bool or integer mask of shape [C, T, H, W] = {(len(recording.camera_ids), *shape)}",
                                f"{mask.dtype} {mask.shape}")
                yield str(instance), mask[camera]

    def _query_table(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Queries (N, 3), camera ids (N,), instance ids (N,) of video `index` (computed once)."""
        if index not in self._queries:
            recording, camera = self._video(index)
            rows, instances = [], []
            for instance, mask in self._masks(recording, camera):
                present = mask.reshape(len(mask), -1).any(axis=1)
                if not present.any():
                    continue
                t = int(np.argmax(present))
                pixels = sample_mask_points(mask[t] != 0, self.max_points_per_mask, self.mask_margin)
                rows.append(np.column_stack([np.full(len(pixels), t), pixels[:, 1] + 0.5, pixels[:, 0] + 0.5]))
                instances += [instance] * len(pixels)
            queries = np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, 3), np.float32)
            camera_ids = np.array([recording.camera_ids[camera]] * len(queries))
            if not len(camera_ids):
                camera_ids = np.zeros(0, np.array(recording.camera_ids).dtype)
            self._queries[index] = queries, camera_ids, np.array(instances, dtype=str)
        return self._queries[index]

    def query_ids(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(camera id (N,), instance id (N,) as str) of each query of video `index`."""
        return self._query_table(index)[1:]

    def _geometry(self, index: int) -> dict:
        recording, camera = self._video(index)
        depth = NpzArrays(recording.path).read("depths", camera).astype(np.float32, copy=False)
        return dict(depth=depth, intrinsics=recording.intrinsics[camera].copy(),
                    extrinsics=recording.extrinsics[camera].copy())

    def load_annotations(self, index: int) -> Annotations:
        """Queries, depth and camera geometry; reads no RGB data."""
        recording, _ = self._video(index)
        return Annotations(self.names[index], self._query_table(index)[0], None, recording.n_frames,
                           recording.size, self.fps, **self._geometry(index))

    def load(self, index: int) -> Sample:
        recording, camera = self._video(index)
        frames = NpzArrays(recording.path).read("rgbs", camera)
        if not recording.channels_last:
            frames = np.ascontiguousarray(frames.transpose(0, 2, 3, 1))
        return Sample(name=self.names[index], frames=frames, queries=self._query_table(index)[0], gt=None,
                      fps=self.fps, **self._geometry(index))

    def combine_predictions(self, predictions: dict[str, Tracks], out_dir: Path) -> list[Path]:
        """Write every recording's tracks, all cameras together, to `<out_dir>/multiview/<stem>.npz`.

        Rows are the queries of each camera in turn (M in all). Keys:

            xy          float32 (M, T, 2)  raster positions in the row's own camera
            visible     bool (M, T)
            confidence  float32 (M, T), when every camera's tracks have it
            xyz_world   float32 (M, T, 3)  world frame; NaN where the point was not lifted
                        (occluded, outside the frame, no valid depth)
            camera_id   (M,) the row's camera id (as in `camera_ids`: int, or str)
            instance_id str (M,) the row's instance id
            queries     float32 (M, 3) (t, x, y) in the row's camera
            cameras     (C',) the camera ids present, with `intrinsics` (C', T, 3, 3) and
                        `extrinsics` (C', T, 3, 4) world-to-camera, for reprojection

        `xyz_world` is the tracker's own 3D (camera or world frame), else the 2D track lifted with
        the camera's depth. Cameras without predictions (failed videos) are left out; a recording
        without any is not written. Returns the paths written.
        """
        index_of = {name: i for i, name in enumerate(self.names)}
        written = []
        for recording in self.recordings:
            parts = []
            for camera in range(len(recording.camera_ids)):
                name = recording.name(camera)
                if name not in predictions:
                    continue
                index, tracks = index_of[name], predictions[name]
                queries, camera_ids, instance_ids = self._query_table(index)
                if tracks.xy.shape[:2] != (len(queries), recording.n_frames):
                    raise ValueError(f"video '{name}': predictions of shape {tracks.xy.shape[:2]}; expected "
                                     f"(N={len(queries)}, T={recording.n_frames})")
                extrinsics = recording.extrinsics[camera]
                if tracks.xyz is None:
                    geometry = self._geometry(index)
                    _, xyz, _ = lift(tracks.xy, tracks.visible, geometry["depth"], geometry["intrinsics"], extrinsics)
                elif tracks.xyz_frame == "camera":
                    xyz = camera_to_world(tracks.xyz, extrinsics)
                else:
                    xyz = tracks.xyz
                parts.append(dict(xy=tracks.xy, visible=tracks.visible, confidence=tracks.confidence,
                                  xyz_world=xyz.astype(np.float32), camera_id=camera_ids, instance_id=instance_ids,
                                  queries=queries, camera=camera))
            if not parts:
                continue
            if len(parts) < len(recording.camera_ids):
                log.warning("%s: combining %d of %d cameras (the others have no predictions)",
                            recording.path, len(parts), len(recording.camera_ids))
            cameras = [p.pop("camera") for p in parts]
            arrays = {key: np.concatenate([p[key] for p in parts]) for key in parts[0] if key != "confidence"}
            if all(p["confidence"] is not None for p in parts):
                arrays["confidence"] = np.concatenate([p["confidence"] for p in parts])
            arrays.update(cameras=np.array([recording.camera_ids[c] for c in cameras]),
                          intrinsics=recording.intrinsics[cameras], extrinsics=recording.extrinsics[cameras])
            path = Path(out_dir) / "multiview" / f"{recording.stem}.npz"
            with atomic_path(path) as tmp, open(tmp, "wb") as f:
                np.savez(f, **arrays)
            written.append(path)
        return written
