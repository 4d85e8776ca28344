"""The Hydra app: run one tracker on one dataset, score it, and write tables, predictions and a recording.

    pointbench tracker=lk dataset=synthetic          # or: python -m pointbench ...

This is the only module that ties trackers, datasets, metrics and visualisation together.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from pointbench.building import build, license_text, perturbed, shard_of, sharded, worker_device
from pointbench.cache import PredictionCache
from pointbench.identity import overrides_dirname, printable, run_identity, unique_dir, video_key, video_manifest
from pointbench.io import encode_name, remove_stale_temporaries, save_predictions, write_csv
from pointbench.metrics.scoring import (
    BREAKDOWN_KEYS, breakdown_scores, breakdown_table, frame_scores, per_track_scores, score, score3d, with_3d,
)
from pointbench.metrics.cycle import cycle_consistency, cycle_queries, track_survival
from pointbench.metrics.pck import pck_scores
from pointbench.metrics.tables import STATUS_ERROR, STATUS_OK, format_summary, summarize, video_table
from pointbench.perturb import PerturbedView
from pointbench.profiling import Cost, measure
from pointbench.provenance import provenance
from pointbench.registry import discover
from pointbench.runs import identity_columns, write_run_file
from pointbench.types import Annotations, Skeleton, Tracks
from pointbench.viz import RunRecording
from pointbench.viz.video import require_pyav
from pointbench.viz.rerun_3d import Recording3D, log_3d_video
from pointbench.viz.rerun_pose import PoseRecording

log = logging.getLogger("pointbench")

discover()  # installed tracker and dataset plugins become config choices before Hydra composes
# Run dir names (conf/config.yaml): the job's overrides, and a dir no other run started at the same moment gets.
OmegaConf.register_new_resolver("pb.dirname", overrides_dirname, replace=True)
OmegaConf.register_new_resolver("pb.unique", unique_dir, use_cache=True, replace=True)


def check_prediction(pred, n_queries: int, n_frames: int, video: str, tracker: str) -> Tracks:
    """Raise unless `pred` holds a position and visibility for every query at every frame."""
    if not isinstance(pred, Tracks):
        raise TypeError(f"tracker '{tracker}' returned {type(pred).__name__}; expected pointbench.Tracks")
    if pred.xy.shape != (n_queries, n_frames, 2):
        raise ValueError(f"tracker '{tracker}' returned xy of shape {pred.xy.shape} for video '{video}'; "
                         f"expected (N={n_queries} queries, T={n_frames} frames, 2)")
    return pred


def _ground_truth_arrays(video: Annotations, query_mode: str) -> dict:
    """What a predictions file carries besides the predictions, so it can be re-scored on its own."""
    extra = {"image_size": np.array(video.image_size), "query_mode": np.array(query_mode)}
    if video.gt is not None:
        extra.update(gt_xy=video.gt.xy, gt_visible=video.gt.visible)
    return extra


#: A query frame whose pixels vary less than this (standard deviation, 0-255) is blank for tracking.
BLANK_FRAME_STD = 2.0


def warn_blank_query_frames(frames: np.ndarray, queries: np.ndarray, video: str) -> list[int]:
    """Warn about (and return) the query frames that are blank or nearly constant (a fade-in, a black
    frame): nothing can be tracked from them, and the cycle scores of their queries mean little."""
    blank = []
    for t in np.unique(queries[:, 0].astype(np.int64)):
        std = float(frames[t].std())
        if std < BLANK_FRAME_STD:
            blank.append(int(t))
            log.warning("%s: query frame %d is blank or nearly constant (pixel std %.2f): its %d queries cannot "
                        "be tracked from it (choose another query frame)", printable(video), t, std,
                        int((queries[:, 0] == t).sum()))
    return blank


@contextlib.contextmanager
def frame_progress(tracker, video: str):
    """A progress bar within one video for trackers that report progress (see `Tracker.report_progress`)."""
    if not hasattr(tracker, "report_progress"):
        yield
        return
    bar = tqdm(desc=video, unit="step", leave=False, disable=None)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    tracker.progress = update
    try:
        yield
    finally:
        tracker.progress = None
        bar.close()


def _scores_line(row: dict) -> str:
    """What a video's log line says: its TAP-Vid scores, else its ground-truth-free ones and why."""
    if row["status"] == STATUS_OK:
        return f"ok AJ={100 * row['AJ']:.1f} OA={100 * row['OA']:.1f}"
    parts = [f"{row['status']} ({row.get('note', '')})"]
    if np.isfinite(row.get("cycle_median_px", np.nan)):
        parts.append(f"cycle median {row['cycle_median_px']:.2f} px, within 4 px {100 * row['cycle_within_4']:.1f}%")
    if np.isfinite(row.get("survival", np.nan)):
        parts.append(f"survival {100 * row['survival']:.1f}%")
    return "; ".join(parts)


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
    output: dict  # the `output` config as plain values (read for every video: no config lookups)
    recording: RunRecording | None
    scaling3d: str = "median"
    cycle_metrics: bool | str = "auto"
    recording3d: Recording3D | None = None
    #: The run's identity as per-video columns (`pointbench.runs.identity_columns`).
    identity_columns: dict = field(default_factory=dict)
    #: Predictions (with 3D where lifted) of the videos that ran, for datasets that combine them.
    predictions: dict = field(default_factory=dict)
    #: Whether the dataset's ground truth has positions where points are occluded (breakdowns use them).
    occluded_positions: bool = False
    #: Rows of `breakdown.csv` and tables of `metrics_per_track.csv`, of the scored videos.
    breakdowns: list = field(default_factory=list)
    per_track: list = field(default_factory=list)
    #: Held around every call into the dataset: the loading thread and a late load never interleave.
    dataset_lock: threading.Lock = field(default_factory=threading.Lock)
    #: Whether the dataset's ground truth is semantic keypoints (JHMDB): PCK is scored beside TAP-Vid.
    keypoint_gt: bool = False
    #: pose.rrd, opened at the first recorded video that has a skeleton.
    pose_recording: PoseRecording | None = None

    def predict(self, key: str, queries: np.ndarray, n_frames: int, load_sample,
                kind: str = "tracks", rows: np.ndarray | None = None) -> tuple[Tracks, Cost, Path | None]:
        """Tracks of `queries` on video `key`, from its cache entry of `kind` or by tracking (then
        cached): (tracks, cost, the cache entry that served them or None). `load_sample()` gives the
        video when tracking needs it; a tracker that `accepts_geometry` also gets its depth,
        intrinsics and extrinsics, one that `accepts_skeleton` the video's skeleton (for the queries
        that are `rows` of the video's: the cycle run's)."""
        cached = None if self.cache is None or self.force else self.cache.load(key, queries, n_frames, kind)
        if cached is not None:
            tracks, cost, entry = cached
            return check_prediction(tracks, len(queries), n_frames, key, self.tracker_name), cost, entry
        sample = load_sample()  # loaded before the clock starts: `seconds` is tracking time only
        if kind == "tracks":
            if sample.n_frames != n_frames or not np.array_equal(sample.queries, queries):
                raise _AnnotationsChanged(sample)
            warn_blank_query_frames(sample.frames, queries, key)
        geometry = {}
        if getattr(self.tracker, "accepts_geometry", False):
            geometry = {k: v for k in ("depth", "intrinsics", "extrinsics") if (v := getattr(sample, k)) is not None}
        if getattr(self.tracker, "accepts_skeleton", False):  # keypoint trackers: which keypoint each query is
            skeleton = sample.skeleton
            if skeleton is not None and rows is not None:
                skeleton = Skeleton(skeleton.names, skeleton.connections, np.asarray(skeleton.keypoint_ids)[rows])
            geometry["skeleton"] = skeleton
        try:
            with frame_progress(self.tracker, f"{printable(key)}{' (cycle)' if kind == 'cycle' else ''}"), \
                    measure() as cost:
                pred = self.tracker.track(sample.frames, queries, **geometry)
        except Exception as error:
            raise RuntimeError(f"tracker '{self.tracker_name}' failed on video '{printable(key)}': {error}") from error
        check_prediction(pred, len(queries), n_frames, key, self.tracker_name)
        if self.cache is not None:
            self.cache.store(key, pred, queries, n_frames, cost, kind)
        return pred, cost, None

    def cycle_track(self, video: Annotations, pred: Tracks, load_sample) -> tuple[Tracks, np.ndarray, Cost | None]:
        """The second, backward tracker run of the ground-truth-free scores: (tracks, index, cost)."""
        back_queries, index = cycle_queries(pred.xy, pred.visible, video.queries, image_size=video.image_size)
        if not len(back_queries):
            return Tracks.empty(video.n_frames), index, None
        log.info("%s: cycle run: tracking %d points back from the last frame", printable(video.name),
                 len(back_queries))
        back, cost, _ = self.predict(video.name, back_queries, video.n_frames, load_sample, kind="cycle",
                                     rows=index)
        return back, index, cost

    def _row(self, name: str) -> dict:
        return {"tracker": self.tracker_name, "dataset": self.dataset_name, "video": printable(name),
                "video_key": video_key(name), **self.identity_columns}

    def decodes_frames(self, names: list[str]) -> bool:
        """Whether the run will decode a video: to record it, or to track one the cache does not hold
        (its predictions, or its cycle run's where this dataset's entries have one)."""
        if self.recording is not None or self.recording3d is not None or self.cache is None or self.force:
            return True
        cycle = self.cycle_metrics is True or (self.cycle_metrics == "auto" and self.cache.holds("cycle"))
        return any(not self.cache.has(name) or (cycle and not self.cache.has(name, "cycle")) for name in names)

    def _wants_cycle(self, video: Annotations) -> bool:
        return self.cycle_metrics is True or (self.cycle_metrics == "auto" and video.gt is None)

    # --- The three stages of a video: load, track, finish (the pipelined runner overlaps them) -----------

    def load(self, index: int, name: str) -> _Video:
        """Stage 1: the video's annotations, and its frames where tracking or a recording needs them."""
        item = _Video(index, name, self._row(name))
        try:
            # Frames are decoded only when tracking or recording needs them (and then once).
            recording = self.recording is not None or self.recording3d is not None
            in_cache = self.cache is not None and not self.force and self.cache.has(name)
            with self.dataset_lock:
                item.sample = self.dataset.load(index) if recording or not in_cache else None
                item.video = (item.sample.annotations() if item.sample is not None
                              else self.dataset.load_annotations(index))
            item.row.update(n_frames=item.video.n_frames, n_queries=len(item.video.queries))
        except Exception as error:
            item.error = error
        return item

    def _load_sample(self, item: _Video):
        def load_sample():  # decoded at most once per video
            if item.sample is None:
                with self.dataset_lock:
                    item.sample = self.dataset.load(item.index)
            return item.sample
        return load_sample

    def track(self, item: _Video) -> _Video:
        """Stage 2: the predictions (from the cache or the tracker), and the cycle run's where wanted."""
        if item.error is not None:
            return item
        try:
            video, load_sample = item.video, self._load_sample(item)
            try:
                pred, item.cost, item.entry = self.predict(item.name, video.queries, video.n_frames, load_sample)
            except _AnnotationsChanged as changed:  # e.g. a header that promised more frames than decode
                item.video = video = changed.sample.annotations()
                item.row.update(n_frames=video.n_frames, n_queries=len(video.queries))
                log.warning("%s: the decoded video has %d frames and %d queries, not what its annotations said; "
                            "scoring what decodes", printable(item.name), video.n_frames, len(video.queries))
                pred, item.cost, item.entry = self.predict(item.name, video.queries, video.n_frames, load_sample)
            item.pred = with_3d(video, pred)
            # A pose model's mask and 3D landmarks of this video: read here, before the next video is tracked.
            output = getattr(self.tracker, "last_output", None) if item.entry is None else None
            item.pose = output if output is not None and output.n_frames == video.n_frames else None
            if self._wants_cycle(video):
                item.cycle = self.cycle_track(video, item.pred, load_sample)
        except Exception as error:
            item.error = error
        return item

    def finish(self, item: _Video) -> dict:
        """Stage 3: the table row of the video: save, score and record it; frees its frames."""
        name, row = item.name, item.row
        try:
            if item.error is not None:
                raise item.error
            video, pred, cost = item.video, item.pred, item.cost
            self.predictions[name] = pred
            row.update(seconds=cost.seconds, fps=video.n_frames / max(cost.seconds, 1e-9),
                       peak_mem_mb=cost.peak_mem_mb, peak_gpu_mem_mb=cost.peak_gpu_mem_mb)
            if self.output["save_predictions"]:
                save_predictions(self.out_dir / "predictions" / f"{video_key(name)}.npz", pred, video.queries,
                                 video_name=encode_name(name), **_ground_truth_arrays(video, self.dataset.query_mode))
            row.update(score(video, pred, self.dataset.query_mode))
            if self.keypoint_gt:  # semantic keypoints (JHMDB): PCK beside the TAP-Vid columns
                row.update(pck_scores(video, pred))
            if row["status"] == STATUS_OK:
                try:
                    row.update(score3d(video, pred, self.scaling3d))
                except ValueError as error:  # the 2D score stands; the 3D columns stay empty
                    log.warning("%s: no 3D scores: %s", printable(name), error)
                if self.output.get("breakdown", True):
                    self.breakdowns.append({**{k: row[k] for k in BREAKDOWN_KEYS}, **breakdown_scores(
                        video, pred, self.dataset.query_mode, self.occluded_positions)})
                if self.output.get("per_track", False):
                    self.per_track.append(per_track_scores(video, pred, self.dataset.query_mode).assign(
                        **{k: row[k] for k in BREAKDOWN_KEYS}))
            row["tracker_runs"] = 1
            if item.cycle is not None:
                back, index, back_cost = item.cycle
                row.update(survival=track_survival(pred.visible, video.queries), tracker_runs=2)
                if back_cost is not None:
                    row["cycle_seconds"] = back_cost.seconds
                row.update(cycle_consistency(video.queries, back.xy, back.visible, index, video.image_size))
            sample = item.sample
            if self.recording is not None:
                self.recording.log_video(name, sample.frames, sample.gt, {self.tracker_name: pred}, fps=sample.fps,
                                         skeleton=sample.skeleton, scores=frame_scores(
                                             video, pred, self.dataset.query_mode, self.tracker_name))
            if self.recording is not None and sample.skeleton is not None:  # pose.rrd: skeletons, mask, 3D
                if self.pose_recording is None:
                    self.pose_recording = PoseRecording(self.out_dir / "pose.rrd",
                                                        jpeg_quality=self.output["jpeg_quality"])
                self.pose_recording.log_video(name, sample.frames, sample.skeleton, sample.gt, {self.tracker_name: pred},
                                              pose={self.tracker_name: item.pose} if item.pose is not None else None,
                                              fps=sample.fps)
            if self.recording3d is not None:  # only videos with camera geometry and depth or 3D tracks
                with self.dataset_lock:
                    scene = self.dataset.scene(item.index) if hasattr(self.dataset, "scene") else None
                log_3d_video(self.recording3d, name, sample, sample.gt, {self.tracker_name: pred}, scene=scene)
            log.info("%s: %s%s (%.2f s tracking)", printable(name),
                     f"cached ({item.entry}), " if item.entry is not None else "", _scores_line(row), cost.seconds)
        except Exception as error:  # one broken video never loses the results of the others
            row.update(status=STATUS_ERROR, error=printable(f"{type(error).__name__}: {error}"))
            log.error("%s: %s", printable(name), row["error"])
        finally:
            item.sample = None  # the frames are no longer needed: memory stays bounded
        return row

    def process(self, index: int, name: str) -> dict:
        """The table row of video `index`: the three stages in turn."""
        return self.finish(self.track(self.load(index, name)))


