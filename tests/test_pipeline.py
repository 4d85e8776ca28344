"""The pipelined runner gives the sequential run's tables, predictions and recordings, failures per video."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.datasets.synthetic import SyntheticDataset
from pointbench.io import load_predictions
from pointbench.runner import run
from rrd_reading import read_rrd

CONF = str(Path(pointbench.__file__).parent / "conf")
TIMING = ["seconds", "fps", "peak_mem_mb", "peak_gpu_mem_mb", "cycle_seconds"]
SMALL = ["dataset.num_videos=4", "dataset.num_frames=8", "dataset.height=64", "dataset.width=64",
         "dataset.num_tracks=16"]


def make_cfg(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def _kinetics(root: Path) -> Path:
    """Three videos in two Kinetics-format shards (JPEG frames, normalised points)."""
    dataset = SyntheticDataset(num_videos=3, num_frames=8, height=48, width=64, num_tracks=12)
    examples = []
    for i in range(3):
        sample = dataset.load(i)
        frames = np.empty(len(sample.frames), object)
        frames[:] = [cv2.imencode(".jpg", f[..., ::-1])[1].tobytes() for f in sample.frames]
        examples.append({"video": frames, "points": (sample.gt.xy / [64, 48]).astype(np.float64),
                         "occluded": ~sample.gt.visible})
    folder = root / "kinetics"
    folder.mkdir()
    (folder / "0000_of_0010.pkl").write_bytes(pickle.dumps(examples[:2], protocol=4))
    (folder / "0001_of_0010.pkl").write_bytes(pickle.dumps(examples[2:], protocol=4))
    return folder


def _video(root: Path) -> Path:
    dataset = SyntheticDataset(num_videos=2, num_frames=10, height=48, width=64, num_tracks=8)
    folder = root / "clips"
    folder.mkdir()
    for i in range(2):
        writer = cv2.VideoWriter(str(folder / f"clip{i}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
        for frame in dataset.load(i).frames:
            writer.write(frame[..., ::-1])
        writer.release()
    return folder


@pytest.mark.parametrize("source", ["synthetic", "kinetics", "video"])
def test_pipelined_and_sequential_runs_agree(tmp_path, source):
    if source == "synthetic":
        overrides = SMALL
    elif source == "kinetics":
        overrides = ["dataset=tapvid_kinetics", f"dataset.path={_kinetics(tmp_path)}"]
    else:
        overrides = ["dataset=video", f"dataset.path={_video(tmp_path)}/*.mp4", "dataset.queries.grid_size=4"]
    tables = {}
    for pipeline in (False, True):
        out = tmp_path / f"pipeline_{pipeline}"
        run(make_cfg(*overrides, f"pipeline={pipeline}", "cache_dir=null"), out)
        tables[pipeline] = pd.read_csv(out / "metrics_per_video.csv").drop(columns=TIMING)
    pd.testing.assert_frame_equal(tables[False], tables[True])
    files = sorted(p.name for p in (tmp_path / "pipeline_False" / "predictions").glob("*.npz"))
    assert files and files == sorted(p.name for p in (tmp_path / "pipeline_True" / "predictions").glob("*.npz"))
    for name in files:
        a, b = (load_predictions(tmp_path / f"pipeline_{p}" / "predictions" / name) for p in (False, True))
        np.testing.assert_array_equal(a[0].xy, b[0].xy)
        np.testing.assert_array_equal(a[0].visible, b[0].visible)
        np.testing.assert_array_equal(a[1], b[1])
    (temporal_a, static_a), (temporal_b, static_b) = (read_rrd(tmp_path / f"pipeline_{p}" / "tracks.rrd")
                                                      for p in (False, True))
    assert temporal_a == temporal_b and len(temporal_a) > 0
    static_a.pop("/__properties"), static_b.pop("/__properties")  # the recording's start time
    assert static_a == static_b


def _pipeline_threads(monkeypatch) -> list[str]:
    """The thread-name prefixes of the pools the runner starts (its pipeline's), recorded."""
    import pointbench.runner as runner

    started = []

    class Recording(runner.ThreadPoolExecutor):
        def __init__(self, *args, thread_name_prefix="", **kwargs):
            started.append(thread_name_prefix)
            super().__init__(*args, thread_name_prefix=thread_name_prefix, **kwargs)

    monkeypatch.setattr(runner, "ThreadPoolExecutor", Recording)
    return started


@pytest.mark.parametrize("cycle", [False, True])
def test_a_run_served_wholly_from_the_cache_runs_its_stages_in_turn(tmp_path, monkeypatch, cycle):
    """Nothing to decode: no pipeline threads, and the tables of the run that tracked. One entry
    missing (its predictions, or its cycle run's where the dataset's entries have them): pipelined."""
    overrides = [*SMALL, "output.rerun=false", f"cache_dir={tmp_path / 'cache'}", f"cycle_metrics={cycle}"]
    started = _pipeline_threads(monkeypatch)
    first = run(make_cfg(*overrides), tmp_path / "first").per_video
    assert "pointbench-load" in started
    started.clear()
    again = run(make_cfg(*overrides), tmp_path / "again").per_video
    assert started == [], "every video cached: the stages run one after the other"
    pd.testing.assert_frame_equal(first.drop(columns=TIMING), again.drop(columns=TIMING))
    cache = next((tmp_path / "cache").iterdir())
    entry = next((cache / "cycle").glob("*.npz")) if cycle else next(cache.glob("*.npz"))
    entry.unlink()
    third = run(make_cfg(*overrides), tmp_path / "third").per_video
    assert "pointbench-load" in started, "a video to track: pipelined"
    pd.testing.assert_frame_equal(first.drop(columns=TIMING), third.drop(columns=TIMING))
    started.clear()
    run(make_cfg(*overrides, "output.rerun=true"), tmp_path / "recorded")
    assert "pointbench-load" in started, "a recording decodes every video: pipelined"


class FailsToLoad(SyntheticDataset):
    def load(self, index):
        if index == 2:
            raise OSError("disk error on video 2")
        return super().load(index)

    def load_annotations(self, index):
        if index == 2:
            raise OSError("disk error on video 2")
        return super().load_annotations(index)


def test_a_video_that_fails_while_prefetched_gets_its_own_error_row(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    table = run(make_cfg(*SMALL, "dataset._target_=test_pipeline.FailsToLoad", "pipeline=true"), tmp_path).per_video
    assert list(table["status"]) == ["ok", "ok", "error", "ok"]
    assert "disk error on video 2" in table.loc[2, "error"]
    assert list(table["video"]) == [f"synthetic_{i:03d}" for i in range(4)], "rows in the videos' order"


def test_a_video_whose_header_promises_more_frames_is_scored_on_those_that_decode(tmp_path, caplog):
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(tmp_path / "full.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(20):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = (tmp_path / "full.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])  # the header still says 20 frames
    cfg = ["dataset=video", f"dataset.path={tmp_path / 'cut.avi'}", "dataset.queries.grid_size=4"]
    first = run(make_cfg(*cfg), tmp_path / "first").per_video
    assert first.loc[0, "status"] == "unscored" and 0 < first.loc[0, "n_frames"] < 20
    assert "only" in caplog.text and "decode" in caplog.text
    again = run(make_cfg(*cfg), tmp_path / "again").per_video  # annotations from the header, frames decoded
    assert again.loc[0, "status"] == "unscored" and again.loc[0, "n_frames"] == first.loc[0, "n_frames"]
    pd.testing.assert_frame_equal(first.drop(columns=TIMING), again.drop(columns=TIMING))


def test_temporary_files_of_a_killed_run_are_removed_by_the_next_run_in_that_dir(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has exited
    leftover = tmp_path / f".tracks.rrd.{pid}-abc123.tmp"
    mine = tmp_path / f".tracks.rrd.{__import__('os').getpid()}-keep.tmp"
    tmp_path.mkdir(exist_ok=True)
    leftover.write_bytes(b"half a recording")
    mine.write_bytes(b"a live process's file")
    run(make_cfg(*SMALL, "dataset.num_videos=1"), tmp_path)
    assert not leftover.exists() and mine.exists()
    assert (tmp_path / "tracks.rrd").exists()
