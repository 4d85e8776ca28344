"""TAP-Vid (DAVIS, RGB-Stacking, Kinetics) and RoboTAP, read from the official pickles.

The format (tapnet's `tapnet/tapvid/README.md` and `generate_tapvid.py`): a pickle holds either a
dict {video name: example} (DAVIS, RoboTAP) or a list of examples (RGB-Stacking; the Kinetics
shards `NNNN_of_0010.pkl`). An example is a dict of

    video     uint8 (T, H, W, 3) RGB, or (Kinetics) a sequence of T JPEG-encoded frames (bytes)
    points    float (N, T, 2): (x, y) normalised to [0, 1], raster convention (pixel x = x · W)
    occluded  bool (N, T)

Positions at occluded frames are arbitrary and left unchecked; visible ones must be finite and
inside the frame up to one pixel (the Kinetics generator shifts points by half a pixel). Points
are used as the reference reader uses them: pixel position = normalised position × frame size,
nothing else. Files are read with `safe_load`, so no code can run while loading them, and a value
it refuses (a forged array, an allocation the file cannot describe) costs only the video holding
it. A file that cannot be read at all is listed as one video, `<file name> (unreadable)`, whose
loading raises the file's error: the other files' videos still run.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pointbench.datasets.base import Dataset
from pointbench.datasets.checks import detached, fresh, unique_name, unreadable_name
from pointbench.datasets.queries import QUERY_MODES, sample_queries
from pointbench.datasets.safe_pickle import Refused, safe_load
from pointbench.types import Annotations, Sample, Tracks, invalid

__all__ = ["TapVidDataset", "TapVidDavis", "TapVidRgbStacking", "RoboTap", "TapVidKinetics", "INTERPOLATIONS"]

#: `interpolation` config values -> OpenCV resize filters.
INTERPOLATIONS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
                  "lanczos": cv2.INTER_LANCZOS4}
_KEYS = ("video", "points", "occluded")
_TAPNET = "https://github.com/google-deepmind/tapnet/tree/main/tapnet/tapvid"


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


def _decode_jpeg(data, owner: str, index: int) -> np.ndarray:
    """RGB uint8 (H, W, 3) from JPEG bytes; EXIF orientation is ignored, as a plain decoder does."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise invalid(owner, "video", "decodable JPEG frames", f"frame {index} that does not decode")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _raise_refused(value, owner: str, key: str) -> None:
    """Raise the error of a value the unpickler refused: `value` itself, or an item of it (a frame)."""
    items = value if isinstance(value, (list, tuple)) else ()
    refused = next((v for v in (value, *items) if isinstance(v, Refused)), None)
    if refused is not None:
        raise refused.error(f"{owner}: '{key}'")


