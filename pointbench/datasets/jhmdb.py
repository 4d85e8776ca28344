"""JHMDB (Jhuang et al., 2013) keypoint propagation: the first frame's 15 joints, tracked through the clip.

The release layout under `path` (the folder holding these; the zips of the JHMDB site unpack to it):

    Rename_Images/<class>/<video>/00001.png …      the frames (sorted by their number)
    joint_positions/<class>/<video>/joint_positions.mat
    splits/<class>_test_split<k>.txt               lines "<video>.avi 1|2" (1 train, 2 test), k = 1, 2, 3

`joint_positions.mat` (MATLAB v5, read with `scipy.io.loadmat`) holds `pos_img`, float (2, 15, T):
(x, y) of 15 joints per frame, in MATLAB's 1-based pixel coordinates (pixel (1, 1) is centred on
(1, 1)); pointbench uses TAP-Vid raster coordinates, so positions are `pos_img - 0.5`. Other keys
(`pos_world`, `scale`, `viewpoint`) are not read. Joint order (the puppet model of the release):
neck, belly, face, right shoulder, left shoulder, right hip, left hip, right elbow, left elbow,
right knee, left knee, right wrist, left wrist, right ankle, left ankle (the person's right).

The protocol (TimeCycle, CRW and TAP-Net evaluate JHMDB so; see `pointbench.metrics.pck`):
- videos: the test list of split 1 (`split=1`, `subset=test`: 268 videos), named `<class>/<video>`;
- queries: every joint inside the image at frame 0 (0 ≤ x < W, 0 ≤ y < H), at frame 0 — a joint
  outside it at frame 0 is dropped for the whole video, as tapnet does; `Sample.skeleton` says which
  joint each query is (`keypoint_ids`) and how the joints connect, so recordings draw the skeleton;
- ground truth: the joint's position at every frame. JHMDB annotates no occlusion (a joint hidden
  behind the body still has a position), so `gt.visible` is only "inside the image"; the TAP-Vid
  columns (AJ, OA) are therefore of limited meaning here and PCK is the score: PCK@0.1 and PCK@0.2
  at every frame after frame 0, whatever the visibility, normalised by 0.6 × the diagonal of the
  frame's ground-truth joint box;
- a clip whose joint annotation is shorter than its frames is cut to the annotated frames (tapnet does
  the same: the person usually left the view); a longer annotation is an error.

Frames are loaded at their native size (320×240): PCK is measured in those pixels. `keypoint_gt`
tells the runner this dataset is scored with PCK as well as the TAP-Vid metrics.

Sources of the protocol: CRW's `code/eval/eval_pck.py` (ajabri/videowalk, after TimeCycle) and tapnet's
`create_jhmdb_dataset` / `pck_evaluate` (google-deepmind/tapnet). Both normalise by 0.6 × the diagonal
of the frame's ground-truth joint box and count `≤ α`; CRW skips frame 0, tapnet scores it (and as
released its loader reads an undefined `gt_dir`, so it does not run). CRW subtracts 1 from `pos_img`
(0-based pixel centres), tapnet uses it as is; neither matters to PCK, which compares positions in one
convention.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import cv2
import numpy as np

from pointbench.datasets.base import Dataset
from pointbench.pose import JHMDB_CONNECTIONS, JHMDB_JOINTS, skeleton
from pointbench.types import Annotations, Sample, Skeleton, Tracks, invalid

__all__ = ["JhmdbDataset", "JHMDB_JOINTS", "JHMDB_CONNECTIONS", "jhmdb_skeleton", "read_joint_positions",
           "MAX_MAT_BYTES"]

#: A joint_positions.mat is a few kB; anything far larger is refused before it is parsed.
MAX_MAT_BYTES = 16 * 2**20
_OWNER = "jhmdb dataset"
SUBSETS = ("test", "train", "all")


def jhmdb_skeleton(keypoint_ids) -> Skeleton:
    """The JHMDB skeleton (`JHMDB_JOINTS`, `JHMDB_CONNECTIONS`) with query i following joint `keypoint_ids[i]`."""
    return skeleton("jhmdb", keypoint_ids)


def read_joint_positions(path: Path) -> np.ndarray:
    """`pos_img` of a joint_positions.mat as float64 (15, T, 2) raster positions (`pos_img - 0.5`).

    Raises ValueError naming the file and the key where it is missing, not (2, 15, T) or not finite.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{_OWNER}: joint file '{path}' does not exist")
    size = path.stat().st_size
    if size > MAX_MAT_BYTES:
        raise ValueError(f"{path}: {size} bytes; a joint_positions.mat is a few kB (refused above {MAX_MAT_BYTES})")
    try:
        from scipy.io import loadmat
    except ImportError as error:
        raise ImportError(f"{_OWNER} reads joint_positions.mat with scipy ({error}); "
                          "install it with: pip install scipy") from error
    try:
        mat = loadmat(str(path), variable_names=["pos_img"])
    except Exception as error:  # scipy raises several types for a malformed file
        raise ValueError(f"{path}: not a readable MATLAB file ({type(error).__name__}: {error})") from None
    if "pos_img" not in mat:
        raise invalid(path, "pos_img", "present (joint positions, float (2, 15, T))", "no such variable")
    pos = mat["pos_img"]
    if not isinstance(pos, np.ndarray) or pos.dtype.kind not in "fiu" or pos.ndim != 3 or pos.shape[:2] != (2, 15):
        found = f"{pos.dtype} {pos.shape}" if isinstance(pos, np.ndarray) else type(pos).__name__
        raise invalid(path, "pos_img", "a numeric array of shape (2, 15, T)", found)
    if pos.shape[2] == 0:
        raise invalid(path, "pos_img", "at least one frame", "shape (2, 15, 0)")
    pos = pos.astype(np.float64)
    if not np.isfinite(pos).all():
        raise invalid(path, "pos_img", "finite", "NaN or inf")
    return pos.transpose(1, 2, 0) - 0.5


