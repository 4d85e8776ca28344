"""Kubric .npz export format: round trip, TAP-Vid queries, optional geometry, errors, and a scored run."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.datasets.bounded_io import NpzArrays
from pointbench.datasets.kubric import KubricDataset, npz_shape
from pointbench.datasets.synthetic import SyntheticDataset
from pointbench.runner import run

CONF = str(Path(pointbench.__file__).parent / "conf")
SMALL = dict(num_videos=2, num_frames=12, height=64, width=96, num_tracks=30)


@pytest.fixture(scope="module")
def synthetic():
    return SyntheticDataset(**SMALL)


def export(sample, path: Path, compressed: bool = True, **extra) -> Path:
    """What the Kubric export snippet writes: uint8 video, pixel target_points, occluded."""
    save = np.savez_compressed if compressed else np.savez
    save(path, video=sample.frames, target_points=sample.gt.xy.astype(np.float64),
         occluded=~sample.gt.visible, query_points=np.zeros((3, 3)), **extra)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory, synthetic):
    root = tmp_path_factory.mktemp("kubric")
    for i, name in enumerate(synthetic.names):
        export(synthetic.load(i), root / f"{name}.npz", compressed=bool(i))
    return root


def test_round_trip_frames_points_flags(folder, synthetic):
    ds = KubricDataset(str(folder))
    assert ds.names == synthetic.names and ds.query_mode == "first"
    for i in range(2):
        original, loaded = synthetic.load(i), ds.load(i)
        np.testing.assert_array_equal(loaded.frames, original.frames)
        np.testing.assert_allclose(loaded.gt.xy[loaded.gt.visible], original.gt.xy[original.gt.visible], atol=1e-4)
        np.testing.assert_array_equal(loaded.gt.visible, original.gt.visible)
        assert loaded.fps == 12.0 and loaded.depth is None


def test_queries_follow_the_tapvid_protocol(folder):
    first = KubricDataset(str(folder)).load(0)
    vis, xy = first.gt.visible, first.gt.xy
    t = vis.argmax(axis=1)  # first visible frame of each kept track
    assert vis.any(axis=1).all(), "tracks never visible are dropped"
    np.testing.assert_array_equal(first.queries[:, 0], t)
    np.testing.assert_array_equal(first.queries[:, 1:], xy[np.arange(len(t)), t])

    strided = KubricDataset(str(folder), query_mode="strided", query_stride=5).load(0)
    with np.load(folder / "synthetic_000.npz") as raw:
        visible = ~raw["occluded"]
    assert len(strided.queries) == visible[:, [0, 5, 10]].sum()
    assert set(strided.queries[:, 0].astype(int)) <= {0, 5, 10}
    rows = np.arange(len(strided.queries))
    assert strided.gt.visible[rows, strided.queries[:, 0].astype(int)].all()


def test_annotations_read_only_the_video_header(folder, synthetic, monkeypatch):
    ds = KubricDataset(str(folder))
    read = []
    real = NpzArrays.read
    monkeypatch.setattr(NpzArrays, "read", lambda self, key, index=None: read.append(key) or real(self, key, index))
    ds.load_annotations(0)
    assert "video" not in read and {"target_points", "occluded"} <= set(read)
    monkeypatch.undo()
    for i in range(2):
        annotations, sample = ds.load_annotations(i), ds.load(i)
        assert (annotations.n_frames, annotations.image_size) == (12, (64, 96))
        np.testing.assert_array_equal(annotations.queries, sample.queries)
        assert annotations.gt == sample.gt
    assert npz_shape(folder / "synthetic_001.npz", "video") == ((12, 64, 96, 3), np.dtype(np.uint8))
    assert npz_shape(folder / "synthetic_000.npz", "occluded") == ((len(synthetic.load(0).gt), 12), np.dtype(bool))


def test_optional_geometry_is_broadcast_per_frame(tmp_path, synthetic):
    sample = synthetic.load(0)
    k = np.array([[80.0, 0, 47.5], [0, 80, 31.5], [0, 0, 1]])
    w2c = np.eye(4)
    w2c[:3, 3] = [1, 2, 3]
    depth = np.full((12, 64, 96), 2.5)
    path = export(sample, tmp_path / "geo.npz", depth=depth, intrinsics=k, extrinsics=w2c)
    loaded = KubricDataset(str(path)).load(0)
    assert loaded.depth.dtype == np.float32 and loaded.depth.shape == (12, 64, 96) and (loaded.depth == 2.5).all()
    np.testing.assert_array_equal(loaded.intrinsics, np.broadcast_to(k, (12, 3, 3)))
    np.testing.assert_array_equal(loaded.extrinsics, np.broadcast_to(w2c[:3], (12, 3, 4)))
    # Re-scoring from annotations alone gets the same geometry (to lift 2D predictions to 3D).
    annotations = KubricDataset(str(path)).load_annotations(0)
    for key in ("depth", "intrinsics", "extrinsics"):
        np.testing.assert_array_equal(getattr(annotations, key), getattr(loaded, key))


@pytest.mark.parametrize("change, match", [
    (lambda a: a.pop("occluded"), r"missing key\(s\) \['occluded'\]"),
    (lambda a: a.update(occluded=a["occluded"][:, :5]),
     r"'occluded' must be a bool array of shape \(\d+, 12\); got bool array of shape \(\d+, 5\)"),
    (lambda a: a.update(target_points=a["target_points"][..., :1]), r"'target_points' must be a float array"),
    (lambda a: a.update(video=a["video"].astype(np.float32)), r"'video' must be uint8 RGB frames"),
    (lambda a: a.update(target_points=a["target_points"] / [96, 64]), r"normalised coordinates\?"),
    (lambda a: a.update(target_points=a["target_points"] + [200, 0]), r"visible points outside, e\.g\. \(x, y\)"),
    (lambda a: a.update(depth=np.zeros((12, 64, 95))), r"'depth' must be a float array of shape \(T, H, W\)"),
    (lambda a: a.update(intrinsics=np.eye(4)), r"'intrinsics' must be finite numbers of shape \(3, 3\)"),
])
def test_bad_files_are_named_with_the_key(tmp_path, synthetic, change, match):
    sample = synthetic.load(0)
    arrays = dict(video=sample.frames, target_points=sample.gt.xy, occluded=~sample.gt.visible)
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"bad\.npz: .*" + match):
        KubricDataset(str(path)).load(0)


def test_missing_paths_and_settings():
    with pytest.raises(FileNotFoundError, match="dataset.path is not set"):
        KubricDataset(None)
    with pytest.raises(FileNotFoundError, match="kubric dataset: path '/nonexistent/kubric' is neither a folder nor"):
        KubricDataset("/nonexistent/kubric")
    with pytest.raises(ValueError, match="query_mode must be one of"):
        KubricDataset("/nonexistent", query_mode="random")


def test_a_run_scores_the_export_exactly_like_the_original(tmp_path, folder):
    def summary(*overrides):
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose(config_name="config", overrides=["tracker=static", "output.rerun=false", *overrides])
        return run(cfg, tmp_path / str(len(overrides))).per_video

    kubric = summary("dataset=kubric", f"dataset.path={folder}")
    original = summary(*(f"dataset.{k}={v}" for k, v in SMALL.items()))
    assert (kubric["status"] == "ok").all()
    metrics = ["AJ", "delta_avg", "OA", "pts_within_4", "n_queries"]
    pd.testing.assert_frame_equal(kubric[metrics], original[metrics])
