"""End to end: configs, the runner's outputs, failure rows, and the command line."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.datasets.synthetic import SyntheticDataset
from pointbench.io import load_predictions
from pointbench.metrics.tables import SUMMARY_COLUMNS, VIDEO_COLUMNS
from pointbench.runner import run
from pointbench.trackers.base import Tracker
from pointbench.trackers.lk import LucasKanadeTracker
from pointbench.types import Tracks

CONF = str(Path(pointbench.__file__).parent / "conf")
SMALL = ["dataset.num_videos=2", "dataset.num_frames=8", "dataset.height=64", "dataset.width=96",
         "dataset.num_tracks=20"]


def make_cfg(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


class WrongShapeTracker(Tracker):
    def track(self, frames, queries):
        n, t = len(queries) + 1, len(frames)
        return Tracks(xy=np.zeros((n, t, 2), np.float32), visible=np.ones((n, t), bool))


class NaNTracker(Tracker):
    def track(self, frames, queries):
        n, t = len(queries), len(frames)
        return Tracks(xy=np.full((n, t, 2), np.nan, np.float32), visible=np.ones((n, t), bool))


class FailOnSecondDataset(SyntheticDataset):
    def load(self, index):
        if index == 1:
            raise OSError("cannot read video 'synthetic_001'")
        return super().load(index)


def test_default_config_is_lk_on_synthetic():
    cfg = make_cfg()
    assert cfg.tracker.name == "lk" and cfg.dataset.name == "synthetic"


def test_run_writes_outputs_with_the_public_schema(tmp_path):
    result = run(make_cfg(*SMALL), tmp_path)
    per_video = pd.read_csv(tmp_path / "metrics_per_video.csv")
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(per_video.columns) == list(VIDEO_COLUMNS)
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert list(per_video["video"]) == ["synthetic_000", "synthetic_001"]
    assert (per_video["status"] == "ok").all() and (per_video["n_frames"] == 8).all()
    assert summary.loc[0, "videos"] == 2 and summary.loc[0, "videos_scored"] == 2
    assert summary.loc[0, "AJ"] == pytest.approx(per_video["AJ"].mean())
    assert ((per_video["AJ"] >= 0) & (per_video["AJ"] <= 1)).all()
    assert (per_video["seconds"] > 0).all() and (per_video["peak_mem_mb"] > 0).all()
    np.testing.assert_allclose(per_video["fps"], per_video["n_frames"] / per_video["seconds"])
    # Predictions round-trip: what was scored is what was saved.
    dataset = SyntheticDataset(num_videos=2, num_frames=8, height=64, width=96, num_tracks=20)
    sample = dataset.load(0)
    tracks, queries, extra = load_predictions(tmp_path / "predictions" / "synthetic_000.npz")
    np.testing.assert_array_equal(queries, sample.queries)
    np.testing.assert_array_equal(extra["gt_xy"], sample.gt.xy)
    np.testing.assert_array_equal(extra["gt_visible"], sample.gt.visible)
    assert tuple(extra["image_size"]) == (64, 96) and extra["query_mode"] == "first"
    expected = LucasKanadeTracker().track(sample.frames, sample.queries)
    np.testing.assert_array_equal(tracks.xy, expected.xy)
    np.testing.assert_array_equal(tracks.visible, expected.visible)
    assert (tmp_path / "tracks.rrd").stat().st_size > 0
    assert not list(tmp_path.rglob("*.tmp")), "no temporary file is left behind"
    assert result.failures.empty


def test_a_failing_video_leaves_the_others_intact(tmp_path):
    cfg = make_cfg(*SMALL, "dataset.num_videos=3", f"dataset._target_={__name__}.FailOnSecondDataset")
    result = run(cfg, tmp_path)
    rows = result.per_video.set_index("video")
    assert rows.loc["synthetic_001", "status"] == "error"
    assert "cannot read video 'synthetic_001'" in rows.loc["synthetic_001", "error"]
    assert (rows.loc[["synthetic_000", "synthetic_002"], "status"] == "ok").all()
    assert result.summary.loc[0, "videos"] == 3 and result.summary.loc[0, "videos_scored"] == 2
    assert result.summary.loc[0, "AJ"] == pytest.approx(rows.loc[["synthetic_000", "synthetic_002"], "AJ"].mean())


@pytest.mark.parametrize("tracker, expected", [
    ("WrongShapeTracker", r"tracker 'bad' returned xy of shape \((\d+), 8, 2\) for video 'synthetic_00\d'; "
                          r"expected \(N=(?!\1)\d+ queries, T=8 frames, 2\)"),
    ("NaNTracker", r"tracker 'bad' failed on video 'synthetic_00\d'.*'xy' must be finite wherever visible"),
])
def test_a_broken_tracker_is_named_with_what_was_expected(tmp_path, tracker, expected):
    cfg = make_cfg(*SMALL, "tracker=static", "tracker.name=bad", f"tracker._target_={__name__}.{tracker}",
                   "output.rerun=false")
    result = run(cfg, tmp_path)
    assert (result.per_video["status"] == "error").all()
    for message in result.per_video["error"]:
        assert re.search(expected, message), message


def test_lk_scores_far_above_static_on_the_default_set(tmp_path):
    summaries = {name: run(make_cfg(f"tracker={name}", "output.rerun=false", "output.save_predictions=false"),
                           tmp_path / name).summary.iloc[0] for name in ("static", "lk")}
    for metric in ("AJ", "delta_avg"):
        assert summaries["lk"][metric] > summaries["static"][metric] + 0.3, metric
    assert summaries["lk"]["OA"] > summaries["static"]["OA"]


def test_same_config_gives_identical_tables(tmp_path):
    a = run(make_cfg(*SMALL, "output.rerun=false"), tmp_path / "a").per_video
    b = run(make_cfg(*SMALL, "output.rerun=false"), tmp_path / "b").per_video
    cost = ["seconds", "fps", "peak_mem_mb"]
    pd.testing.assert_frame_equal(a.drop(columns=cost), b.drop(columns=cost))


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pointbench", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_command_line_prints_the_table_and_places_outputs(tmp_path):
    out = tmp_path / "run"
    proc = _cli("tracker=static", *SMALL, f"hydra.run.dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "AJ" in proc.stdout and "static" in proc.stdout
    for name in ("metrics_per_video.csv", "summary.csv", "tracks.rrd", "predictions/synthetic_001.npz"):
        assert (out / name).exists(), name


def test_unknown_tracker_lists_the_choices(tmp_path):
    proc = _cli("tracker=nope", cwd=tmp_path)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert "nope" in message and "lk" in message and "static" in message


def test_command_line_exits_nonzero_and_names_failed_videos(tmp_path):
    proc = _cli(*SMALL, "dataset.num_videos=3", f"dataset._target_={__name__}.FailOnSecondDataset",
                f"hydra.run.dir={tmp_path / 'run'}", "output.rerun=false", cwd=Path(__file__).parent)
    assert proc.returncode == 1
    assert "1 video(s) failed: synthetic_001" in proc.stderr + proc.stdout
    assert len(pd.read_csv(tmp_path / "run" / "metrics_per_video.csv")) == 3


class DriftAwayTracker(Tracker):
    """Every point drifts 0.1 px to the right per frame away from its query frame, in both directions."""

    def track(self, frames, queries):
        t = np.arange(len(frames))[None, :]
        xy = np.repeat(queries[:, None, 1:3], len(frames), axis=1).astype(np.float32)
        xy[..., 0] += 0.1 * np.abs(t - queries[:, :1])
        return Tracks(xy=xy, visible=np.ones(xy.shape[:2], bool))


def test_cycle_metrics_come_from_a_second_run_back_from_the_last_frame(tmp_path):
    cfg = make_cfg(*SMALL, "cycle_metrics=true", "output.rerun=false", "dataset.width=64", "tracker=static",
                   f"tracker._target_={__name__}.DriftAwayTracker")
    row = run(cfg, tmp_path).per_video.iloc[0]
    assert row["tracker_runs"] == 2 and row["cycle_n"] > 0
    # Queries at frame t0 go forward to frame 7 (+0.1 (7 - t0) px), come back to t0 (+0.1 (7 - t0) px more):
    # 0.2 (7 - t0) px at width 64, i.e. 0.8 (7 - t0) px at 256.
    queries = SyntheticDataset(num_videos=2, num_frames=8, height=64, width=64, num_tracks=20).load(0).queries
    sent = queries[queries[:, 0] < 7]
    errors = 0.8 * (7 - sent[:, 0])
    assert row["cycle_median_px"] == pytest.approx(np.median(errors), abs=1e-4)
    assert row["cycle_within_8"] == pytest.approx(np.mean(errors < 8))
    assert row["survival"] == 1.0
    assert row["AJ"] >= 0  # ground truth is still scored


def test_cycle_metrics_are_off_where_there_is_ground_truth_by_default(tmp_path):
    row = run(make_cfg(*SMALL, "tracker=static", "output.rerun=false"), tmp_path).per_video.iloc[0]
    assert row["tracker_runs"] == 1 and np.isnan(row["cycle_median_px"])
