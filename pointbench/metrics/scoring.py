"""Per-video scoring: the columns of one video's row from its annotations and a prediction.

The runner calls these; the metrics themselves are the pure functions of this package.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pointbench.geometry import lift, world_to_camera
from pointbench.metrics.breakdowns import BREAKDOWN_COLUMNS, breakdown_metrics
from pointbench.metrics.tables import METRIC_NAMES_3D_SHOWN, STATUS_OK, STATUS_UNSCORED
from pointbench.metrics.tapvid import tapvid_metrics, tapvid_metrics_per_frame, tapvid_metrics_per_track
from pointbench.metrics.tapvid3d import tapvid3d_metrics
from pointbench.types import Annotations, Tracks

#: The `note` of a video without ground truth (its status is `unscored`, not an error).
NO_GROUND_TRUTH = "no ground truth"


def score(video: Annotations, pred: Tracks, query_mode: str) -> dict:
    """TAP-Vid metrics and a status for one video (unscored without ground truth or visible points)."""
    if video.gt is None:
        return {"status": STATUS_UNSCORED, "note": NO_GROUND_TRUTH}
    metrics = tapvid_metrics(video.gt.xy, video.gt.visible, pred.xy, pred.visible,
                             video.queries[:, 0], query_mode, video.image_size)
    if metrics.pop("n_scored_points") == 0:
        return {"status": STATUS_UNSCORED, "note": "no visible ground-truth point to score"}
    return {**metrics, "status": STATUS_OK}


def with_3d(video: Annotations, pred: Tracks) -> Tracks:
    """The prediction with camera-frame `xyz`: the tracker's own, or its 2D tracks lifted with the
    video's depth and intrinsics where it has them (points not lifted are NaN)."""
    if pred.xyz is not None or video.depth is None or video.intrinsics is None:
        return pred
    xyz, _, _ = lift(pred.xy, pred.visible, video.depth, video.intrinsics)
    return Tracks(xy=pred.xy, visible=pred.visible, confidence=pred.confidence, xyz=xyz, xyz_frame="camera")


def score3d(video: Annotations, pred: Tracks, scaling: str = "median") -> dict:
    """TAPVid-3D metrics where the ground truth and the prediction have 3D tracks; else nothing.

    A prediction is visible in 3D where it is visible and has a position (lifting can fail).
    """
    gt, k = video.gt, video.intrinsics
    if gt is None or gt.xyz is None or pred.xyz is None or k is None:
        return {}

    def in_camera(tracks: Tracks) -> np.ndarray:
        if tracks.xyz_frame == "camera":
            return tracks.xyz
        if video.extrinsics is None:
            raise ValueError(f"video '{video.name}': world-frame xyz needs extrinsics to be scored in 3D")
        return world_to_camera(tracks.xyz, video.extrinsics)

    pred_xyz = in_camera(pred)
    pred_visible = pred.visible & np.isfinite(pred_xyz).all(axis=-1)
    fx_fy_cx_cy = np.stack([k[:, 0, 0], k[:, 1, 1], k[:, 0, 2], k[:, 1, 2]], axis=1)
    metrics = tapvid3d_metrics(in_camera(gt), gt.visible, pred_xyz, pred_visible, fx_fy_cx_cy,
                               video.image_size, video.queries[:, 0], scaling)
    return {name: metrics[name] for name in METRIC_NAMES_3D_SHOWN}




#: Per-frame scores shown under each video in the recordings: fraction of visible points within 4 px
#: (at 256×256), and OA.
FRAME_SCORES = {"within_4px": "pts_within_4", "OA": "OA"}


def frame_scores(video: Annotations, pred: Tracks, query_mode: str, tracker: str) -> dict:
    """`{tracker: {score: (T,) series}}` for the recording; empty without ground truth."""
    if video.gt is None:
        return {}
    per_frame = tapvid_metrics_per_frame(video.gt.xy, video.gt.visible, pred.xy, pred.visible, video.queries[:, 0],
                                         query_mode, video.image_size)
    return {tracker: {name: per_frame[key] for name, key in FRAME_SCORES.items()}}


#: The columns that tie a `breakdown.csv` (or `metrics_per_track.csv`) row to its video and run.
BREAKDOWN_KEYS = ("tracker", "dataset", "video", "video_key", "run_id")


def breakdown_scores(video: Annotations, pred: Tracks, query_mode: str, occluded_positions: bool) -> dict:
    """The `pointbench.metrics.breakdowns` columns of one scored video."""
    return breakdown_metrics(video.gt.xy, video.gt.visible, pred.xy, pred.visible, video.queries[:, 0],
                             query_mode, video.image_size, occluded_positions=occluded_positions)


def breakdown_table(rows: list[dict]) -> pd.DataFrame:
    """`breakdown.csv`: one row per scored video, `BREAKDOWN_KEYS` then `BREAKDOWN_COLUMNS`."""
    return pd.DataFrame(rows, columns=[*BREAKDOWN_KEYS, *BREAKDOWN_COLUMNS])


def per_track_scores(video: Annotations, pred: Tracks, query_mode: str) -> pd.DataFrame:
    """`metrics_per_track.csv` rows of one video: the TAP-Vid metrics of each query (its `query` index,
    frame and position), for analyses of one's own."""
    metrics = tapvid_metrics_per_track(video.gt.xy, video.gt.visible, pred.xy, pred.visible, video.queries[:, 0],
                                       query_mode, video.image_size)
    table = pd.DataFrame(metrics)
    table.insert(0, "query", np.arange(len(video.queries)))
    table.insert(1, "query_t", video.queries[:, 0].astype(np.int64))
    table.insert(2, "query_x", video.queries[:, 1])
    table.insert(3, "query_y", video.queries[:, 2])
    return table