class _Example:
    """One checked example: its raw video, points, occlusion flags and native frame size."""

    def __init__(self, example, owner: str):
        _raise_refused(example, owner, "example")
        if not isinstance(example, dict):
            raise ValueError(f"{owner}: an example must be a dict with keys {_KEYS}; got {type(example).__name__}")
        for key in _KEYS:
            if key not in example:
                raise ValueError(f"{owner}: missing key '{key}' (an example holds {', '.join(_KEYS)})")
        for key in _KEYS:
            _raise_refused(example[key], owner, key)
        video, points, occluded = (example[k] for k in _KEYS)
        if not (isinstance(points, np.ndarray) and points.dtype.kind == "f" and points.ndim == 3
                and points.shape[2] == 2):
            raise invalid(owner, "points", "a float array of shape (N, T, 2)", _describe(points))
        n, t = points.shape[:2]
        if t == 0:
            raise invalid(owner, "points", "at least one frame, shape (N, T >= 1, 2)", f"shape {points.shape}")
        if not (isinstance(occluded, np.ndarray) and occluded.dtype == np.bool_ and occluded.shape == (n, t)):
            raise invalid(owner, "occluded", f"a bool array of shape (N={n}, T={t})", _describe(occluded))
        self.owner, self.points, self.occluded, self.video = owner, points, occluded, video
        self.jpeg = not isinstance(video, np.ndarray) or video.dtype.kind in "SO"
        if self.jpeg:
            sequence = isinstance(video, (list, tuple)) or (isinstance(video, np.ndarray) and video.ndim == 1)
            if not (sequence and all(isinstance(frame, bytes) for frame in video)):
                raise invalid(owner, "video", "a uint8 array (T, H, W, 3) or a sequence of JPEG-encoded frames (bytes)",
                            _describe(video))
            if len(video) != t:
                raise invalid(owner, "video", f"T={t} frames, as 'points' has", f"{len(video)} JPEG frames")
            self.first = _decode_jpeg(video[0], owner, 0)
            self.size = self.first.shape[:2]
        else:
            if not (video.dtype == np.uint8 and video.ndim == 4 and video.shape[3] == 3):
                raise invalid(owner, "video", "a uint8 array (T, H, W, 3) or a sequence of JPEG-encoded frames (bytes)",
                            _describe(video))
            if video.shape[0] != t:
                raise invalid(owner, "video", f"T={t} frames, as 'points' has", f"shape {video.shape}")
            if 0 in video.shape[1:3]:
                raise invalid(owner, "video", "frames of at least 1x1 pixels", f"shape {video.shape}")
            self.size = video.shape[1:3]
        visible_xy = points[~occluded]
        if not np.isfinite(visible_xy).all():
            raise invalid(owner, "points", "finite wherever 'occluded' is false", "NaN or inf at visible points")
        height, width = self.size
        slack = np.array([1 / max(width, 1), 1 / max(height, 1)])  # one pixel
        outside = (visible_xy < -slack) | (visible_xy > 1 + slack)
        if outside.any():
            bad = visible_xy[outside.any(axis=1)]
            raise invalid(owner, "points", f"within [0, 1] (up to one pixel of a {width}x{height} frame) wherever "
                        "'occluded' is false", f"{len(bad)} visible points outside, e.g. (x, y) = {tuple(bad[0].tolist())}")