class _AnnotationsChanged(Exception):
    """The decoded video differs from the annotations read without decoding it (frame count, queries)."""

    def __init__(self, sample):
        super().__init__("decoded video differs from its annotations")
        self.sample = sample


@dataclass
class _Video:
    """One video on its way through the stages, with the first error it met."""

    index: int
    name: str
    row: dict
    video: Annotations | None = None
    sample: object = None
    pred: Tracks | None = None
    cost: Cost | None = None
    entry: Path | None = None
    cycle: tuple | None = None
    pose: object = None  # a pose tracker's `last_output` for this video (pointbench.pose.PoseOutput)
    error: Exception | None = None


def run_videos(job: _Job, names: list[str], pipeline: bool, progress) -> list[dict]:
    """The rows of every video, in order. With `pipeline`, video k+1 loads in the background while
    video k is tracked, and video k-1 is finished (scored, saved, recorded) meanwhile: at most one
    video ahead and one behind. Rows, files and recordings are those of the sequential run. A run
    that decodes no video (every prediction cached, no recording) is sequential: its stages are
    short Python work that threads would only make contend for the interpreter."""
    if not pipeline or len(names) < 2 or not job.decodes_frames(names):
        rows = []
        for index, name in enumerate(names):
            rows.append(job.process(index, name))
            progress.update()
        return rows
    rows: list[dict | None] = [None] * len(names)
    with ThreadPoolExecutor(1, thread_name_prefix="pointbench-load") as loader, \
            ThreadPoolExecutor(1, thread_name_prefix="pointbench-finish") as finisher:
        upcoming = loader.submit(job.load, 0, names[0])
        behind = None
        for index in range(len(names)):
            item = upcoming.result()
            upcoming = loader.submit(job.load, index + 1, names[index + 1]) if index + 1 < len(names) else None
            job.track(item)
            if behind is not None:
                rows[behind[0]] = behind[1].result()
                progress.update()
            behind = (index, finisher.submit(job.finish, item))
        rows[behind[0]] = behind[1].result()
        progress.update()
    return rows


