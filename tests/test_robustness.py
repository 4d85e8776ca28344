"""Breakdowns and perturbations through the runner, the sweep tables and the report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.datasets.synthetic import SyntheticDataset
from pointbench.metrics.breakdowns import BREAKDOWN_COLUMNS, breakdown_metrics
from pointbench.runner import run
from pointbench.trackers.lk import LucasKanadeTracker

CONF = str(Path(pointbench.__file__).parent / "conf")
SMALL = ["dataset.num_videos=3", "dataset.num_frames=12", "dataset.height=64", "dataset.width=64",
         "dataset.num_tracks=24", "output.rerun=false"]
METRICS = ["AJ", "delta_avg", "OA", "pts_within_1", "jaccard_4", "n_queries"]


def make_cfg(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def test_breakdown_csv_has_a_row_per_video_equal_to_the_direct_computation(tmp_path):
    run(make_cfg(*SMALL), tmp_path)
    table = pd.read_csv(tmp_path / "breakdown.csv")
    assert list(table["video"]) == ["synthetic_000", "synthetic_001", "synthetic_002"]
    dataset = SyntheticDataset(num_videos=3, num_frames=12, height=64, width=64, num_tracks=24)
    sample = dataset.load(1)
    pred = LucasKanadeTracker().track(sample.frames, sample.queries)
    expected = breakdown_metrics(sample.gt.xy, sample.gt.visible, pred.xy, pred.visible, sample.queries[:, 0],
                                 "first", sample.image_size, occluded_positions=dataset.positions_under_occlusion)
    got = table.iloc[1]
    for column in BREAKDOWN_COLUMNS:
        assert got[column] == pytest.approx(expected[column], nan_ok=True), column
    assert np.isfinite(got["occluded_pts_within_avg"]), "synthetic ground truth has positions under occlusion"


def test_per_track_table_is_an_option(tmp_path):
    run(make_cfg(*SMALL, "output.per_track=true"), tmp_path)
    per_track = pd.read_csv(tmp_path / "metrics_per_track.csv")
    per_video = pd.read_csv(tmp_path / "metrics_per_video.csv")
    assert len(per_track) == per_video["n_queries"].sum()


def test_a_photometric_perturbation_leaves_static_unchanged_but_is_another_run(tmp_path):
    clean = run(make_cfg(*SMALL, "tracker=static"), tmp_path / "clean").per_video
    noisy = run(make_cfg(*SMALL, "tracker=static", "dataset.perturb.kind=noise", "dataset.perturb.severity=5"),
                tmp_path / "noisy").per_video
    pd.testing.assert_frame_equal(clean[METRICS], noisy[METRICS])
    assert clean["run_id"].iloc[0] != noisy["run_id"].iloc[0], "the perturbation is part of the identity"
    lk_clean = run(make_cfg(*SMALL), tmp_path / "lk_clean").per_video
    lk_noisy = run(make_cfg(*SMALL, "dataset.perturb.kind=noise", "dataset.perturb.severity=5"),
                   tmp_path / "lk_noisy").per_video
    assert lk_noisy["AJ"].mean() < lk_clean["AJ"].mean(), "a cached clean prediction was not reused"


@pytest.mark.parametrize("kind", ["frame_drop", "reverse"])
def test_temporal_perturbations_keep_queries_ground_truth_and_frames_consistent(tmp_path, kind):
    # A still scene: the static tracker is exactly right, so any slip between frames, queries and
    # ground truth would show as a score below 1.
    table = run(make_cfg(*SMALL, "tracker=static", "dataset.motion_strength=0", f"dataset.perturb.kind={kind}",
                         "dataset.perturb.severity=2"), tmp_path).per_video
    assert (table["status"] == "ok").all()
    np.testing.assert_allclose(table[["AJ", "OA", "delta_avg"]], 1.0)
    if kind == "frame_drop":
        assert (table["n_frames"] == 4).all(), "12 frames, every 3rd kept"


def test_a_robustness_sweep_gets_breakdown_and_robustness_pages(tmp_path):
    pytest.importorskip("matplotlib")
    sweep = tmp_path / "sweep"
    env = dict(os.environ, POINTBENCH_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "pointbench", "-m", "tracker=static,lk",
                           "dataset.perturb.kind=null,noise", "dataset.perturb.severity=1,5", *SMALL,
                           "comparison.enabled=false", f"hydra.sweep.dir={sweep}"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    board = pd.read_csv(sweep / "leaderboard.csv")
    assert len(board) == 6, "static and lk: clean (severity does not matter), noise 1, noise 5"
    robustness = pd.read_csv(sweep / "robustness.csv")
    aj = robustness[robustness["metric"] == "AJ"].set_index(["variant", "severity"])
    assert aj.loc[("static", 5), "relative_drop"] == pytest.approx(0.0)
    assert aj.loc[("lk", 5), "value"] < aj.loc[("lk", 1), "value"] <= aj.loc[("lk", 1), "clean"] + 1e-9
    summary = pd.read_csv(sweep / "breakdown_summary.csv")
    assert len(summary) == 6 and {"redetect_jaccard_ci_low", "survival_50px"} <= set(summary.columns)
    page = (sweep / "report.html").read_text()
    assert "<h2>Breakdowns</h2>" in page and "<h2>Robustness</h2>" in page
    assert len(pd.read_csv(sweep / "breakdown.csv")) == 6 * 3
