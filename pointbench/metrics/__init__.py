"""Metrics: pure functions on arrays, and the tables that collect them."""

from pointbench.metrics.tapvid import (
    METRIC_NAMES,
    SCORE_SIZE,
    THRESHOLDS,
    eval_mask,
    tapvid_metrics,
    tapvid_metrics_per_frame,
    tapvid_metrics_per_track,
)

__all__ = ["METRIC_NAMES", "SCORE_SIZE", "THRESHOLDS", "eval_mask", "tapvid_metrics", "tapvid_metrics_per_frame",
           "tapvid_metrics_per_track"]
