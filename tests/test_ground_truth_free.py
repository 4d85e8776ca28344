"""Videos without ground truth: status and note, the printed summary, leaderboard.md and the report."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from pointbench.datasets.synthetic import SyntheticDataset
from pointbench.runner import warn_blank_query_frames


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    dataset = SyntheticDataset(num_videos=2, num_frames=12, height=64, width=96, num_tracks=8)
    for i in range(2):
        writer = cv2.VideoWriter(str(root / f"clip{i}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (96, 64))
        for frame in dataset.load(i).frames:
            writer.write(frame[..., ::-1])
        writer.release()
    return root


def test_a_sweep_without_ground_truth_reports_its_ground_truth_free_scores(tmp_path, clips):
    pytest.importorskip("matplotlib")
    sweep = tmp_path / "sweep"
    env = dict(os.environ, POINTBENCH_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "pointbench", "-m", "tracker=static,lk", "dataset=video",
                           f"dataset.path={clips}/*.mp4", "dataset.queries.grid_size=4", f"hydra.sweep.dir={sweep}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    per_video = pd.read_csv(sweep / "metrics_per_video.csv")
    assert (per_video["status"] == "unscored").all() and per_video["error"].isna().all()
    assert (per_video["note"] == "no ground truth").all()
    board = pd.read_csv(sweep / "leaderboard.csv").set_index("variant")
    lk = per_video[per_video["tracker"] == "lk"]
    assert board.loc["lk", "cycle_within_4"] == pytest.approx(lk["cycle_within_4"].mean())
    assert board.loc["lk", "survival"] == pytest.approx(lk["survival"].mean())
    low, high = board.loc["lk", ["survival_ci_low", "survival_ci_high"]]
    assert low <= board.loc["lk", "survival"] <= high
    md = (sweep / "leaderboard.md").read_text()
    assert "Ground-truth-free scores" in md and "consistency, not accuracy" in md
    row = next(line for line in md.splitlines() if line.startswith("| lk | video | 2 |"))
    assert f"{100 * board.loc['lk', 'survival']:.1f}" in row and "nan" not in md
    page = (sweep / "report.html").read_text()
    assert "Ground-truth-free scores" in page and f"{100 * board.loc['lk', 'cycle_within_4']:.1f}" in page
    summary = proc.stdout
    assert "unscored" in summary and "survival" in summary and "cycle_within_4" in summary
    assert "cycle median" in proc.stdout + proc.stderr, "each video's log line shows its cycle score"


def test_a_blank_query_frame_is_warned_about(caplog):
    frames = np.random.default_rng(0).integers(0, 255, (4, 16, 16, 3), dtype=np.uint8)
    frames[0] = 0  # a fade-in from black
    frames[2] = 128
    frames[2, 0, 0] = 129  # nearly constant
    queries = np.array([[0, 2, 2], [0, 5, 5], [1, 3, 3], [2, 4, 4]], np.float32)
    with caplog.at_level(logging.WARNING, logger="pointbench"):
        assert warn_blank_query_frames(frames, queries, "fade") == [0, 2]
    assert "fade: query frame 0 is blank" in caplog.text and "its 2 queries" in caplog.text
