"""MediaPipe pose as a keypoint tracker: the real BlazePose model on every frame, mapped to the queries' skeleton.

A pose estimator follows people's keypoints, not arbitrary points: each query must name its
keypoint. The runner passes the video's `Sample.skeleton` (`accepts_skeleton`); query i follows
keypoint `skeleton.names[skeleton.keypoint_ids[i]]`, mapped onto MediaPipe's 33 landmarks as
`pointbench.pose` documents (JHMDB's 15 joints: 12 landmarks of the same name, neck = mean of the
shoulders, belly = mean of the hips, face = mean of the 11 face landmarks). Queries without a
skeleton, or keypoints with no landmark behind them, are refused with an error that says so: this
tracker cannot track them.

The model runs once per video in video mode (MediaPipe detects the person, then tracks the landmarks
from frame to frame and smooths them), frame 0 to T-1; the queries' positions are not used, so
frames before a query's frame are predicted like the others. Per frame and keypoint:
- position: the landmarks' mean, in raster pixels; where no person was found, the position at the
  nearest frame where one was (the query's position where none was ever found);
- visible: a person was found, the keypoint's visibility score (the least of its landmarks') is at
  least `visibility_threshold`, and it lies inside the image;
- confidence: that visibility score (0 where no person was found).

The model's further outputs for the recording (world landmarks in metres, the person's segmentation
mask) stay on `last_output` (a `pointbench.pose.PoseOutput`) after each `track` call.
"""

from __future__ import annotations

import numpy as np

from pointbench.pose import MediaPipePose, PoseOutput, check_keypoints, keypoint_positions
from pointbench.trackers.base import Tracker
from pointbench.types import Skeleton, Tracks, validate_frames, validate_queries

__all__ = ["MediaPipePoseTracker", "fill_undetected"]

_OWNER = "tracker 'mediapipe_pose'"


def fill_undetected(xy: np.ndarray, detected: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """`xy` (K, T, 2) with frames where `detected` (T,) is false taken from the nearest detected frame
    (the earlier one on ties); rows are `fallback` (K, 2) everywhere when no frame was detected."""
    frames = np.flatnonzero(detected)
    if len(frames) == 0:
        return np.repeat(fallback[:, None, :], xy.shape[1], axis=1).astype(np.float32)
    t = np.arange(xy.shape[1])
    right = np.clip(np.searchsorted(frames, t), 0, len(frames) - 1)
    left = np.clip(right - 1, 0, len(frames) - 1)
    nearest = np.where(np.abs(frames[left] - t) <= np.abs(frames[right] - t), frames[left], frames[right])
    return xy[:, nearest].astype(np.float32)


class MediaPipePoseTracker(Tracker):
    """MediaPipe pose (BlazePose GHUM, the 'full' model shipped in the wheel) as a keypoint tracker.

    Args:
        model_complexity: 1 (full; shipped). 0 (lite) and 2 (heavy) work only where their model files
            are installed: MediaPipe would otherwise download them.
        visibility_threshold: a keypoint is visible where its visibility score is at least this.
        smooth_landmarks, min_detection_confidence, min_tracking_confidence: MediaPipe's own knobs.
        segmentation: also compute the person's mask (kept on `last_output`, drawn by the pose recording).

    >>> tracker = MediaPipePoseTracker()                              # doctest: +SKIP
    >>> tracks = tracker.track(sample.frames, sample.queries, skeleton=sample.skeleton)  # doctest: +SKIP
    """

    #: `track` takes the video's skeleton: the runner passes `skeleton=sample.skeleton`.
    accepts_skeleton = True
    #: The model's code and weights come with the mediapipe distribution: its version enters the cache key.
    upstream_packages = ("mediapipe",)

    def __init__(self, model_complexity: int = 1, visibility_threshold: float = 0.5, smooth_landmarks: bool = True,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 segmentation: bool = True):
        if isinstance(visibility_threshold, bool) or not (isinstance(visibility_threshold, (int, float))
                                                          and 0 <= visibility_threshold <= 1):
            raise ValueError(f"{_OWNER}: visibility_threshold must be a number in [0, 1]; got {visibility_threshold!r}")
        self.visibility_threshold = float(visibility_threshold)
        self.model = MediaPipePose(model_complexity, video=True, smooth_landmarks=smooth_landmarks,
                                   min_detection_confidence=min_detection_confidence,
                                   min_tracking_confidence=min_tracking_confidence, segmentation=segmentation,
                                   owner=_OWNER)
        self.last_output: PoseOutput | None = None

    def track(self, frames: np.ndarray, queries: np.ndarray, skeleton: Skeleton | None = None) -> Tracks:
        validate_frames(frames, _OWNER)
        validate_queries(queries, len(frames), _OWNER)
        if skeleton is None:
            raise ValueError(
                f"{_OWNER} follows a person's keypoints, not arbitrary points: it needs queries that name their "
                f"keypoint (the video's skeleton, as dataset=jhmdb or dataset=video dataset.queries.source=pose "
                f"give); these {len(queries)} queries come without one, so it cannot track them")
        ids = np.asarray(skeleton.keypoint_ids)
        if len(ids) != len(queries):
            raise ValueError(f"{_OWNER}: the skeleton names {len(ids)} keypoints for {len(queries)} queries")
        names = [skeleton.names[i] for i in ids]
        check_keypoints(names, _OWNER)  # before the model runs
        output = self.model(frames, progress=self.report_progress)
        self.last_output = output
        xy, score = keypoint_positions(output, names, _OWNER)
        height, width = frames.shape[1:3]
        inside = (xy[..., 0] >= 0) & (xy[..., 0] < width) & (xy[..., 1] >= 0) & (xy[..., 1] < height)
        visible = output.detected[None, :] & (score >= self.visibility_threshold) & inside
        xy = fill_undetected(xy, output.detected, queries[:, 1:3])
        confidence = np.where(output.detected[None, :], score, 0.0).astype(np.float32)
        return Tracks(xy=xy, visible=visible, confidence=confidence, owner=_OWNER)