def set_thread_pools(threads) -> None:
    """Apply the `threads` config: OpenCV's and torch's thread counts (null: leave the default)."""
    if threads is None:
        return
    if threads.get("opencv") is not None:
        import cv2

        cv2.setNumThreads(int(threads.opencv))
    if threads.get("torch") is not None and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(threads.torch))


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
    if output.frame_format != "jpeg":
        require_pyav(f"output.frame_format={output.frame_format}")
    # The comparison's layout: a tab per video, at most `max_points` tracks drawn, per-frame scores.
    return (RunRecording(out_dir / "tracks.rrd", jpeg_quality=output.jpeg_quality, trail_length=output.trail_length,
                         frame_format=output.frame_format, layout="trackers",
                         max_points=output.get("max_points", 200)),
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
    set_thread_pools(cfg.get("threads"))  # after the build: a learned tracker has imported torch
    dataset_name, full = build(cfg.dataset, "dataset")
    identity = identity_of(cfg)
    for stale in remove_stale_temporaries(out_dir) if out_dir.is_dir() else ():
        log.info("removed %s, left by a run that was killed", stale)
    all_names = full.names
    if not all_names:
        raise NoVideosError(f"dataset '{dataset_name}' has no videos (dataset.path: "
                            f"{cfg.dataset.get('path', None)!r}); nothing to score")
    dataset = perturbed(sharded(full, shard, num_shards), cfg.dataset)
    names = dataset.names
    manifest = video_manifest(all_names)
    write_run_file(out_dir, identity, shard=shard, num_shards=num_shards, manifest=manifest, videos=names)
    cache = None
    if cfg.cache_dir is not None:
        # The plugin's own code, not that of the shard or perturbation views over it (a shard only picks
        # videos; a perturbation changes the frames, so its code counts too).
        views = [dataset] if isinstance(dataset, PerturbedView) else []
        inputs = provenance(tracker, identity["tracker"]["config"], full, identity["dataset"]["config"], views)
        cache = PredictionCache(Path(cfg.cache_dir), identity, inputs)
    rec, rec3d = _open_recordings(cfg.output, out_dir)
    job = None
    ok = False
    try:
        columns = {**identity_columns(identity), "license": license_text(cfg.tracker), "shard": shard,
                   "num_shards": num_shards,
                   "dataset_videos": len(all_names), "manifest_hash": manifest["hash"]}
        job = _Job(tracker_name, tracker, dataset_name, dataset, cache, bool(cfg.force), out_dir,
                   OmegaConf.to_container(cfg.output, resolve=True), rec,
                   cfg.scaling3d, cfg.cycle_metrics, rec3d, columns,
                   occluded_positions=bool(getattr(full, "positions_under_occlusion", False)),
                   keypoint_gt=bool(getattr(full, "keypoint_gt", False)))
        with logging_redirect_tqdm(), tqdm(total=len(names), desc=f"{tracker_name} on {dataset_name}", unit="video",
                                           disable=None) as progress:  # log lines print above the bars
            rows = run_videos(job, names, bool(cfg.get("pipeline", True)), progress)
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
        if job.breakdowns:
            write_csv(breakdown_table(job.breakdowns), out_dir / "breakdown.csv")
        if job.per_track:
            write_csv(pd.concat(job.per_track, ignore_index=True), out_dir / "metrics_per_track.csv")
        ok = True
    finally:
        _close_recording(rec, ok)
        _close_recording(rec3d, ok)
        _close_recording(job.pose_recording if job is not None else None, ok)
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
    for recording in ("tracks.rrd", "tracks3d.rrd", "pose.rrd"):
        if (out_dir / recording).exists():
            print(f"recording: {out_dir / recording}  (open with: rerun {out_dir / recording})")
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
