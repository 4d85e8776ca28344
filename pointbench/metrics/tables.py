"""Tables of results: one row per video, and the per-(tracker, dataset) summary.

Per-video rows are the primary product; the summary is an explicit aggregation rule on top of
them (TAP-Vid: the mean over scored videos, not over points).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pointbench.metrics.cycle import CYCLE_COLUMNS
from pointbench.metrics.pck import PCK_COLUMNS, pool_pck
from pointbench.metrics.tapvid import METRIC_NAMES

#: Columns that identify the run and the video of a row.
IDENTITY_COLUMNS = ("run_id", "video_key", "tracker_config", "dataset_config", "scoring_config",
                    "pointbench_version", "license")

#: The shard of a row's run, how many videos the whole dataset has, and the hash of their names.
SHARD_COLUMNS = ("shard", "num_shards", "dataset_videos", "manifest_hash")

#: TAPVid-3D columns, filled where the ground truth and the prediction have 3D tracks.
METRIC_NAMES_3D_SHOWN = ("AJ3D", "APD3D", "OA3D")
ALL_METRICS = METRIC_NAMES + METRIC_NAMES_3D_SHOWN
#: PCK columns (pointbench.metrics.pck), filled for datasets with keypoint ground truth (JHMDB).
PCK_SHOWN = tuple(c for c in PCK_COLUMNS if c != "pck_n")

VIDEO_COLUMNS = (
    ("tracker", "dataset", "video", "n_frames", "n_queries")
    + ALL_METRICS + PCK_COLUMNS
    + ("seconds", "fps", "peak_mem_mb", "peak_gpu_mem_mb", "status", "error", "note")
    # Ground-truth-free scores: the tracker ran a second time (`tracker_runs` = 2) for the cycle.
    + CYCLE_COLUMNS + ("cycle_seconds", "tracker_runs")
    # The run's identity (see pointbench.identity) and the video's file name in predictions/ and the cache.
    + IDENTITY_COLUMNS
    # Which part of the dataset the row's run held: its shard, and the video set it was drawn from.
    + SHARD_COLUMNS
)
SUMMARY_COLUMNS = (("tracker", "dataset", "videos", "videos_scored") + ALL_METRICS + PCK_COLUMNS
                   + ("seconds", "fps", "peak_mem_mb", "peak_gpu_mem_mb") + CYCLE_COLUMNS
                   + ("run_id", "variant", "dataset_variant", "license", "videos_ran"))

#: `status` values: scored; ran but nothing to score (no visible ground truth after its query); failed.
STATUS_OK, STATUS_UNSCORED, STATUS_ERROR = "ok", "unscored", "error"


def video_table(rows: list[dict]) -> pd.DataFrame:
    """Per-video rows (dicts with any subset of `VIDEO_COLUMNS`) as a table with exactly those columns."""
    return pd.DataFrame(rows, columns=list(VIDEO_COLUMNS))


def summarize(per_video: pd.DataFrame) -> pd.DataFrame:
    """One row per run identity (`run_id`; tables without it: per (tracker, dataset)): metric means
    over scored videos, cost over all that ran. `variant` and `dataset_variant` are the rows'
    labels where the table has them, else the tracker and dataset names."""
    keys = ["run_id"] if "run_id" in per_video and per_video["run_id"].notna().all() else ["tracker", "dataset"]
    rows = []
    for _, group in per_video.groupby(keys, sort=False):
        scored = group[group["status"] == STATUS_OK]
        ran = group[group["status"] != STATUS_ERROR]
        seconds = ran["seconds"].sum()
        first = {c: group[c].iloc[0] for c in ("tracker", "dataset", "run_id", "variant", "dataset_variant",
                                               "license") if c in group}  # not a whole row: fast
        row = {"tracker": first["tracker"], "dataset": first["dataset"], "videos": len(group),
               "videos_scored": len(scored), "run_id": first.get("run_id"),
               "variant": first.get("variant", first["tracker"]),
               "dataset_variant": first.get("dataset_variant", first["dataset"]), "license": first.get("license")}
        row.update({m: scored[m].mean() if len(scored) else np.nan for m in ALL_METRICS})  # 3D: where scored
        # PCK: every scored (joint, frame) pooled, where the dataset has keypoints (only those rows converted)
        counted = (pd.to_numeric(scored["pck_n"], errors="coerce") > 0 if "pck_n" in scored
                   else pd.Series(False, index=scored.index))
        row.update(pool_pck(scored.loc[counted, [c for c in PCK_COLUMNS if c in scored]] if counted.any() else []))
        row["seconds"] = seconds
        row["fps"] = ran["n_frames"].sum() / seconds if seconds > 0 else np.nan
        for column in ("peak_mem_mb", "peak_gpu_mem_mb"):
            row[column] = ran[column].max() if len(ran) else np.nan
        cycled = ran[ran["cycle_n"] > 0]
        row.update({c: cycled[c].mean() if len(cycled) else np.nan for c in CYCLE_COLUMNS if c != "survival"})
        row["cycle_n"] = cycled["cycle_n"].sum() if len(cycled) else np.nan
        row["survival"] = ran["survival"].mean() if ran["survival"].notna().any() else np.nan
        row["videos_ran"] = len(ran)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as printed: metrics ×100 with one decimal, like papers (3D and ground-truth-free
    columns where a row has them; `–` where a row has no value). `videos` counts scored videos; when
    some videos ran without ground truth to score, `unscored` counts those."""
    metrics = ["AJ", "delta_avg", "OA", "pts_within_1", "pts_within_4", "pts_within_16"]
    gt_free = ("cycle_median_px", "cycle_within_4", "survival")
    metrics += [m for m in METRIC_NAMES_3D_SHOWN + ("pck_0.1", "pck_0.2") + gt_free if summary[m].notna().any()]
    columns = ["variant", "dataset_variant", "videos_scored"]
    unscored = summary["videos_ran"] - summary["videos_scored"] if "videos_ran" in summary else None
    shown = summary[[*columns, *metrics, "fps"]].copy()
    if unscored is not None and (unscored > 0).any():
        shown.insert(3, "unscored", unscored)
    for column in metrics:
        values = shown[column] * (1 if column == "cycle_median_px" else 100)
        shown[column] = [f"{v:.1f}" if np.isfinite(v) else "–" for v in values]
    shown["fps"] = [f"{v:.1f}" if np.isfinite(v) else "–" for v in shown["fps"]]
    return shown.rename(columns={"variant": "tracker", "dataset_variant": "dataset", "videos_scored": "videos",
                                 "delta_avg": "δ_avg"}).to_string(index=False)
