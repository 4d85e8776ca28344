"""Plain videos without ground truth: video files, frame folders, or a glob of either.

`path` is one video file (read with OpenCV's `cv2.VideoCapture`: .mp4, .avi, .mov, .mkv, …),
one folder of frames (image files sorted by name in natural order: frame2 before frame10), or a
glob pattern (`clips/*.mp4`, `shots/*/`) whose every match is one video. Names are file stems or
folder names; where two matches share one, their paths (relative to the pattern's fixed part)
are used instead.

Frames and positions — one rule: **the config and query files speak about the original video**.
Frame indices (`query_frame`, the `t` of a points file) count frames of the original video, and
positions (points files, masks) are pixels of the original resolution, TAP-Vid raster convention
(pixel (i, j) covers [j, j+1) × [i, i+1), its centre is (j + 0.5, i + 0.5)). The loader maps
them to the frames it returns: with `stride=k` it keeps original frames 0, k, 2k, … (a query
frame must be one of them: loaded index = t / k), `max_frames` caps how many it keeps, and
`resize` scales x by W'/W and y by H'/H exactly. `resize` is null (native size), an integer
(the short side becomes that many pixels, the aspect ratio is kept, the long side rounded), or
[height, width].

Queries (`queries.source`):
  grid    `grid_size` G: G×G points at the centres of a regular G×G partition of the frame,
          x = (j + 0.5)·W/G, y = (i + 0.5)·H/G, row by row (query i·G + j), at `query_frame`.
  points  `points_file`: UTF-8 CSV (a byte-order mark is fine) with a header naming columns t,
          x, y (other columns are ignored), or .npy float (M, 3) rows (t, x, y).
  mask    `mask_file`: an image of the original frame size; every pixel > 0 in any colour channel
          (alpha is ignored) is a candidate. At most `max_points` are taken, evenly spread: the
          frame is cut into s×s cells with the smallest integer s that leaves at most `max_points`
          cells touching the mask, and each such cell gives its mask pixel nearest the cell
          centre; queries sit at pixel centres (j + 0.5, i + 0.5), in raster order.

There is no ground truth (`gt=None`), so runs are `unscored`; `fps` comes from the video file
(CAP_PROP_FPS; the config `fps` where the file has none, and for frame folders), divided by
`stride`. At most one video's frames are held; `load_annotations` decodes only the first frame
(and, for a file whose header states no frame count, reads through it once to count them).
Paths need not be valid UTF-8: images are decoded from bytes read by Python, and a video file
whose name OpenCV cannot take is opened through a temporary symbolic link with an ASCII name.
"""

from __future__ import annotations

import contextlib
import csv
import glob as globlib
import logging
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pointbench.datasets.base import Dataset
from pointbench.datasets.bounded_io import opencv_path, read_image, read_npy
from pointbench.datasets.tapvid import INTERPOLATIONS
from pointbench.types import Annotations, Sample

