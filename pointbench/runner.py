"""The Hydra app: run one tracker on one dataset, score it, and write tables, predictions and a recording.

    pointbench tracker=lk dataset=synthetic          # or: python -m pointbench ...

This is the only module that ties trackers, datasets, metrics and visualisation together.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from pointbench.cache import PredictionCache
from pointbench.datasets.base import ShardView
from pointbench.identity import (
    METADATA_KEYS, SHARD_KEYS, overrides_dirname, printable, run_identity, unique_dir, video_key, video_manifest,
)
from pointbench.io import encode_name, save_predictions, write_csv
from pointbench.geometry import lift, world_to_camera
from pointbench.metrics import tapvid3d_metrics, tapvid_metrics
from pointbench.metrics.cycle import cycle_consistency, cycle_queries, track_survival
from pointbench.metrics.tables import (
    METRIC_NAMES_3D_SHOWN, STATUS_ERROR, STATUS_OK, STATUS_UNSCORED, format_summary, summarize, video_table,
)
from pointbench.profiling import Cost, measure
from pointbench.provenance import provenance
from pointbench.registry import discover
from pointbench.runs import identity_columns, write_run_file
from pointbench.types import Annotations, Tracks
from pointbench.viz import RunRecording
from pointbench.viz.rerun_3d import Recording3D, log_3d_video

log = logging.getLogger("pointbench")

discover()  # installed tracker and dataset plugins become config choices before Hydra composes
# Run dir names (conf/config.yaml): the job's overrides, and a dir no other run started at the same moment gets.
OmegaConf.register_new_resolver("pb.dirname", overrides_dirname, replace=True)
OmegaConf.register_new_resolver("pb.unique", unique_dir, use_cache=True, replace=True)


def build(node: DictConfig, kind: str, **overrides):
    """Instantiate a `tracker` or `dataset` config group node: returns (name, object).

    A dataset's shard keys (`shard`, `num_shards`) select videos (see `sharded`), so they are not
    passed to its class; `overrides` replace parameters the node has (e.g. a worker's `device`).
    """
    params = OmegaConf.to_container(node, resolve=True)
    if "name" not in params or "_target_" not in params:
        raise ValueError(f"{kind} config must have 'name' and '_target_' keys; got {sorted(params)}")
    name = params.pop("name")
    for key in METADATA_KEYS:
        params.pop(key, None)
    if kind == "dataset":
        for key in SHARD_KEYS:
            params.pop(key, None)
    params.update({k: v for k, v in overrides.items() if k in params})
    return name, instantiate(params, _convert_="all")


def license_text(node: DictConfig) -> str | None:
    """A plugin config's `license: {code, weights}` as one line (`code Apache-2.0; weights CC-BY-4.0`), or None."""
    value = node.get("license")
    if value is None:
        return None
    if isinstance(value, str):
        return value
    parts = {k: v for k, v in OmegaConf.to_container(value, resolve=True).items() if v}
    return "; ".join(f"{k} {v}" for k, v in parts.items()) or None


def shard_of(cfg: DictConfig) -> tuple[int, int]:
    """(shard, num_shards) of the run's dataset config (defaults: the one shard)."""
    return int(cfg.dataset.get("shard", 0)), int(cfg.dataset.get("num_shards", 1))


def sharded(dataset, shard: int, num_shards: int):
    """The videos of shard `shard` of `num_shards` (through the base class, or a view of any dataset)."""
    if num_shards == 1 and shard == 0:
        return dataset
    return dataset.shard(shard, num_shards) if hasattr(dataset, "shard") else ShardView(dataset, shard, num_shards)


def worker_device(cfg: DictConfig) -> dict:
    """`{"device": "cuda:k"}` for a worker of a node with `gpus` GPUs (k = shard mod gpus), else nothing.

    The device is a property of the worker, not of the run: it is not part of the run identity,
    so shards on different GPUs merge.
    """
    gpus = cfg.get("gpus")
    if gpus is None:
        return {}
    if not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 1:
        raise ValueError(f"gpus must be null or a positive integer (GPUs on this node); got {gpus!r}")
    return {"device": f"cuda:{shard_of(cfg)[0] % gpus}"}


def check_prediction(pred, n_queries: int, n_frames: int, video: str, tracker: str) -> Tracks:
    """Raise unless `pred` holds a position and visibility for every query at every frame."""
    if not isinstance(pred, Tracks):
        raise TypeError(f"tracker '{tracker}' returned {type(pred).__name__}; expected pointbench.Tracks")
    if pred.xy.shape != (n_queries, n_frames, 2):
        raise ValueError(f"tracker '{tracker}' returned xy of shape {pred.xy.shape} for video '{video}'; "
                         f"expected (N={n_queries} queries, T={n_frames} frames, 2)")
    return pred


def score(video: Annotations, pred: Tracks, query_mode: str) -> dict:
    """TAP-Vid metrics and a status for one video (unscored without ground truth or visible points)."""
    if video.gt is None:
        return {"status": STATUS_UNSCORED, "error": "no ground truth"}
    metrics = tapvid_metrics(video.gt.xy, video.gt.visible, pred.xy, pred.visible,
                             video.queries[:, 0], query_mode, video.image_size)
    if metrics.pop("n_scored_points") == 0:
        return {"status": STATUS_UNSCORED, "error": "no visible ground-truth point to score"}
    return {**metrics, "status": STATUS_OK}


def _ground_truth_arrays(video: Annotations, query_mode: str) -> dict:
    """What a predictions file carries besides the predictions, so it can be re-scored on its own."""
    extra = {"image_size": np.array(video.image_size), "query_mode": np.array(query_mode)}
    if video.gt is not None:
        extra.update(gt_xy=video.gt.xy, gt_visible=video.gt.visible)
    return extra


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


@dataclass
class RunResult:
    per_video: pd.DataFrame
    summary: pd.DataFrame

    @property
    def failures(self) -> pd.DataFrame:
        return self.per_video[self.per_video["status"] == STATUS_ERROR]


@dataclass
class _Job:
    """One (tracker, dataset) run: what every video of it needs."""

    tracker_name: str
    tracker: object
    dataset_name: str
    dataset: object
    cache: PredictionCache | None
    force: bool
    out_dir: Path
    output: DictConfig
    recording: RunRecording | None
    scaling3d: str = "median"
    cycle_metrics: bool | str = "auto"
    recording3d: Recording3D | None = None
    #: The run's identity as per-video columns (`pointbench.runs.identity_columns`).
    identity_columns: dict = field(default_factory=dict)
    #: Predictions (with 3D where lifted) of the videos that ran, for datasets that combine them.
    predictions: dict = field(default_factory=dict)

    def predict(self, key: str, queries: np.ndarray, n_frames: int, load_sample,
                kind: str = "tracks") -> tuple[Tracks, Cost, Path | None]:
        """Tracks of `queries` on video `key`, from its cache entry of `kind` or by tracking (then
        cached): (tracks, cost, the cache entry that served them or None). `load_sample()` gives the
        video when tracking needs it; a tracker that `accepts_geometry` also gets its depth,
        intrinsics and extrinsics."""
        cached = None if self.cache is None or self.force else self.cache.load(key, queries, n_frames, kind)
        if cached is not None:
            tracks, cost, entry = cached
            return check_prediction(tracks, len(queries), n_frames, key, self.tracker_name), cost, entry
        sample = load_sample()  # loaded before the clock starts: `seconds` is tracking time only
        geometry = {}
        if getattr(self.tracker, "accepts_geometry", False):
            geometry = {k: v for k in ("depth", "intrinsics", "extrinsics") if (v := getattr(sample, k)) is not None}
        try:
            with measure() as cost:
                pred = self.tracker.track(sample.frames, queries, **geometry)
        except Exception as error:
            raise RuntimeError(f"tracker '{self.tracker_name}' failed on video '{printable(key)}': {error}") from error
        check_prediction(pred, len(queries), n_frames, key, self.tracker_name)
        if self.cache is not None:
            self.cache.store(key, pred, queries, n_frames, cost, kind)
        return pred, cost, None

    def cycle(self, video: Annotations, pred: Tracks, load_sample) -> dict:
        """Ground-truth-free scores: track back from the last frame (a second run) and survival."""
        back_queries, index = cycle_queries(pred.xy, pred.visible, video.queries, image_size=video.image_size)
        row = {"survival": track_survival(pred.visible, video.queries), "tracker_runs": 2}
        if len(back_queries):
            back, cost, _ = self.predict(video.name, back_queries, video.n_frames, load_sample, kind="cycle")
            row["cycle_seconds"] = cost.seconds
        else:
            back = Tracks.empty(video.n_frames)
        row.update(cycle_consistency(video.queries, back.xy, back.visible, index, video.image_size))
        return row

    def process(self, index: int, name: str) -> dict:
        """The table row of video `index`: load, predict, save, score and record it."""
        row = {"tracker": self.tracker_name, "dataset": self.dataset_name, "video": printable(name),
               "video_key": video_key(name), **self.identity_columns}
        try:
            # Frames are decoded only when tracking or recording needs them (and then once).
            recording = self.recording is not None or self.recording3d is not None
            in_cache = self.cache is not None and not self.force and self.cache.path(name).exists()
            sample = self.dataset.load(index) if recording or not in_cache else None
            video = sample.annotations() if sample is not None else self.dataset.load_annotations(index)
            row.update(n_frames=video.n_frames, n_queries=len(video.queries))

            loaded = [sample]

            def load_sample():  # decoded at most once per video
                if loaded[0] is None:
                    loaded[0] = self.dataset.load(index)
                return loaded[0]

            pred, cost, entry = self.predict(name, video.queries, video.n_frames, load_sample)
            pred = with_3d(video, pred)
            self.predictions[name] = pred
            row.update(seconds=cost.seconds, fps=video.n_frames / max(cost.seconds, 1e-9),
                       peak_mem_mb=cost.peak_mem_mb, peak_gpu_mem_mb=cost.peak_gpu_mem_mb)
            if self.output.save_predictions:
                save_predictions(self.out_dir / "predictions" / f"{video_key(name)}.npz", pred, video.queries,
                                 video_name=encode_name(name), **_ground_truth_arrays(video, self.dataset.query_mode))
            row.update(score(video, pred, self.dataset.query_mode))
            if row["status"] == STATUS_OK:
                try:
                    row.update(score3d(video, pred, self.scaling3d))
                except ValueError as error:  # the 2D score stands; the 3D columns stay empty
                    log.warning("%s: no 3D scores: %s", name, error)
            row["tracker_runs"] = 1
            if self.cycle_metrics is True or (self.cycle_metrics == "auto" and video.gt is None):
                row.update(self.cycle(video, pred, load_sample))
            if self.recording is not None:
                self.recording.log_video(name, sample.frames, sample.gt, {self.tracker_name: pred}, fps=sample.fps,
                                         skeleton=sample.skeleton)
            if self.recording3d is not None:  # only videos with camera geometry and depth or 3D tracks
                scene = self.dataset.scene(index) if hasattr(self.dataset, "scene") else None
                log_3d_video(self.recording3d, name, sample, sample.gt, {self.tracker_name: pred}, scene=scene)
            log.info("%s: %s%s AJ=%.1f OA=%.1f (%.2f s tracking)", printable(name),
                     f"cached ({entry}), " if entry is not None else "", row["status"], 100 * row.get("AJ", np.nan),
                     100 * row.get("OA", np.nan), cost.seconds)
        except Exception as error:  # one broken video never loses the results of the others
            row.update(status=STATUS_ERROR, error=printable(f"{type(error).__name__}: {error}"))
            log.error("%s: %s", printable(name), row["error"])
        return row


def identity_of(cfg: DictConfig) -> dict:
    """The run identity of a composed config (see `pointbench.identity.run_identity`)."""
    tracker = OmegaConf.to_container(cfg.tracker, resolve=True)
    dataset = OmegaConf.to_container(cfg.dataset, resolve=True)
    return run_identity(tracker.get("name"), tracker, dataset.get("name"), dataset,
                        {"scaling3d": cfg.scaling3d, "cycle_metrics": cfg.cycle_metrics})


class NoVideosError(RuntimeError):
    """The dataset lists no video: there is nothing to score."""


def _open_recordings(output: DictConfig, out_dir: Path) -> tuple[RunRecording | None, Recording3D | None]:
    if not output.rerun:
        return None, None
    return (RunRecording(out_dir / "tracks.rrd", jpeg_quality=output.jpeg_quality, trail_length=output.trail_length,
                         frame_format=output.frame_format),
            Recording3D(out_dir / "tracks3d.rrd", jpeg_quality=output.jpeg_quality, depth_stride=output.depth_stride))


def _close_recording(recording, ok: bool) -> None:
    """Finish (or, after a failure, discard) a recording; a failure to write it is an error line, not lost tables."""
    if recording is None:
        return
    try:
        if ok:
            recording.__exit__(None, None, None)
        else:
            recording.__exit__(RuntimeError, RuntimeError("run failed"), None)
    except Exception as error:
        log.error("recording %s not written: %s: %s", getattr(recording, "path", "?"), type(error).__name__, error)
        with contextlib.suppress(Exception):
            recording.__exit__(RuntimeError, error, None)


def run(cfg: DictConfig, out_dir: Path) -> RunResult:
    """Track (or reuse cached predictions), score and record every video of the dataset into `out_dir`.

    A video that fails to load or track gets a row with `status=error` and its message; the
    others still run. The tables are written before the recordings are finished, so a recording
    that cannot be written costs only itself. A dataset without videos raises NoVideosError.
    """
    out_dir = Path(out_dir)
    shard, num_shards = shard_of(cfg)
    tracker_name, tracker = build(cfg.tracker, "tracker", **worker_device(cfg))
    dataset_name, full = build(cfg.dataset, "dataset")
    identity = identity_of(cfg)
    all_names = full.names
    if not all_names:
        raise NoVideosError(f"dataset '{dataset_name}' has no videos (dataset.path: "
                            f"{cfg.dataset.get('path', None)!r}); nothing to score")
    dataset = sharded(full, shard, num_shards)
    names = dataset.names
    manifest = video_manifest(all_names)
    write_run_file(out_dir, identity, shard=shard, num_shards=num_shards, manifest=manifest, videos=names)
    cache = None
    if cfg.cache_dir is not None:
        inputs = provenance(tracker, identity["tracker"]["config"], dataset, identity["dataset"]["config"])
        cache = PredictionCache(Path(cfg.cache_dir), identity, inputs)
    rec, rec3d = _open_recordings(cfg.output, out_dir)
    ok = False
    try:
        columns = {**identity_columns(identity), "license": license_text(cfg.tracker), "shard": shard,
                   "num_shards": num_shards,
                   "dataset_videos": len(all_names), "manifest_hash": manifest["hash"]}
        job = _Job(tracker_name, tracker, dataset_name, dataset, cache, bool(cfg.force), out_dir, cfg.output, rec,
                   cfg.scaling3d, cfg.cycle_metrics, rec3d, columns)
        rows = [job.process(index, name) for index, name in
                enumerate(tqdm(names, desc=f"{tracker_name} on {dataset_name}", unit="video", disable=None))]
        # A dataset whose videos belong together (e.g. the cameras of one recording) may combine the
        # predictions into outputs of its own, after every video has run.
        if (combine := getattr(dataset, "combine_predictions", None)) is not None:
            try:
                combine(job.predictions, out_dir)
            except Exception as error:  # the per-video scores stand
                log.error("combining the predictions of '%s' failed: %s: %s", dataset_name, type(error).__name__,
                          error)
        per_video = video_table(rows)
        summary = summarize(per_video)
        write_csv(per_video, out_dir / "metrics_per_video.csv")
        write_csv(summary, out_dir / "summary.csv")
        ok = True
    finally:
        _close_recording(rec, ok)
        _close_recording(rec3d, ok)
    return RunResult(per_video, summary)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> int:
    """Run one job. A single run exits with status 1 if any video failed; in a sweep the
    end-of-sweep callback does, after every job has finished."""
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        result = run(cfg, out_dir)
    except NoVideosError as error:
        log.error("%s", error)
        if hydra_cfg.mode != RunMode.MULTIRUN:
            sys.exit(1)
        return 1
    print(format_summary(result.summary))
    print(f"outputs: {out_dir}")
    failures = len(result.failures)
    if failures:
        names = ", ".join(result.failures["video"].astype(str))
        log.error("%d video(s) failed: %s (see the 'error' column of %s)", failures, names,
                  out_dir / "metrics_per_video.csv")
        if hydra_cfg.mode != RunMode.MULTIRUN:
            sys.exit(1)
    return failures


if __name__ == "__main__":
    main()
