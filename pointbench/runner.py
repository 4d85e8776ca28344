"""The Hydra app: run one tracker on one dataset, score it, and write tables, predictions and a recording.

    pointbench tracker=lk dataset=synthetic          # or: python -m pointbench ...

This is the only module that ties trackers, datasets, metrics and visualisation together.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from pointbench.io import safe_filename, save_predictions, write_csv
from pointbench.metrics import tapvid_metrics
from pointbench.metrics.tables import (
    STATUS_ERROR, STATUS_OK, STATUS_UNSCORED, format_summary, summarize, video_table,
)
from pointbench.profiling import measure
from pointbench.types import Sample, Tracks
from pointbench.viz import RunRecording

log = logging.getLogger("pointbench")


def build(node: DictConfig, kind: str):
    """Instantiate a `tracker` or `dataset` config group node: returns (name, object)."""
    params = OmegaConf.to_container(node, resolve=True)
    if "name" not in params or "_target_" not in params:
        raise ValueError(f"{kind} config must have 'name' and '_target_' keys; got {sorted(params)}")
    name = params.pop("name")
    return name, instantiate(params, _convert_="all")


def check_prediction(pred, sample: Sample, tracker: str) -> Tracks:
    """Raise unless `pred` holds a position and visibility for every query of `sample` at every frame."""
    n, t = len(sample.queries), sample.n_frames
    if not isinstance(pred, Tracks):
        raise TypeError(f"tracker '{tracker}' returned {type(pred).__name__}; expected pointbench.Tracks")
    if pred.xy.shape != (n, t, 2):
        raise ValueError(f"tracker '{tracker}' returned xy of shape {pred.xy.shape} for video '{sample.name}'; "
                         f"expected (N={n} queries, T={t} frames, 2)")
    return pred


def score(sample: Sample, pred: Tracks, query_mode: str) -> dict:
    """TAP-Vid metrics and a status for one video (unscored without ground truth or visible points)."""
    if sample.gt is None:
        return {"status": STATUS_UNSCORED, "error": "no ground truth"}
    metrics = tapvid_metrics(sample.gt.xy, sample.gt.visible, pred.xy, pred.visible,
                             sample.queries[:, 0], query_mode, sample.image_size)
    if metrics.pop("n_scored_points") == 0:
        return {"status": STATUS_UNSCORED, "error": "no visible ground-truth point to score"}
    return {**metrics, "status": STATUS_OK}


@dataclass
class RunResult:
    per_video: pd.DataFrame
    summary: pd.DataFrame

    @property
    def failures(self) -> pd.DataFrame:
        return self.per_video[self.per_video["status"] == STATUS_ERROR]


def run(cfg: DictConfig, out_dir: Path) -> RunResult:
    """Track, score and record every video of the configured dataset into `out_dir`.

    A video that fails to load or track gets a row with `status=error` and its message; the
    others still run.
    """
    out_dir = Path(out_dir)
    tracker_name, tracker = build(cfg.tracker, "tracker")
    dataset_name, dataset = build(cfg.dataset, "dataset")
    output = cfg.output
    recording = (RunRecording(out_dir / "tracks.rrd", jpeg_quality=output.jpeg_quality,
                              trail_length=output.trail_length)
                 if output.rerun else contextlib.nullcontext())
    rows = []
    with recording as rec:
        for index, video in enumerate(tqdm(dataset.names, desc=f"{tracker_name} on {dataset_name}",
                                           unit="video", disable=None)):
            row = {"tracker": tracker_name, "dataset": dataset_name, "video": video}
            try:
                sample = dataset.load(index)
                row.update(n_frames=sample.n_frames, n_queries=len(sample.queries))
                try:
                    with measure() as cost:
                        pred = tracker.track(sample.frames, sample.queries)
                except Exception as error:
                    raise RuntimeError(f"tracker '{tracker_name}' failed on video '{video}': {error}") from error
                check_prediction(pred, sample, tracker_name)
                row.update(seconds=cost.seconds, fps=sample.n_frames / max(cost.seconds, 1e-9),
                           peak_mem_mb=cost.peak_mem_mb)
                if output.save_predictions:
                    save_predictions(out_dir / "predictions" / f"{safe_filename(video)}.npz", pred, sample.queries)
                row.update(score(sample, pred, dataset.query_mode))
                if rec is not None:
                    rec.log_video(video, sample.frames, sample.gt, {tracker_name: pred}, fps=sample.fps)
                log.info("%s: %s AJ=%.1f OA=%.1f (%.2f s)", video, row["status"], 100 * row.get("AJ", np.nan),
                         100 * row.get("OA", np.nan), cost.seconds)
            except Exception as error:  # one broken video never loses the results of the others
                row.update(status=STATUS_ERROR, error=f"{type(error).__name__}: {error}")
                log.error("%s: %s", video, row["error"])
            rows.append(row)

    per_video = video_table(rows)
    summary = summarize(per_video)
    write_csv(per_video, out_dir / "metrics_per_video.csv")
    write_csv(summary, out_dir / "summary.csv")
    return RunResult(per_video, summary)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    result = run(cfg, out_dir)
    print(format_summary(result.summary))
    print(f"outputs: {out_dir}")
    if len(result.failures):
        names = ", ".join(result.failures["video"].astype(str))
        log.error("%d video(s) failed: %s (see the 'error' column of metrics_per_video.csv)",
                  len(result.failures), names)
        sys.exit(1)


if __name__ == "__main__":
    main()
