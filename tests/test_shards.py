"""Shards: a deterministic split of every dataset, exact merges, missing shards and video sets, worker devices."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from pointbench.datasets.base import shard_indices
from pointbench.datasets.synthetic import SyntheticDataset
from pointbench.io import load_predictions
from pointbench.leaderboard import write_leaderboard
from pointbench.runner import sharded
from pointbench.runs import find_run_dirs
from cli_run import pointbench

SMALL = ["dataset.num_videos=10", "dataset.num_frames=8", "dataset.height=64", "dataset.width=64",
         "dataset.num_tracks=16", "output.rerun=false", "comparison.enabled=false", "report.enabled=false"]
METRICS = ["AJ", "delta_avg", "OA", "pts_within_1", "pts_within_4", "jaccard_8", "videos", "videos_scored"]


def test_every_video_is_in_exactly_one_shard():
    for n_videos, num_shards in ((10, 4), (3, 5), (1, 1), (7, 7)):
        shards = [shard_indices(n_videos, k, num_shards) for k in range(num_shards)]
        assert sorted(i for s in shards for i in s) == list(range(n_videos))
    # Longest first to the lightest shard (ties: shard 0): 90 -> s0, 50 -> s1, 40 -> s1 (90), 10 (video 1) -> s0
    # (tie 90/90), 10 (video 2) -> s1 (90 < 100), 10 (video 3) -> s0 (tie 100/100).
    counts = [90, 10, 10, 10, 50, 40]
    shards = [shard_indices(6, k, 2, counts) for k in range(2)]
    assert shards == [[0, 1, 3], [2, 4, 5]]
    assert [sum(counts[i] for i in s) for s in shards] == [110, 100]
    with pytest.raises(ValueError, match="dataset.shard must be an integer in"):
        shard_indices(4, 4, 4)
    with pytest.raises(ValueError, match="num_shards must be a positive integer"):
        shard_indices(4, 0, 0)


def test_a_shard_loads_its_own_videos():
    dataset = SyntheticDataset(num_videos=5, num_frames=4, height=32, width=32, num_tracks=8)
    shard = sharded(dataset, 1, 2)
    assert shard.names == ["synthetic_001", "synthetic_003"]
    np.testing.assert_array_equal(shard.load(1).frames, dataset.load(3).frames)
    np.testing.assert_array_equal(shard.load_annotations(0).queries, dataset.load_annotations(1).queries)


@pytest.mark.parametrize("launcher", [["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
                                      ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5",
                                       "hydra.launcher.submitit_folder=${hydra.sweep.dir}/.submitit"]],
                         ids=["joblib", "submitit_local"])
def test_four_shards_merge_into_the_unsharded_leaderboard(tmp_path, launcher):
    whole = tmp_path / "whole"
    pointbench("-m", "tracker=static,lk", *SMALL, f"hydra.sweep.dir={whole}", cwd=tmp_path, cache=tmp_path / "c1")
    sharded_dir = tmp_path / "sharded"
    pointbench("-m", "tracker=static,lk", *SMALL, "dataset.num_shards=4", "dataset.shard=range(4)", *launcher,
               f"hydra.sweep.dir={sharded_dir}", cwd=tmp_path, cache=tmp_path / "c2")
    sizes = sorted(len(pd.read_csv(d / "metrics_per_video.csv")) for d in find_run_dirs([sharded_dir]))
    assert sizes == [2, 2, 2, 2, 3, 3, 3, 3], "shards of different sizes"
    a = pd.read_csv(whole / "leaderboard.csv").set_index("variant")
    b = pd.read_csv(sharded_dir / "leaderboard.csv").set_index("variant")
    assert sorted(b.index) == ["lk", "static"], "the shards of one run are one row"
    pd.testing.assert_frame_equal(a[METRICS], b[METRICS], check_exact=False, rtol=1e-12)
    for column in ("AJ_ci_low", "AJ_ci_high"):  # intervals over all videos, not over shard means
        np.testing.assert_allclose(a[column], b[column])
    assert (b["missing_shards"].fillna("") == "").all() and (b["dataset_videos"] == 10).all()
    mean_of_shard_means = np.mean([pd.read_csv(d / "summary.csv")["AJ"].iloc[0]
                                   for d in find_run_dirs([sharded_dir]) if "_lk_" in d.name])
    assert mean_of_shard_means != pytest.approx(b.loc["lk", "AJ"], abs=1e-9)


def test_a_missing_shard_is_named_and_different_video_sets_are_flagged(tmp_path):
    sweep = tmp_path / "sweep"
    pointbench("-m", *SMALL, "dataset.num_shards=4", "dataset.shard=0,1,2", f"hydra.sweep.dir={sweep}",
               cwd=tmp_path, cache=tmp_path / "cache")
    board = pd.read_csv(sweep / "leaderboard.csv")
    assert board.loc[0, "missing_shards"] == "3/4"
    assert board.loc[0, "videos"] == 8 and board.loc[0, "missing_videos"] == 2
    assert "shard(s) 3/4 sent no results" in (sweep / "leaderboard.md").read_text()

    runs = tmp_path / "runs"
    for n in (10, 9):
        pointbench(*SMALL[:-2], f"dataset.num_videos={n}", f"hydra.run.dir={runs / str(n)}", cwd=tmp_path,
                   cache=tmp_path / "cache")
    _, table, _ = write_leaderboard(find_run_dirs([runs]), tmp_path / "board", n_resamples=50)
    assert list(table["video_set"]) == ["differs", "differs"]
    assert table["manifest_hash"].nunique() == 2


def test_each_worker_gets_its_own_gpu(tmp_path):
    sweep = tmp_path / "sweep"
    pointbench("-m", *SMALL, "tracker=static", "tracker.name=device", "tracker._target_=device_tracker.DeviceTracker",
               "+tracker.device=auto", "gpus=2", "dataset.num_shards=4", "dataset.shard=range(4)",
               "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
               cache=tmp_path / "cache")
    seen = {}
    for run_dir in find_run_dirs([sweep]):
        shard = int(pd.read_csv(run_dir / "metrics_per_video.csv")["shard"].iloc[0])
        for file in (run_dir / "predictions").glob("*.npz"):
            tracks, queries, _ = load_predictions(file)
            seen.setdefault(shard, set()).update(np.unique(np.round((tracks.xy - queries[:, None, 1:]) / 100)))
    assert seen == {0: {0.0}, 1: {1.0}, 2: {0.0}, 3: {1.0}}
    board = pd.read_csv(sweep / "leaderboard.csv")
    assert len(board) == 1, "the device is not part of the run identity: the shards merge"
