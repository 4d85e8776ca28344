"""Run identity: variant-aware leaderboards, cache provenance, injective file names, unique run dirs."""

from __future__ import annotations

import importlib
import json
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.cache import PredictionCache
from pointbench.datasets.synthetic import SyntheticDataset
from pointbench.identity import overrides_dirname, run_identity, run_id, unique_dir, variant_labels, video_key
from pointbench.io import encode_name, load_predictions, save_predictions
from pointbench.leaderboard import write_leaderboard
from pointbench.metrics import tapvid_metrics
from pointbench.profiling import Cost
from pointbench.runner import run
from pointbench.runs import find_run_dirs, merge_runs
from pointbench.trackers.lk import LucasKanadeTracker
from pointbench.types import Tracks
from cli_run import pointbench as pointbench_cli

CONF = str(Path(pointbench.__file__).parent / "conf")
TESTS = Path(__file__).parent
SMALL = ["dataset.num_videos=2", "dataset.num_frames=8", "dataset.height=64", "dataset.width=64",
         "dataset.num_tracks=16", "output.rerun=false"]


def make_cfg(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


# --- file names ------------------------------------------------------------------------------------------------

NAMES = ["vidéo", "vidèo", "video", "Video", "a.b", "a_b", "ab.", ".ab", "ab", "a b", "a/b", "a--b", "a-b",
         "x" * 250, "x" * 249 + "y", "bear\udc80", "bear\ud800", "bear", "", "~", "-"]


def test_video_keys_are_injective_bounded_and_keep_plain_names():
    keys = [video_key(name) for name in NAMES]
    assert len(set(keys)) == len(NAMES)
    assert len({k.lower() for k in keys}) == len(NAMES), "distinct on case-insensitive file systems too"
    assert max(map(len, keys)) <= 120
    assert all(k and not k.startswith(".") and "/" not in k for k in keys)
    assert [video_key(n) for n in ("bear", "a_b", "bmx-trees", "synthetic_000")] == \
        ["bear", "a_b", "bmx-trees", "synthetic_000"]
    assert video_key("vidéo").startswith("vid_o--")


def test_overrides_in_run_dir_names_are_sanitised_and_capped():
    assert overrides_dirname([]) == "" == overrides_dirname(["tracker=lk", "dataset=synthetic"])
    assert overrides_dirname(["dataset.seed=1", "tracker=lk", "tracker.win_size=21", "force=true"]) == \
        "_tracker.win_size=21,dataset.seed=1,force=true", "tracker parameters first"
    long = [f"dataset.param_{i}={i}" for i in range(20)]
    short = overrides_dirname(long)
    assert len(short) <= 121 and short != overrides_dirname([*long, "x=0"])
    assert "/" not in overrides_dirname(["dataset.path=/data/x y.pkl"])


def test_unique_dir_never_hands_out_a_taken_dir(tmp_path):
    first = unique_dir(str(tmp_path / "runs" / "12-00-00_lk"))
    second = unique_dir(str(tmp_path / "runs" / "12-00-00_lk"))
    assert first != second and Path(first).is_dir() and Path(second).is_dir()


# --- labels ------------------------------------------------------------------------------------------------------

def test_variant_labels_name_the_parameters_that_differ():
    def identity(tracker, win, seed, name="lk"):
        return run_identity(name, {"_target_": tracker, "win_size": win}, "synthetic", {"seed": seed, "n": 8})

    ids = {k: identity(*v) for k, v in {"a": ("lk.LK", 9, 0), "b": ("lk.LK", 21, 0), "c": ("lk.LK", 21, 1),
                                        "d": ("s.S", 0, 0, "static")}.items()}
    labels = variant_labels(ids)
    assert labels["a"] == ("lk win_size=9", "synthetic seed=0")
    assert labels["b"] == ("lk win_size=21", "synthetic seed=0")
    assert labels["c"] == ("lk win_size=21", "synthetic seed=1")
    assert labels["d"] == ("static", "synthetic seed=0")
    assert variant_labels({"a": ids["a"]}) == {"a": ("lk", "synthetic")}


# --- sweeps: one row per identity ----------------------------------------------------------------------------------

def test_a_parameter_sweep_keeps_every_variant(tmp_path):
    sweep = tmp_path / "sweep"
    pointbench_cli("-m", "tracker.win_size=9,21", *SMALL, f"hydra.sweep.dir={sweep}", cwd=tmp_path,
                   cache=tmp_path / "cache")
    board = pd.read_csv(sweep / "leaderboard.csv").set_index("variant")
    assert sorted(board.index) == ["lk win_size=21", "lk win_size=9"]
    assert board["run_id"].nunique() == 2
    for win in (9, 21):
        (job,) = sweep.glob(f"*_lk_synthetic_tracker.win_size={win},*")
        summary = pd.read_csv(job / "summary.csv")
        assert board.loc[f"lk win_size={win}", "AJ"] == pytest.approx(summary.loc[0, "AJ"])
        stored = json.loads((job / "run.json").read_text())
        assert stored["identity"]["tracker"]["config"]["win_size"] == win
        assert board.loc[f"lk win_size={win}", "run_id"] == stored["run_id"]
    pairs = pd.read_csv(sweep / "pairwise.csv")
    assert len(pairs) == 3 and set(pairs["variant_a"]) | set(pairs["variant_b"]) == set(board.index)
    per_video = pd.read_csv(sweep / "metrics_per_video.csv")
    assert len(per_video) == 4 and per_video["run_id"].nunique() == 2
    assert "| lk win_size=9 | synthetic |" in (sweep / "leaderboard.md").read_text()


def test_trackers_by_seeds_give_four_rows_and_every_video(tmp_path):
    sweep = tmp_path / "sweep"
    pointbench_cli("-m", "tracker=static,lk", "dataset.seed=0,1", "dataset.num_frames=8", "dataset.height=64",
                   "dataset.width=64", "dataset.num_tracks=16", "output.rerun=false", "comparison.enabled=false",
                   "report.enabled=false", f"hydra.sweep.dir={sweep}", cwd=tmp_path, cache=tmp_path / "cache")
    board = pd.read_csv(sweep / "leaderboard.csv")
    assert len(board) == 4
    assert set(zip(board["variant"], board["dataset_variant"])) == {
        (t, f"synthetic seed={s}") for t in ("static", "lk") for s in (0, 1)}
    per_video = pd.read_csv(sweep / "metrics_per_video.csv")
    assert len(per_video) == 32
    pairs = pd.read_csv(sweep / "pairwise.csv")
    assert set(pairs["dataset_variant"]) == {"synthetic seed=0", "synthetic seed=1"}, "pairs within one dataset"


def test_leaderboard_over_mixed_runs_keeps_every_identity_and_merges_reruns(tmp_path, caplog):
    root = tmp_path / "runs"
    for name, args in {"a": ["tracker.win_size=9"], "b": ["tracker.win_size=21"], "c": ["tracker=static"],
                       "rerun": ["tracker.win_size=9"]}.items():
        run(make_cfg(*SMALL, *args), root / name)
    with caplog.at_level(logging.INFO, logger="pointbench"):
        per_video, table, _ = write_leaderboard(find_run_dirs([root]), tmp_path / "board", n_resamples=50)
    assert sorted(table["variant"]) == ["lk win_size=21", "lk win_size=9", "static"]
    assert len(per_video) == 6, "the re-run of win_size=9 merged into one set of videos"
    assert "keeping the newest" in caplog.text
    a = pd.read_csv(root / "a" / "summary.csv")
    assert table.set_index("variant").loc["lk win_size=9", "AJ"] == pytest.approx(a.loc[0, "AJ"])


def test_rows_of_old_tables_without_identity_stay_apart(tmp_path):
    for name in ("one", "two"):
        run(make_cfg(*SMALL, "tracker=static"), tmp_path / name)
        table = pd.read_csv(tmp_path / name / "metrics_per_video.csv")
        table.drop(columns=["run_id", "video_key", "tracker_config", "dataset_config", "scoring_config",
                            "pointbench_version"]).to_csv(tmp_path / name / "metrics_per_video.csv", index=False)
        (tmp_path / name / "run.json").unlink()
    merged = merge_runs(find_run_dirs([tmp_path]))
    assert len(merged) == 4 and merged["run_id"].nunique() == 2, "no identity known: never merged"


# --- cache provenance ---------------------------------------------------------------------------------------------

def _export(sample, path: Path, frames=None) -> Path:
    np.savez(path, video=sample.frames if frames is None else frames, target_points=sample.gt.xy.astype(np.float64),
             occluded=~sample.gt.visible, query_points=np.zeros((3, 3)))
    return path


def _kubric_folder(root: Path, darker: bool = False) -> Path:
    dataset = SyntheticDataset(num_videos=2, num_frames=8, height=64, width=64, num_tracks=16)
    root.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(dataset.names):
        sample = dataset.load(i)
        _export(sample, root / f"{name}.npz", (sample.frames // 3 + 40).astype(np.uint8) if darker else None)
    return root


def _cached(caplog) -> int:
    return sum("cached (" in r.getMessage() for r in caplog.records)


def test_a_data_file_edited_in_place_is_tracked_again(tmp_path, caplog):
    folder = _kubric_folder(tmp_path / "clips")
    cfg = make_cfg("dataset=kubric", f"dataset.path={folder}", "output.rerun=false")
    first = run(cfg, tmp_path / "first").per_video
    with caplog.at_level(logging.INFO, logger="pointbench"):
        again = run(cfg, tmp_path / "again").per_video
    assert _cached(caplog) == 2
    pd.testing.assert_frame_equal(first, again)

    path = folder / "synthetic_001.npz"
    before = path.stat()
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["video"] = np.ascontiguousarray(arrays["video"][:, :, ::-1])  # mirrored frames, same gt and size
    np.savez(path, **arrays)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size and mtime: only the content differs
    assert path.stat().st_size == before.st_size
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pointbench"):
        edited = run(cfg, tmp_path / "edited").per_video
    assert _cached(caplog) == 0
    fresh = run(make_cfg("dataset=kubric", f"dataset.path={folder}", "output.rerun=false", "cache_dir=null"),
                tmp_path / "fresh").per_video
    assert edited.loc[1, "AJ"] == pytest.approx(fresh.loc[1, "AJ"]) and edited.loc[1, "AJ"] != first.loc[1, "AJ"]


def test_the_same_relative_path_from_another_directory_is_another_input(tmp_path, monkeypatch, caplog):
    _kubric_folder(tmp_path / "a" / "clips")
    _kubric_folder(tmp_path / "b" / "clips", darker=True)  # same names, frame counts and queries
    results = {}
    for where in ("a", "b"):
        monkeypatch.chdir(tmp_path / where)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="pointbench"):
            results[where] = run(make_cfg("dataset=kubric", "dataset.path=clips", "output.rerun=false"),
                                 tmp_path / f"out_{where}").per_video
        assert _cached(caplog) == 0
    direct = run(make_cfg("dataset=kubric", f"dataset.path={tmp_path / 'b' / 'clips'}", "output.rerun=false",
                          "cache_dir=null"), tmp_path / "direct").per_video
    np.testing.assert_allclose(results["b"]["AJ"], direct["AJ"])
    assert not np.allclose(results["a"]["AJ"], results["b"]["AJ"])


PLUGIN = '''
import numpy as np
from pointbench.types import Tracks

OFFSET = {offset!r}


class OffsetTracker:
    """Static queries shifted by OFFSET plus the number in the checkpoint file."""

    def __init__(self, checkpoint=None):
        self.extra = float(open(checkpoint).read()) if checkpoint else 0.0

    def track(self, frames, queries):
        xy = np.broadcast_to(queries[:, None, 1:], (len(queries), len(frames), 2)) + OFFSET + self.extra
        return Tracks(xy=xy.astype(np.float32), visible=np.ones((len(queries), len(frames)), bool))
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "offset_tracker.py").write_text(PLUGIN.format(offset=0.5))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield folder
    sys.modules.pop("offset_tracker", None)


def _offset_run(tmp_path, name, checkpoint, caplog):
    """The offset the run's saved predictions have from their queries, and how many videos were cached."""
    cfg = make_cfg(*SMALL, "tracker=static", "tracker.name=offset", "tracker._target_=offset_tracker.OffsetTracker",
                   f"+tracker.checkpoint={checkpoint}")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pointbench"):
        run(cfg, tmp_path / name)
    tracks, queries, _ = load_predictions(tmp_path / name / "predictions" / "synthetic_001.npz")
    offsets = np.unique(np.round(tracks.xy - queries[:, None, 1:], 3))
    assert len(offsets) == 1
    return float(offsets[0]), _cached(caplog)


def test_an_overwritten_checkpoint_and_changed_plugin_code_are_tracked_again(tmp_path, plugin, caplog):
    checkpoint = tmp_path / "weights.txt"
    checkpoint.write_text("1.0")
    assert _offset_run(tmp_path, "base", checkpoint, caplog) == (1.5, 0)
    assert _offset_run(tmp_path, "again", checkpoint, caplog) == (1.5, 2)

    stat = checkpoint.stat()
    checkpoint.write_text("3.0")  # new weights, same size and modification time
    os.utime(checkpoint, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _offset_run(tmp_path, "weights", checkpoint, caplog) == (3.5, 0)

    (plugin / "offset_tracker.py").write_text(PLUGIN.format(offset=12.25))
    importlib.reload(sys.modules["offset_tracker"])
    assert _offset_run(tmp_path, "code", checkpoint, caplog) == (15.25, 0)
    assert _offset_run(tmp_path, "code_again", checkpoint, caplog) == (15.25, 2)


DATASET_PLUGIN = '''
from pointbench.datasets.synthetic import SyntheticDataset

REVISION = {revision!r}


class PluginSynthetic(SyntheticDataset):
    """The synthetic set under another name: its source is the dataset plugin's code."""
'''


@pytest.mark.parametrize("view", [["dataset.num_shards=2"], ["dataset.perturb.kind=noise"]],
                         ids=["sharded", "perturbed"])
def test_a_changed_dataset_plugin_is_tracked_again_through_shard_and_perturbation_views(tmp_path, monkeypatch,
                                                                                       caplog, view):
    folder = tmp_path / "plugin"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    cfg = make_cfg(*SMALL, "dataset.num_videos=4", "dataset._target_=plugin_synthetic.PluginSynthetic", *view)
    try:
        counts = []
        for name, revision in (("first", 1), ("again", 1), ("edited", 2)):
            (folder / "plugin_synthetic.py").write_text(DATASET_PLUGIN.format(revision=revision))
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="pointbench"):
                run(cfg, tmp_path / name)
            counts.append(_cached(caplog))
    finally:
        sys.modules.pop("plugin_synthetic", None)
    assert counts == [0, 2 if "shards" in view[0] else 4, 0], "the plugin's own source is in the cache key"


def test_a_changed_base_class_of_a_plugin_is_tracked_again(tmp_path, monkeypatch, caplog):
    folder = tmp_path / "plugin"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    (folder / "child_synthetic.py").write_text("from base_synthetic import Base\n\n\nclass Child(Base):\n    pass\n")
    cfg = make_cfg(*SMALL, "dataset._target_=child_synthetic.Child")
    try:
        counts = []
        for name, revision in (("first", 1), ("again", 1), ("edited", 2)):
            (folder / "base_synthetic.py").write_text(DATASET_PLUGIN.replace("PluginSynthetic", "Base")
                                                      .format(revision=revision))
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="pointbench"):
                run(cfg, tmp_path / name)
            counts.append(_cached(caplog))
    finally:
        sys.modules.pop("child_synthetic", None), sys.modules.pop("base_synthetic", None)
    assert counts == [0, 2, 0], "the code of the classes a plugin derives from is in the cache key"


def test_cache_entries_for_other_inputs_or_unreadable_are_misses(tmp_path, caplog):
    identity = run_identity("lk", {}, "synthetic", {})
    cache = PredictionCache(tmp_path, identity, {"files": {}})
    queries = np.array([[0, 1, 2], [1, 3, 4]], np.float32)
    tracks = Tracks(xy=np.zeros((2, 5, 2), np.float32), visible=np.ones((2, 5), bool))
    cache.store("clip", tracks, queries, 5, Cost(1.0, 2.0, float("nan")))
    hit = cache.load("clip", queries, 5)
    assert hit is not None and hit[1].seconds == 1.0 and hit[1].peak_mem_mb == 2.0
    # An entry written with the cost as separate keys (as before) is served with its cost.
    save_predictions(cache.path("old"), tracks, queries, video_name=encode_name("old"), n_frames=np.int64(5),
                     seconds=3.0, peak_mem_mb=4.0, peak_gpu_mem_mb=float("nan"))
    assert cache.load("old", queries, 5)[1].seconds == 3.0
    save_predictions(cache.path("odd"), tracks, queries, video_name=encode_name("odd"), n_frames=np.int64(5),
                     cost=np.array(["a", "b", "c"]))
    with caplog.at_level(logging.WARNING, logger="pointbench"):
        assert cache.load("odd", queries, 5) is None, "a cost that is not numbers: unreadable, a miss"
    assert cache.load("clip", queries, 4) is None, "re-exported with fewer frames: a miss, not an error"
    assert cache.load("clip", queries + 1, 5) is None
    assert cache.load("clip", queries, 5, kind="cycle") is None
    other = PredictionCache(tmp_path, identity, {"files": {"x": 1}})
    assert other.dir != cache.dir
    cache.path("clip").write_bytes(b"PK\x03\x04 torn")
    with caplog.at_level(logging.WARNING, logger="pointbench"):
        assert cache.load("clip", queries, 5) is None
    assert str(cache.path("clip")) in caplog.text and "unreadable" in caplog.text


def test_an_unwritable_cache_costs_a_warning_not_the_scores(tmp_path, caplog):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="pointbench"):
        table = run(make_cfg(*SMALL, f"cache_dir={blocker}"), tmp_path / "out").per_video
    assert (table["status"] == "ok").all()
    assert "could not write cache entry" in caplog.text


# --- names that differ only slightly, or are not valid UTF-8 -----------------------------------------------------

class NamedSynthetic(SyntheticDataset):
    """Synthetic videos under names chosen by the test."""

    def __init__(self, video_names, **kwargs):
        kwargs.pop("num_videos", None)
        super().__init__(num_videos=len(video_names), **kwargs)
        self._video_names = list(video_names)

    @property
    def names(self):
        return self._video_names


@pytest.mark.parametrize("names", [["vidéo", "vidèo", "video"], ["a.b", "a_b", "ab."],
                                   ["x" * 250, "x" * 249 + "y"]], ids=["non-ascii", "dots", "long"])
def test_similar_names_keep_their_own_predictions_and_scores(tmp_path, names, monkeypatch, caplog):
    overrides = [*SMALL[1:-1], "output.rerun=true", "dataset._target_=test_identity.NamedSynthetic",
                 f"+dataset.video_names={json.dumps(names, ensure_ascii=False)}"]
    monkeypatch.syspath_prepend(str(TESTS))
    table = run(make_cfg(*overrides), tmp_path / "first").per_video
    dataset = NamedSynthetic(names, num_frames=8, height=64, width=64, num_tracks=16)
    assert list(table["video"]) == names and table["video_key"].nunique() == len(names)
    for i, name in enumerate(names):
        sample = dataset.load(i)
        expected = LucasKanadeTracker().track(sample.frames, sample.queries)
        saved, _, extra = load_predictions(tmp_path / "first" / "predictions" / f"{video_key(name)}.npz")
        np.testing.assert_array_equal(saved.xy, expected.xy)
        metrics = tapvid_metrics(sample.gt.xy, sample.gt.visible, expected.xy, expected.visible,
                                 sample.queries[:, 0], "first", sample.image_size)
        assert table.loc[i, "AJ"] == pytest.approx(metrics["AJ"])
    with caplog.at_level(logging.INFO, logger="pointbench"):
        again = run(make_cfg(*overrides), tmp_path / "again").per_video
    assert _cached(caplog) == len(names)
    pd.testing.assert_frame_equal(table.drop(columns=["seconds", "fps", "peak_mem_mb", "peak_gpu_mem_mb"]),
                                  again.drop(columns=["seconds", "fps", "peak_mem_mb", "peak_gpu_mem_mb"]))


def test_a_pickle_key_with_a_lone_surrogate_is_scored_and_tabled(tmp_path):
    dataset = SyntheticDataset(num_videos=2, num_frames=8, height=64, width=64, num_tracks=16)
    examples = {}
    for i, name in enumerate(("bear\udc80", "bear")):
        sample = dataset.load(i)
        examples[name] = {"video": sample.frames, "points": (sample.gt.xy / [64, 64]).astype(np.float32),
                          "occluded": ~sample.gt.visible}
    path = tmp_path / "tapvid_davis.pkl"
    path.write_bytes(pickle.dumps(examples, protocol=4))
    out = tmp_path / "out"
    table = run(make_cfg("dataset=tapvid_davis", f"dataset.path={path}", "tracker=static"), out).per_video
    assert (table["status"] == "ok").all(), table["error"].tolist()
    assert table["video_key"].nunique() == 2
    written = pd.read_csv(out / "metrics_per_video.csv")
    assert sorted(written["video"]) == ["bear", "bear\\udc80"], "written as a readable escape"
    assert (out / "predictions" / f"{video_key('bear' + chr(0xdc80))}.npz").exists()
    board = merge_runs([out])
    assert len(board) == 2


# --- run dirs -----------------------------------------------------------------------------------------------------

def test_default_run_dirs_name_the_overrides_and_concurrent_runs_get_their_own(tmp_path):
    env = dict(os.environ, POINTBENCH_CACHE=str(tmp_path / "cache"))
    args = [sys.executable, "-m", "pointbench", *SMALL[:-1], "tracker.win_size=9"]
    procs = [subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    dirs = sorted(p.parent for p in (tmp_path / "outputs").rglob("metrics_per_video.csv"))
    assert len(dirs) == 3
    for run_dir in dirs:
        assert run_dir.name.split("_", 1)[1].startswith("lk_synthetic_tracker.win_size=9,dataset.")
        assert len(pd.read_csv(run_dir / "metrics_per_video.csv")) == 2
        assert (run_dir / "tracks.rrd").stat().st_size > 0
        assert not list(run_dir.glob(".*.tmp")), "no temporary file left behind"
    ids = {json.loads((d / "run.json").read_text())["run_id"] for d in dirs}
    assert len(ids) == 1, "the same configuration: one identity"
    assert ids == {run_id(json.loads((dirs[0] / "run.json").read_text())["identity"])}


def test_datasets_that_differ_only_in_an_unset_key_never_share_a_label():
    # An older run's dataset config lacks a key the newer one sets: both would read "synthetic".
    ids = {"old": run_identity("lk", {}, "synthetic", {"seed": 0}),
           "new": run_identity("lk", {}, "synthetic", {"seed": 0, "num_layers": 6}),
           "static": run_identity("static", {}, "synthetic", {"seed": 0, "num_layers": 6})}
    labels = variant_labels(ids)
    assert labels["old"][1] != labels["new"][1] == labels["static"][1]
    table = pd.DataFrame([{"tracker": "lk" if k != "static" else "static", "dataset": "synthetic",
                           "variant": labels[k][0], "dataset_variant": labels[k][1], "run_id": run_id(i)}
                          for k, i in ids.items()])
    assert table.groupby("dataset_variant")["run_id"].nunique().to_dict() == {labels["old"][1]: 1,
                                                                             labels["new"][1]: 2}