class TapVidDataset(Dataset):
    """Videos from TAP-Vid-format pickles: `path` is one `.pkl` file or a folder of them (`pattern`).

    Video names: the keys of a dict pickle; the index ("0", "1", …) in a list pickle, prefixed
    by the file's stem ("0000_of_0010/3") when `path` is a folder. Queries follow `query_mode`
    (`first`, or `strided` every `query_stride` frames). `resize=None` keeps the native
    resolution; `resize=256` (or `[height, width]`) resizes frames with OpenCV's `interpolation`
    filter and scales positions by exactly the resize factor per axis. `fps` is the playback rate.

    Memory: a pickle cannot be read in part, so one whole file is held at a time (a single-file
    dataset such as DAVIS is read once and kept); moving to a video of another file drops the
    previous file before reading the next. Listing `names` reads every file once, one at a time,
    last to first, so the first file stays loaded for the first videos. Frames are converted
    (resized or JPEG-decoded) only for the video being loaded.

    Broken input: a file that cannot be read is listed as one video `<file name> (unreadable)`,
    and a name that repeats one of an earlier file as `<name> (<file name>, duplicate)`; loading
    either raises the error (the runner records it in that video's row), and the rest still run.
    """

    #: Shown in messages, with where to get the data.
    title = "TAP-Vid"
    how_to_get = f"See {_TAPNET} for the download links."
    #: Files read when `path` is a folder.
    pattern = "*.pkl"

    def __init__(self, path: str | None = None, query_mode: str = "first", query_stride: int = 5,
                 resize: int | list[int] | None = None, interpolation: str = "area", fps: float = 25.0):
        if query_mode not in QUERY_MODES:
            raise ValueError(f"{self.title}: query_mode must be one of {QUERY_MODES}; got {query_mode!r}")
        if isinstance(query_stride, bool) or not isinstance(query_stride, int) or query_stride < 1:
            raise ValueError(f"{self.title}: query_stride must be a positive integer; got {query_stride!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"{self.title}: interpolation must be one of {sorted(INTERPOLATIONS)}; "
                             f"got {interpolation!r}")
        if not (isinstance(fps, (int, float)) and fps > 0):
            raise ValueError(f"{self.title}: fps must be a positive number; got {fps!r}")
        self.query_mode, self.query_stride, self.interpolation, self.fps = query_mode, query_stride, interpolation, fps
        self.resize = self._parse_resize(resize)
        self.files, self.is_folder = self._find_files(path)
        self._entries: list[tuple[int, object, str, BaseException | None]] | None = None  # file, key, name, error
        self._held: tuple[int, object] | None = None  # (file index, its content)

    def _parse_resize(self, resize) -> tuple[int, int] | None:
        if resize is None:
            return None
        size = [resize, resize] if isinstance(resize, int) and not isinstance(resize, bool) else resize
        if not (isinstance(size, (list, tuple)) and len(size) == 2
                and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)):
            raise ValueError(f"{self.title}: resize must be null, a positive integer or [height, width]; "
                             f"got {resize!r}")
        return int(size[0]), int(size[1])

    def _find_files(self, path) -> tuple[list[Path], bool]:
        if path is None:
            raise FileNotFoundError(f"{self.title}: dataset.path is not set. {self.how_to_get}")
        path = Path(path).expanduser()
        if path.is_file():
            return [path], False
        if path.is_dir():
            files = sorted(p for p in path.glob(self.pattern) if p.is_file())
            if not files:
                raise FileNotFoundError(f"{self.title}: no '{self.pattern}' file in folder '{path}'. {self.how_to_get}")
            return files, True
        raise FileNotFoundError(f"{self.title}: no file or folder at '{path}'. {self.how_to_get}")

    def _file(self, index: int):
        """The content of file `index`, read unless it is the one held (which it then replaces)."""
        if self._held is None or self._held[0] != index:
            self._held = None  # drop the previous file first: at most one is in memory
            self._held = (index, safe_load(self.files[index], keep_refused=True))
        return self._held[1]

    def _keys(self, index: int, content) -> list[tuple[object, str]]:
        if isinstance(content, Refused):
            raise content.error()
        if isinstance(content, dict):
            return [(key, key if isinstance(key, Refused) else str(key)) for key in content]
        if isinstance(content, (list, tuple)):
            prefix = f"{self.files[index].stem}/" if self.is_folder else ""
            return [(i, f"{prefix}{i}") for i in range(len(content))]
        raise ValueError(f"{self.files[index]}: expected a dict (video name -> example) or a list of examples; "
                         f"got {type(content).__name__}")

    def _listing(self) -> dict[int, list | BaseException]:
        """Each file's (key, name) pairs, or the error reading it; files read last to first (the first stays held)."""
        listed = {}
        for index in reversed(range(len(self.files))):
            try:
                listed[index] = self._keys(index, self._file(index))
            except Exception as error:  # a broken file costs only its own videos
                self._held = None
                listed[index] = detached(error)
        return listed

    def _index(self) -> list[tuple[int, object, str, BaseException | None]]:
        if self._entries is None:
            entries, seen, taken = [], {}, set()
            for index, keys in sorted(self._listing().items()):
                file = self.files[index]
                if isinstance(keys, BaseException):
                    entries.append((index, None, unreadable_name(file, taken), keys))
                    continue
                for key, name in keys:
                    error = None
                    if isinstance(name, Refused):
                        name, error = f"{file.name} (refused key)", name.error(f"{file}: a video name")
                    elif name in seen:
                        error = ValueError(f"{file}: video name '{name}' also appears in {self.files[seen[name]]}")
                        name = f"{name} ({file.name}, duplicate)"
                    else:
                        seen[name] = index
                    entries.append((index, key, unique_name(name, taken), error))
            self._entries = entries
        return self._entries

    @property
    def names(self) -> list[str]:
        return [name for _, _, name, _ in self._index()]

    def _example(self, index: int) -> tuple[str, _Example]:
        entries = self._index()
        if not 0 <= index < len(entries):
            raise IndexError(f"{self.title} has {len(entries)} videos; got index {index}")
        file, key, name, error = entries[index]
        if error is not None:
            raise fresh(error)
        return name, _Example(self._file(file)[key], f"{self.files[file]}: video '{name}'")

    def _out_size(self, size: tuple[int, int]) -> tuple[int, int]:
        return tuple(size) if self.resize is None else self.resize

    def _tracks(self, name: str, example: _Example) -> tuple[np.ndarray, Tracks, tuple[int, int]]:
        height, width = self._out_size(example.size)
        xy = (example.points.astype(np.float64) * [width, height]).astype(np.float32)
        visible = ~example.occluded
        queries, track = sample_queries(xy, visible, self.query_mode, self.query_stride)
        return queries, Tracks(xy=xy[track], visible=visible[track], owner=f"video '{name}'"), (height, width)

    def _frames(self, example: _Example) -> np.ndarray:
        """uint8 (T, H, W, 3) frames of one example, decoded and resized as configured."""
        out = self._out_size(example.size)
        if not example.jpeg and out == tuple(example.size):
            return example.video
        frames = np.empty((len(example.video), *out, 3), np.uint8)
        for t, frame in enumerate(example.video):
            if example.jpeg:
                frame = example.first if t == 0 else _decode_jpeg(frame, example.owner, t)
                if frame.shape[:2] != tuple(example.size):
                    raise invalid(example.owner, "video", f"frames of one size ({example.size[0]}x{example.size[1]})",
                                f"frame {t} of {frame.shape[0]}x{frame.shape[1]}")
            if out != tuple(example.size):
                frame = cv2.resize(frame, (out[1], out[0]), interpolation=INTERPOLATIONS[self.interpolation])
            frames[t] = frame
        return frames

    def load_annotations(self, index: int) -> Annotations:
        name, example = self._example(index)
        queries, gt, size = self._tracks(name, example)
        return Annotations(name, queries, gt, example.points.shape[1], size, self.fps)

    def load(self, index: int) -> Sample:
        name, example = self._example(index)
        queries, gt, _ = self._tracks(name, example)
        return Sample(name=name, frames=self._frames(example), queries=queries, gt=gt, fps=self.fps)