def _frame_number(path: Path) -> int:
    digits = re.findall(r"\d+", path.stem)
    return int(digits[-1]) if digits else -1


def _png_size(path: Path) -> tuple[int, int]:
    """(height, width) from a PNG's header, without decoding it."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path}: not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return height, width


class JhmdbDataset(Dataset):
    """JHMDB videos with their joints (see the module doc for the layout and the protocol).

    Args:
        path: the folder holding `Rename_Images/`, `joint_positions/` and `splits/`.
        split: 1, 2 or 3 (the published protocol: 1).
        subset: `test` (the published protocol), `train`, or `all` (every video that has joints; no split files).
        classes: keep only these action classes (folder names, e.g. `[walk, run]`); null: all.
        limit: keep the first `limit` videos (in sorted order).
        fps: playback rate in the recording (HMDB clips are 30 fps).

    >>> ds = JhmdbDataset("~/data/jhmdb")   # doctest: +SKIP
    >>> sample = ds.load(0)                 # 15 (or fewer) joint queries at frame 0; sample.skeleton names them  # doctest: +SKIP
    """

    query_mode = "first"
    #: The ground truth is semantic keypoints: the runner adds the PCK columns (pointbench.metrics.pck).
    keypoint_gt = True

    def __init__(self, path: str | None = None, split: int = 1, subset: str = "test",
                 classes: list[str] | None = None, limit: int | None = None, fps: float = 30.0):
        if path is None or str(path) == "":
            raise FileNotFoundError(f"{_OWNER}: dataset.path is not set (the folder holding Rename_Images/, "
                                    "joint_positions/ and splits/)")
        if isinstance(split, bool) or split not in (1, 2, 3):
            raise ValueError(f"{_OWNER}: split must be 1, 2 or 3; got {split!r}")
        if subset not in SUBSETS:
            raise ValueError(f"{_OWNER}: subset must be one of {SUBSETS}; got {subset!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"{_OWNER}: limit must be null or a positive integer; got {limit!r}")
        if isinstance(fps, bool) or not (isinstance(fps, (int, float)) and fps > 0):
            raise ValueError(f"{_OWNER}: fps must be a positive number; got {fps!r}")
        self.root = Path(str(path)).expanduser()
        if not self.root.is_dir():
            raise FileNotFoundError(f"{_OWNER}: no folder at '{self.root}'")
        for sub in ("Rename_Images", "joint_positions"):
            if not (self.root / sub).is_dir():
                raise FileNotFoundError(f"{_OWNER}: '{self.root}' has no {sub}/ folder (expected the JHMDB "
                                        "release layout: Rename_Images/, joint_positions/, splits/)")
        self.split, self.subset, self.fps = split, subset, float(fps)
        names = self._list_videos()
        if classes is not None:
            wanted = set(classes)
            names = [n for n in names if n.split("/", 1)[0] in wanted]
        self._names = names[:limit] if limit is not None else names

    def _list_videos(self) -> list[str]:
        if self.subset == "all":
            return sorted(f"{p.parent.parent.name}/{p.parent.name}"
                          for p in (self.root / "joint_positions").glob("*/*/joint_positions.mat"))
        splits = self.root / "splits"
        files = sorted(splits.glob(f"*_test_split{self.split}.txt"))
        if not files:
            raise FileNotFoundError(f"{_OWNER}: no split files '{splits}/<class>_test_split{self.split}.txt' "
                                    "(or use subset=all)")
        wanted = "2" if self.subset == "test" else "1"
        names = []
        for file in files:
            action = file.name[: -len(f"_test_split{self.split}.txt")]
            for number, line in enumerate(file.read_text().splitlines(), start=1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 2 or parts[1] not in ("1", "2"):
                    raise ValueError(f"{file}: line {number}: expected '<video>.avi 1|2'; got {line!r}")
                if parts[1] == wanted:
                    names.append(f"{action}/{Path(parts[0]).stem}")
        return sorted(names)

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def frame_counts(self) -> list[int]:
        """Frames of each video, counted from its frame folder (balances shards; 0 where the folder is missing)."""
        folders = (self.root / "Rename_Images" / name for name in self._names)
        return [sum(1 for _ in folder.glob("*.png")) if folder.is_dir() else 0 for folder in folders]

    def _name(self, index: int) -> str:
        if not 0 <= index < len(self._names):
            raise IndexError(f"{_OWNER} has {len(self._names)} videos; got index {index}")
        return self._names[index]

    def _frame_files(self, name: str) -> list[Path]:
        folder = self.root / "Rename_Images" / name
        if not folder.is_dir():
            raise FileNotFoundError(f"{_OWNER}: video '{name}': no frame folder '{folder}'")
        files = sorted(folder.glob("*.png"), key=lambda p: (_frame_number(p), p.name))
        if not files:
            raise FileNotFoundError(f"{_OWNER}: video '{name}': no .png frames in '{folder}'")
        return files

    def _annotations(self, name: str, files: list[Path], size: tuple[int, int]) -> tuple[Annotations, np.ndarray]:
        """Annotations of the video (cut to the annotated frames) and the joint of each query."""
        mat = self.root / "joint_positions" / name / "joint_positions.mat"
        joints = read_joint_positions(mat)  # (15, T_gt, 2) raster
        n_gt = joints.shape[1]
        if n_gt > len(files):
            raise ValueError(f"{mat}: 'pos_img' has {n_gt} frames; video '{name}' has {len(files)} frames "
                             f"in '{files[0].parent}'")
        height, width = size
        x, y = joints[..., 0], joints[..., 1]
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)  # (15, T)
        ids = np.flatnonzero(inside[:, 0])  # joints inside the image at frame 0 are the queries
        xy = joints[ids].astype(np.float32)
        gt = Tracks(xy=xy, visible=inside[ids], owner=f"video '{name}'")
        queries = np.column_stack([np.zeros(len(ids)), xy[:, 0]]).astype(np.float32)
        return Annotations(name, queries, gt, n_gt, size, self.fps), ids

    def load_annotations(self, index: int) -> Annotations:
        """Queries and joints; reads only the first frame's PNG header."""
        name = self._name(index)
        files = self._frame_files(name)
        return self._annotations(name, files, _png_size(files[0]))[0]

    def load(self, index: int) -> Sample:
        name = self._name(index)
        files = self._frame_files(name)
        size = _png_size(files[0])
        video, ids = self._annotations(name, files, size)
        frames = np.empty((video.n_frames, *size, 3), np.uint8)
        for t, file in enumerate(files[: video.n_frames]):
            image = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"{file}: not a readable image (video '{name}', frame {t})")
            if image.shape[:2] != size:
                raise ValueError(f"{file}: frame {t} is {image.shape[0]}x{image.shape[1]}; frame 0 is "
                                 f"{size[0]}x{size[1]} (video '{name}')")
            frames[t] = image[..., ::-1]
        return Sample(name=name, frames=frames, queries=video.queries, gt=video.gt, fps=self.fps,
                      skeleton=jhmdb_skeleton(ids))
