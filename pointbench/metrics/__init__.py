"""Metrics: pure functions on arrays, and the tables that collect them."""

from pointbench.metrics.tapvid3d import METRIC_NAMES_3D, THRESHOLDS_3D, tapvid3d_metrics
from pointbench.metrics.tapvid import (
    METRIC_NAMES,
    SCORE_SIZE,
    THRESHOLDS,
    eval_mask,
    tapvid_metrics,
    tapvid_metrics_per_frame,
    tapvid_metrics_per_track,
)

__all__ = ["METRIC_NAMES_3D", "THRESHOLDS_3D", "tapvid3d_metrics", "METRIC_NAMES", "SCORE_SIZE", "THRESHOLDS", "eval_mask", "tapvid_metrics", "tapvid_metrics_per_frame",
           "tapvid_metrics_per_track"]