class TapVidDavis(TapVidDataset):
    """TAP-Vid-DAVIS: 30 videos in `tapvid_davis.pkl`, a dict {video name: example}.

    Memory: the whole pickle is read once and held (the format allows no partial read); frames
    are resized only for the video being loaded.
    """

    title = "TAP-Vid-DAVIS"
    how_to_get = ("Download https://storage.googleapis.com/dm-tapnet/tapvid_davis.zip, unzip it and set "
                  "dataset.path to tapvid_davis.pkl.")


class TapVidRgbStacking(TapVidDataset):
    """TAP-Vid-RGB-Stacking: 50 synthetic robot videos in `tapvid_rgb_stacking.pkl`, a list of examples
    (named "0", "1", …).

    Memory: the whole pickle is read once and held (the format allows no partial read); frames
    are resized only for the video being loaded.
    """

    title = "TAP-Vid-RGB-Stacking"
    how_to_get = ("Download https://storage.googleapis.com/dm-tapnet/tapvid_rgb_stacking.zip, unzip it and set "
                  "dataset.path to tapvid_rgb_stacking.pkl.")


class RoboTap(TapVidDataset):
    """RoboTAP: 265 real robot videos, in the TAP-Vid-DAVIS format (dicts {video name: example}),
    shipped as several pickles: `path` is their folder (every `*.pkl` in it) or one of them.

    Memory: one whole pickle is held at a time (the format allows no partial read); frames are
    resized only for the video being loaded.
    """

    title = "RoboTAP"
    how_to_get = ("Download https://storage.googleapis.com/dm-tapnet/robotap/robotap.zip, unzip it and set "
                  "dataset.path to the folder of .pkl files (or one of them).")


class TapVidKinetics(TapVidDataset):
    """TAP-Vid-Kinetics: shards `NNNN_of_0010.pkl` (lists of examples whose `video` is a sequence of
    JPEG-encoded frames), made by tapnet's `generate_tapvid.py` from the Kinetics-700-2020
    validation clips (frames extracted at 25 fps). `path` is the folder of shards or one shard;
    videos are named "<shard stem>/<index>", e.g. "0003_of_0010/17".

    Memory: one shard is held at a time (a shard is one pickle) and JPEG frames are decoded only
    for the video being loaded; `load_annotations` (re-scoring from cached predictions) decodes
    only the video's first frame, for its size.
    """

    title = "TAP-Vid-Kinetics"
    how_to_get = ("Download the annotations https://storage.googleapis.com/dm-tapnet/tapvid_kinetics.zip, get the "
                  "Kinetics-700-2020 validation clips and build the pickle shards with tapnet's "
                  f"generate_tapvid.py ({_TAPNET}); then set dataset.path to the folder of *_of_0010.pkl shards.")
    pattern = "*_of_*.pkl"