__all__ = ["VideoDataset", "VIDEO_EXTENSIONS", "IMAGE_EXTENSIONS", "grid_queries", "mask_queries", "read_points_file"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
SOURCES = ("grid", "points", "mask", "pose")
_QUERY_KEYS = {"source", "grid_size", "query_frame", "points_file", "mask_file", "max_points", "keypoints",
               "min_visibility"}
log = logging.getLogger("pointbench")
_OWNER = "video dataset"


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _unique_names(paths: list[Path]) -> list[str]:
    """File stems or folder names; where several share one, their paths relative to the common folder."""
    plain = [p.name if p.is_dir() else p.stem for p in paths]
    if len(set(plain)) == len(plain):
        return plain
    base = Path(os.path.commonpath([str(p.absolute()) for p in paths]))
    return [p.absolute().relative_to(base).as_posix() if plain.count(name) > 1 else name
            for p, name in zip(paths, plain)]


def grid_queries(grid_size: int, height: int, width: int, frame: int = 0) -> np.ndarray:
    """float32 (G·G, 3) rows (frame, x, y): centres of a G×G partition, x = (j+0.5)·W/G, row by row."""
    centres = (np.arange(grid_size, dtype=np.float64) + 0.5) / grid_size
    y, x = np.meshgrid(centres * height, centres * width, indexing="ij")
    return np.stack([np.full(x.size, float(frame)), x.ravel(), y.ravel()], axis=1).astype(np.float32)


def mask_queries(mask: np.ndarray, max_points: int) -> np.ndarray:
    """float64 (M, 2) pixel-centre positions (x, y) of at most `max_points` mask pixels, evenly spread.

    Cells of s×s pixels, s the smallest integer giving at most `max_points` cells that touch the
    mask; each such cell contributes its mask pixel nearest the cell centre (first in raster
    order on ties). Every mask pixel is then within s·√2 pixels of a chosen one.
    """
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return np.zeros((0, 2))
    side = max(1, math.isqrt(len(rows) // max_points))
    while True:
        cell = (rows // side) * (mask.shape[1] // side + 1) + cols // side
        if len(np.unique(cell)) <= max_points:
            break
        side += 1
    centre_r, centre_c = (rows // side + 0.5) * side - 0.5, (cols // side + 0.5) * side - 0.5
    distance = (rows - centre_r) ** 2 + (cols - centre_c) ** 2
    order = np.lexsort((distance, cell))  # by cell, then distance (stable: raster order on ties)
    first = order[np.r_[True, cell[order][1:] != cell[order][:-1]]]
    first = np.sort(first)  # raster order of the chosen pixels
    return np.stack([cols[first] + 0.5, rows[first] + 0.5], axis=1)


def read_points_file(path: Path) -> tuple[np.ndarray, list[str]]:
    """Rows (t, x, y) float64 (M, 3) from a CSV (header t, x, y) or .npy file, and a label per row for errors."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{_OWNER}: points_file '{path}' does not exist")
    if path.suffix.lower() == ".npy":
        data = read_npy(path)
        if data.ndim != 2 or data.shape[1] != 3 or data.dtype.kind not in "fiu":
            raise ValueError(f"{path}: expected a numeric array of shape (M, 3) with rows (t, x, y); "
                             f"got {data.dtype} array of shape {data.shape}")
        return data.astype(np.float64), [f"row {i}" for i in range(len(data))]
    try:
        return _read_csv(path)
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason}); save the CSV as "
                         "UTF-8") from None


def _read_csv(path: Path) -> tuple[np.ndarray, list[str]]:
    # utf-8-sig: a byte-order mark (what spreadsheet programs write) is not part of the first column's name
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            names = [h.strip().lower() for h in header or []]
            missing = [c for c in ("t", "x", "y") if c not in names]
            if missing:
                raise ValueError(f"{path}: the CSV header must name the columns t, x, y; got {header}")
            columns = [names.index(c) for c in ("t", "x", "y")]
            rows, labels = [], []
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                try:
                    rows.append([float(row[c]) for c in columns])
                except (ValueError, IndexError):
                    raise ValueError(f"{path}: line {line}: expected numbers in columns t, x, y; got {row}") from None
                labels.append(f"line {line}")
        except csv.Error as error:
            raise ValueError(f"{path}: line {reader.line_num}: not a readable CSV ({error})") from None
    return np.array(rows, np.float64).reshape(-1, 3), labels


@dataclass(frozen=True)
class _Meta:
    """What the loader knows of a source before decoding it all."""

    n_native: int  # frames in the source (from the header for video files)
    size: tuple[int, int]  # native (height, width), from the first decoded frame
    fps: float  # native rate


class _Source:
    """One video: a file read with OpenCV or a folder of image files."""

    def __init__(self, path: Path):
        self.path = path
        self.is_folder = path.is_dir()

    def _images(self) -> list[Path]:
        files = sorted((p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                       key=_natural_key)
        if not files:
            raise FileNotFoundError(f"{_OWNER}: no frames in folder '{self.path}' "
                                    f"(expected image files: {', '.join(IMAGE_EXTENSIONS)})")
        return files

    def _read_image(self, file: Path) -> np.ndarray:
        image = read_image(file, cv2.IMREAD_COLOR)  # bytes read by Python: OpenCV cannot open every path
        if image is None:
            raise ValueError(f"{_OWNER}: cannot read image '{file}'")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    @contextlib.contextmanager
    def _open(self) -> Iterator[cv2.VideoCapture]:
        if not self.path.is_file():
            raise FileNotFoundError(f"{_OWNER}: no video file at '{self.path}'")
        with opencv_path(self.path) as name:  # never hands OpenCV a name that is not valid UTF-8
            capture = cv2.VideoCapture(name)
            try:
                if not capture.isOpened():
                    raise ValueError(f"{_OWNER}: OpenCV cannot open video '{self.path}'")
                yield capture
            finally:
                capture.release()

    def meta(self, fallback_fps: float) -> _Meta:
        if self.is_folder:
            files = self._images()
            return _Meta(len(files), self._read_image(files[0]).shape[:2], fallback_fps)
        with self._open() as capture:
            count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            fps = capture.get(cv2.CAP_PROP_FPS)
            ok, first = capture.read()
            if ok and count <= 0:  # the container states no count (some streams): read through it once
                count = 1
                while capture.grab():
                    count += 1
        if not ok or first is None or 0 in first.shape[:2]:
            raise ValueError(f"{_OWNER}: no frame decodes from video '{self.path}'")
        fps = float(fps) if math.isfinite(fps) and fps > 0 else fallback_fps
        return _Meta(count, first.shape[:2], fps)

    def frames(self, stride: int, count: int, native_size: tuple[int, int]) -> Iterator[np.ndarray]:
        """RGB frames 0, stride, 2·stride, … of the source, one at a time: exactly `count` of them, native size."""
        if self.is_folder:
            for file in self._images()[: (count - 1) * stride + 1: stride]:
                frame = self._read_image(file)
                if frame.shape[:2] != native_size:
                    raise ValueError(f"{_OWNER}: frame '{file}' is {frame.shape[0]}x{frame.shape[1]}; the first "
                                     f"frame of '{self.path}' is {native_size[0]}x{native_size[1]} (height x width)")
                yield frame
            return
        index, done = 0, 0
        with self._open() as capture:
            while done < count:
                if index % stride:
                    ok = capture.grab()
                else:
                    ok, frame = capture.read()
                    if ok:
                        done += 1
                        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                if not ok:
                    break
                index += 1
        if done < count:  # scored on the frames that exist (see VideoDataset.load)
            log.warning("video '%s': its header promises %d frame(s) at stride %d but only %d decode; using those",
                        self.path, count, stride, done)


class VideoDataset(Dataset):
    """Videos without ground truth, with queries from a grid, a points file or a mask (see the module doc).

    >>> ds = VideoDataset("clip.mp4", queries={"source": "grid", "grid_size": 8})  # doctest: +SKIP
    >>> sample = ds.load(0)  # frames uint8 (T, H, W, 3), 64 queries at frame 0, gt None  # doctest: +SKIP
    """

    query_mode = "first"

    def __init__(self, path: str | None = None, max_frames: int | None = None, stride: int = 1,
                 resize: int | list[int] | None = None, interpolation: str = "area", fps: float = 30.0,
                 queries: dict | None = None):
        if max_frames is not None and not (_is_int(max_frames) and max_frames >= 1):
            raise ValueError(f"{_OWNER}: max_frames must be null or a positive integer; got {max_frames!r}")
        if not (_is_int(stride) and stride >= 1):
            raise ValueError(f"{_OWNER}: stride must be a positive integer; got {stride!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"{_OWNER}: interpolation must be one of {sorted(INTERPOLATIONS)}; got {interpolation!r}")
        if isinstance(fps, bool) or not (isinstance(fps, (int, float)) and fps > 0):
            raise ValueError(f"{_OWNER}: fps must be a positive number; got {fps!r}")
        if not (resize is None or (_is_int(resize) and resize > 0) or (
                isinstance(resize, (list, tuple)) and len(resize) == 2 and all(_is_int(s) and s > 0 for s in resize))):
            raise ValueError(f"{_OWNER}: resize must be null, a positive integer (short side) or [height, width]; "
                             f"got {resize!r}")
        self.max_frames, self.stride, self.resize = max_frames, int(stride), resize
        self.interpolation, self.fps = interpolation, float(fps)
        self.queries = self._check_queries(dict(queries or {}))
        self.sources, self._names = self._find(path)

    # -- configuration ---------------------------------------------------------------------------------------

    @staticmethod
    def _check_queries(q: dict) -> dict:
        unknown = set(q) - _QUERY_KEYS
        if unknown:
            raise ValueError(f"{_OWNER}: unknown key(s) {sorted(unknown)} in queries; expected {sorted(_QUERY_KEYS)}")
        q = {"source": "grid", "grid_size": 10, "query_frame": 0, "points_file": None, "mask_file": None,
             "max_points": 256, "keypoints": "mediapipe", "min_visibility": 0.5, **q}
        if q["source"] not in SOURCES:
            raise ValueError(f"{_OWNER}: queries.source must be one of {SOURCES}; got {q['source']!r}")
        for key in ("grid_size", "max_points"):
            if not (_is_int(q[key]) and q[key] >= 1):
                raise ValueError(f"{_OWNER}: queries.{key} must be a positive integer; got {q[key]!r}")
        if not (_is_int(q["query_frame"]) and q["query_frame"] >= 0):
            raise ValueError(f"{_OWNER}: queries.query_frame must be a non-negative integer; got {q['query_frame']!r}")
        for source, key in (("points", "points_file"), ("mask", "mask_file")):
            if q["source"] == source and not q[key]:
                raise ValueError(f"{_OWNER}: queries.source={source} needs queries.{key}")
        if q["source"] == "pose":
            from pointbench.pose import SKELETONS
            if q["keypoints"] not in SKELETONS:
                raise ValueError(f"{_OWNER}: queries.keypoints must be one of {sorted(SKELETONS)}; got {q['keypoints']!r}")
            if isinstance(q["min_visibility"], bool) or not (isinstance(q["min_visibility"], (int, float))
                                                             and 0 <= q["min_visibility"] <= 1):
                raise ValueError(f"{_OWNER}: queries.min_visibility must be a number in [0, 1]; "
                                 f"got {q['min_visibility']!r}")
        return q

    @staticmethod
    def _find(path) -> tuple[list[_Source], list[str]]:
        if path is None or str(path) == "":
            raise FileNotFoundError(f"{_OWNER}: dataset.path is not set (a video file, a folder of frames, "
                                    "or a glob pattern such as 'clips/*.mp4')")
        text = str(Path(str(path)).expanduser())
        if globlib.has_magic(text):
            matches = [Path(m) for m in sorted(globlib.glob(text))]
            matches = [m for m in matches if m.is_dir() or m.suffix.lower() in VIDEO_EXTENSIONS]
            if not matches:
                raise FileNotFoundError(f"{_OWNER}: the pattern '{text}' matches no video file "
                                        f"({', '.join(VIDEO_EXTENSIONS)}) and no folder")
        else:
            single = Path(text)
            if not single.exists():
                raise FileNotFoundError(f"{_OWNER}: no file or folder at '{single}'")
            if single.is_dir() and not any(p.suffix.lower() in IMAGE_EXTENSIONS for p in single.iterdir()):
                videos = [p.name for p in single.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS]
                pattern = f"{single / '*'}{Path(videos[0]).suffix}" if videos else ""
                hint = f"; it holds videos: use a pattern such as '{pattern}'" if videos else ""
                raise FileNotFoundError(f"{_OWNER}: no frames in folder '{single}' (expected image files: "
                                        f"{', '.join(IMAGE_EXTENSIONS)}){hint}")
            matches = [single]
        return [_Source(m) for m in matches], _unique_names(matches)

    @property
    def names(self) -> list[str]:
        return list(self._names)

    # -- geometry -------------------------------------------------------------------------------------------

    def _out_size(self, size: tuple[int, int]) -> tuple[int, int]:
        height, width = size
        if self.resize is None:
            return height, width
        if _is_int(self.resize):
            scale = self.resize / min(height, width)
            if height <= width:
                return self.resize, max(1, round(width * scale))
            return max(1, round(height * scale)), self.resize
        return int(self.resize[0]), int(self.resize[1])

    def _count(self, meta: _Meta) -> int:
        count = -(-meta.n_native // self.stride)
        return count if self.max_frames is None else min(count, self.max_frames)

    def _source(self, index: int) -> tuple[str, _Source]:
        if not 0 <= index < len(self.sources):
            raise IndexError(f"{_OWNER} has {len(self.sources)} videos; got index {index}")
        return self._names[index], self.sources[index]

    def _frame_index(self, t: float, n_loaded: int, where: str) -> int:
        """The loaded frame index of original frame `t`, or an error naming `where`."""
        if not float(t).is_integer() or t < 0:
            raise ValueError(f"{where}: the frame t must be a non-negative integer; got {t:g}")
        t = int(t)
        if t % self.stride:
            raise ValueError(f"{where}: frame t={t} is skipped by stride={self.stride} "
                             f"(loaded frames are the original frames 0, {self.stride}, {2 * self.stride}, …)")
        if t // self.stride >= n_loaded:
            last = (n_loaded - 1) * self.stride
            raise ValueError(f"{where}: frame t={t} is past the last loaded frame (original frame {last}; "
                             f"{n_loaded} frame(s) loaded with stride={self.stride}, max_frames={self.max_frames})")
        return t // self.stride

    def _queries(self, name: str, meta: _Meta) -> np.ndarray:
        """float32 (N, 3) rows (t, x, y) in loaded frames and output pixels."""
        q, n_loaded = self.queries, self._count(meta)
        height, width = meta.size
        out_h, out_w = self._out_size(meta.size)
        scale = np.array([out_w / width, out_h / height])
        if q["source"] == "grid":
            frame = self._frame_index(q["query_frame"], n_loaded, f"{_OWNER}: video '{name}': queries.query_frame")
            return grid_queries(q["grid_size"], out_h, out_w, frame)
        if q["source"] == "points":
            path = Path(q["points_file"]).expanduser()
            rows, labels = read_points_file(path)
            if len(rows) == 0:
                raise ValueError(f"{path}: no points (expected rows t, x, y)")
            out = np.empty((len(rows), 3))
            for i, ((t, x, y), label) in enumerate(zip(rows, labels)):
                where = f"{path}: {label} (video '{name}')"
                if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= width and 0 <= y <= height):
                    raise ValueError(f"{where}: (x, y) = ({x:g}, {y:g}) must lie in the {width}x{height} frame "
                                     f"(0 <= x <= {width}, 0 <= y <= {height}; pixels of the original video)")
                out[i] = self._frame_index(t, n_loaded, where), x * scale[0], y * scale[1]
            return out.astype(np.float32)
        path = Path(q["mask_file"]).expanduser()
        frame = self._frame_index(q["query_frame"], n_loaded, f"{_OWNER}: video '{name}': queries.query_frame")
        if not path.is_file():
            raise FileNotFoundError(f"{_OWNER}: mask_file '{path}' does not exist")
        mask = read_image(path, cv2.IMREAD_UNCHANGED)
        if mask is None:
            raise ValueError(f"{path}: not a readable image (mask_file)")
        mask = mask if mask.ndim == 2 else mask[..., :3].max(axis=2)  # any colour channel; alpha is ignored
        if mask.shape != (height, width):
            raise ValueError(f"{path}: the mask is {mask.shape[0]}x{mask.shape[1]}; video '{name}' is "
                             f"{height}x{width} (height x width; the mask is in original pixels)")
        xy = mask_queries(mask > 0, q["max_points"])
        if len(xy) == 0:
            raise ValueError(f"{path}: the mask has no pixel > 0")
        return np.column_stack([np.full(len(xy), frame), xy * scale]).astype(np.float32)

    def _pose_queries(self, name: str, source: _Source, meta: _Meta):
        """queries.source=pose: (queries, skeleton) of the person MediaPipe finds on the query frame (as loaded)."""
        from pointbench.pose import pose_queries  # MediaPipe: the pose extra
        q = self.queries
        frame = self._frame_index(q["query_frame"], self._count(meta), f"{_OWNER}: video '{name}': queries.query_frame")
        for image in source.frames(self.stride, frame + 1, meta.size):
            pass  # keep the last: the query frame
        out = self._out_size(meta.size)
        if out != meta.size:
            image = cv2.resize(image, (out[1], out[0]), interpolation=INTERPOLATIONS[self.interpolation])
        return pose_queries(image, frame, q["keypoints"], q["min_visibility"], owner=f"{_OWNER}: video '{name}'")

    def _queries_and_skeleton(self, name: str, source: _Source, meta: _Meta):
        if self.queries["source"] == "pose":
            return self._pose_queries(name, source, meta)
        return self._queries(name, meta), None

    # -- Dataset -------------------------------------------------------------------------------------------

    def load_annotations(self, index: int) -> Annotations:
        """Queries and frame geometry; decodes the first frame only (no ground truth)."""
        name, source = self._source(index)
        meta = source.meta(self.fps)
        return Annotations(name, self._queries_and_skeleton(name, source, meta)[0], None, self._count(meta),
                           self._out_size(meta.size),
                           meta.fps / self.stride)

    def load(self, index: int) -> Sample:
        name, source = self._source(index)
        meta = source.meta(self.fps)
        queries, skeleton = self._queries_and_skeleton(name, source, meta)
        count, out = self._count(meta), self._out_size(meta.size)
        decoded = []  # not preallocated from `count`: a header can promise any number of frames
        for t, frame in enumerate(source.frames(self.stride, count, meta.size)):
            if frame.shape[:2] != meta.size:
                raise ValueError(f"{_OWNER}: video '{source.path}': frame {t * self.stride} is "
                                 f"{frame.shape[0]}x{frame.shape[1]}, frame 0 is {meta.size[0]}x{meta.size[1]}")
            decoded.append(frame if out == meta.size else cv2.resize(
                frame, (out[1], out[0]), interpolation=INTERPOLATIONS[self.interpolation]))
        if not decoded:
            raise ValueError(f"{_OWNER}: no frame decodes from video '{source.path}'")
        if len(decoded) < count:  # a header that promised more frames than decode: keep the queries that fit
            kept = queries[:, 0] < len(decoded)
            if not kept.any():
                raise ValueError(f"{_OWNER}: video '{source.path}': every query is on a frame past the "
                                 f"{len(decoded)} that decode")
            if not kept.all():
                log.warning("video '%s': %d queries on frames past the %d that decode are left out",
                            source.path, int((~kept).sum()), len(decoded))
            queries = queries[kept]
        frames = np.empty((len(decoded), *out, 3), np.uint8)
        for t in range(len(decoded)):  # each decoded frame is dropped once copied
            frames[t], decoded[t] = decoded[t], None
        return Sample(name=name, frames=frames, queries=queries, gt=None, fps=meta.fps / self.stride,
                      skeleton=skeleton)
