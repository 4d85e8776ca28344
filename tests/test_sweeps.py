"""Sweeps: prediction cache and resume, leaderboard, launchers, failures across jobs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pointbench.leaderboard import main as leaderboard_main
from cli_run import pointbench

TESTS = Path(__file__).parent
SMALL = ["dataset.num_videos=2", "dataset.num_frames=8", "dataset.height=64", "dataset.width=64",
         "dataset.num_tracks=16", "output.rerun=false"]
COST = ["seconds", "fps", "peak_mem_mb", "peak_gpu_mem_mb"]


def cache_files(cache: Path) -> dict[str, int]:
    return {str(p.relative_to(cache)): p.stat().st_mtime_ns for p in cache.rglob("*.npz")}


def test_cache_is_reused_forced_and_keyed_by_config(tmp_path):
    cache = tmp_path / "cache"
    pointbench("tracker=lk", *SMALL, f"hydra.run.dir={tmp_path / 'a'}", cache=cache, cwd=tmp_path)
    first = cache_files(cache)
    assert len(first) == 2
    second = pointbench("tracker=lk", *SMALL, f"hydra.run.dir={tmp_path / 'b'}", cache=cache, cwd=tmp_path)
    assert second.output.count("cached (") == 2
    assert cache_files(cache) == first, "cached predictions are not rewritten"
    a, b = (pd.read_csv(tmp_path / d / "metrics_per_video.csv") for d in "ab")
    pd.testing.assert_frame_equal(a, b)  # cost columns too: they come from the cache
    forced = pointbench("tracker=lk", *SMALL, "force=true", f"hydra.run.dir={tmp_path / 'c'}", cache=cache,
                        cwd=tmp_path)
    assert "cached" not in forced.output
    assert all(cache_files(cache)[k] > v for k, v in first.items())
    pointbench("tracker=lk", "tracker.win_size=9", *SMALL, f"hydra.run.dir={tmp_path / 'd'}", cache=cache,
               cwd=tmp_path)
    assert len(cache_files(cache)) == 4, "another tracker config gets its own cache entries"


def test_killed_run_resumes_without_retracking(tmp_path):
    args = ["tracker=static", "tracker.name=slow", "tracker._target_=slow_tracker.SlowTracker", *SMALL,
            "dataset.num_videos=6"]
    cache = tmp_path / "cache"
    env = dict(os.environ, POINTBENCH_CACHE=str(cache), PYTHONPATH=str(TESTS))
    proc = subprocess.Popen([sys.executable, "-m", "pointbench", *args, f"hydra.run.dir={tmp_path / 'killed'}"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while len(cache_files(cache)) < 2 and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = cache_files(cache)
    assert 2 <= len(done) < 6, "killed mid-way"
    assert not (tmp_path / "killed" / "metrics_per_video.csv").exists()

    resumed = pointbench(*args, f"hydra.run.dir={tmp_path / 'resumed'}", cache=cache, cwd=tmp_path)
    assert resumed.output.count("cached (") == len(done)
    assert {k: v for k, v in cache_files(cache).items() if k in done} == done, "finished videos not re-tracked"
    fresh = pointbench(*args, f"hydra.run.dir={tmp_path / 'fresh'}", cache=tmp_path / "other", cwd=tmp_path)
    assert "cached" not in fresh.output
    resumed_table, fresh_table = (pd.read_csv(tmp_path / d / "metrics_per_video.csv") for d in ("resumed", "fresh"))
    pd.testing.assert_frame_equal(resumed_table.drop(columns=COST), fresh_table.drop(columns=COST))


@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
                                      # A folder without %j: submitit's local controller opens its log
                                      # there before the parent creates a per-job folder (a race).
                                      ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5",
                                       "hydra.launcher.submitit_folder=${hydra.sweep.dir}/.submitit"]],
                         ids=["basic", "joblib", "submitit_local"])
def test_two_tracker_sweep_writes_the_leaderboard(tmp_path, launcher):
    sweep = tmp_path / "sweep"
    proc = pointbench("-m", "tracker=static,lk", *SMALL, *launcher, f"hydra.sweep.dir={sweep}",
                      cache=tmp_path / "cache", cwd=tmp_path)
    board = pd.read_csv(sweep / "leaderboard.csv")
    assert sorted(board["tracker"]) == ["lk", "static"]
    assert list(board["tracker"]) == ["lk", "static"], "ranked by AJ"
    assert (board["videos"] == 2).all() and (board["videos_scored"] == 2).all()
    per_video = pd.read_csv(sweep / "metrics_per_video.csv")
    assert len(per_video) == 4
    for tracker in ("static", "lk"):
        job = pd.read_csv(next(sweep.glob(f"*_{tracker}_synthetic*")) / "metrics_per_video.csv")
        assert board.set_index("tracker").loc[tracker, "AJ"] == pytest.approx(job["AJ"].mean())
        assert board.set_index("tracker").loc[tracker, "seconds"] == pytest.approx(job["seconds"].sum())
    assert "| lk | synthetic | 2 |" in (sweep / "leaderboard.md").read_text()
    assert "leaderboard:" in proc.stdout
    assert (sweep / "comparison.rrd").stat().st_size > 0


def test_leaderboard_command_merges_existing_run_dirs(tmp_path, capsys):
    for tracker in ("static", "lk"):
        pointbench(f"tracker={tracker}", *SMALL, f"hydra.run.dir={tmp_path / 'runs' / tracker}",
                   cache=tmp_path / "cache", cwd=tmp_path)
    leaderboard_main([str(tmp_path / "runs" / "static"), str(tmp_path / "runs" / "lk"), "--out", str(tmp_path / "lb")])
    board = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    assert list(board["tracker"]) == ["lk", "static"]
    assert "leaderboard:" in capsys.readouterr().out
    # A merged table is not taken for a run dir the next time.
    leaderboard_main([str(tmp_path), "--out", str(tmp_path / "lb")])
    assert len(pd.read_csv(tmp_path / "lb" / "metrics_per_video.csv")) == 4


def test_failing_video_in_a_sweep_exits_nonzero_and_keeps_the_rest(tmp_path):
    sweep = tmp_path / "sweep"
    proc = pointbench("-m", "tracker=static,lk", *SMALL, "dataset.num_videos=3",
                      "dataset._target_=test_runner.FailOnSecondDataset", f"hydra.sweep.dir={sweep}",
                      cache=tmp_path / "cache", cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "static/synthetic/synthetic_001" in proc.output and "lk/synthetic/synthetic_001" in proc.output
    board = pd.read_csv(sweep / "leaderboard.csv")
    assert (board["videos"] == 3).all() and (board["videos_scored"] == 2).all()
