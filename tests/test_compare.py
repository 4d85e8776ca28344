"""Comparison recording: built from run dirs, read back from the .rrd file."""

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from pointbench.compare import build_comparison
from pointbench.compare import main as compare_main
from pointbench.datasets.synthetic import SyntheticDataset
from pointbench.io import load_predictions
from pointbench.metrics import tapvid_metrics_per_frame
from pointbench.runner import run
from pointbench.types import Skeleton, Tracks
from pointbench.viz import RunRecording
from pointbench.viz.rerun_log import subsample
from rrd_reading import blueprint_rows, read_blueprint_views, read_rrd
from test_runner import CONF

SMALL = dict(num_videos=2, num_frames=8, height=64, width=96, num_tracks=20)
OVERRIDES = [f"dataset.{k}={v}" for k, v in SMALL.items()] + ["output.rerun=false"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Two runs (static, lk) on a small synthetic set, with .hydra/config.yaml like Hydra writes it."""
    root = tmp_path_factory.mktemp("sweep")
    for i, tracker in enumerate(("static", "lk")):
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose(config_name="config", overrides=[f"tracker={tracker}", "cache_dir=null", *OVERRIDES])
        run_dir = root / f"{i}_{tracker}"
        run(cfg, run_dir)
        (run_dir / ".hydra").mkdir()
        (run_dir / ".hydra" / "config.yaml").write_text(__import__("omegaconf").OmegaConf.to_yaml(cfg))
    return root


@pytest.fixture(scope="module")
def comparison(sweep):
    path = build_comparison([sweep / "0_static", sweep / "1_lk"], sweep / "comparison.rrd", max_points=12,
                            show_occluded=True, error_lines=True)
    return path, *read_rrd(path)


def test_one_tab_per_video_with_one_view_per_tracker(comparison):
    path = comparison[0]
    views = read_blueprint_views(path)
    for video in ("synthetic_000", "synthetic_001"):
        assert sorted(name for name, kind, origin in views if origin == f"videos/{video}" and kind == "2D") \
            == ["lk", "static"]
        assert [kind for name, kind, origin in views if origin == f"videos/{video}/scores"] == ["TimeSeries"]
    tabs = [row for row in blueprint_rows(path) if row.get("ContainerBlueprint:container_kind") == [1]]
    assert len(tabs) == 1 and len(tabs[0]["ContainerBlueprint:contents"]) == 2


def test_entity_paths_and_frames_logged_once(comparison):
    _, temporal, _ = comparison
    for video in ("synthetic_000", "synthetic_001"):
        root = f"/videos/{video}"
        for tracker in ("static", "lk"):
            for part in ("points", "trails", "occluded", "errors"):
                assert f"{root}/{tracker}/{part}" in temporal, (tracker, part)
            assert f"{root}/scores/within_4px/{tracker}" in temporal
        assert len(temporal[f"{root}/frames"]) == 8  # once, not once per tracker
    assert not any("frames" in path and "static" in path for path in temporal)


def test_positions_equal_the_predictions_and_occluded_points_are_not_drawn(comparison, sweep):
    _, temporal, _ = comparison
    pred, _, _ = load_predictions(sweep / "1_lk" / "predictions" / "synthetic_000.npz")
    keep = subsample(len(pred), 12)
    pred = pred[keep]
    for frame in range(8):
        row = temporal["/videos/synthetic_000/lk/points"].get(frame, {})
        drawn = np.array(row.get("Points2D:positions", []), np.float32).reshape(-1, 2)
        np.testing.assert_array_equal(drawn, pred.xy[pred.visible[:, frame], frame])
        assert row.get("Points2D:class_ids", []) == list(keep[pred.visible[:, frame]])
        occluded = temporal["/videos/synthetic_000/lk/occluded"].get(frame, {})
        hidden = np.array(occluded.get("Points2D:positions", []), np.float32).reshape(-1, 2)
        np.testing.assert_array_equal(hidden, pred.xy[~pred.visible[:, frame], frame])


def test_per_frame_scores_are_the_metric_per_frame(comparison, sweep):
    _, temporal, _ = comparison
    sample = SyntheticDataset(**SMALL).load(1)
    pred, _, _ = load_predictions(sweep / "1_lk" / "predictions" / "synthetic_001.npz")
    expected = tapvid_metrics_per_frame(sample.gt.xy, sample.gt.visible, pred.xy, pred.visible,
                                        sample.queries[:, 0], "first", sample.image_size)["pts_within_4"]
    series = temporal["/videos/synthetic_001/scores/within_4px/lk"]
    frames = np.flatnonzero(np.isfinite(expected))
    assert sorted(series) == list(frames)
    np.testing.assert_allclose([series[f]["Scalars:scalars"][0] for f in frames], expected[frames])


def test_command_writes_into_the_sweep_dir(sweep):
    compare_main([str(sweep), "--max-points", "0"])
    temporal, _ = read_rrd(sweep / "comparison.rrd")
    pred, _, _ = load_predictions(sweep / "0_static" / "predictions" / "synthetic_001.npz")
    counts = [len(temporal["/videos/synthetic_001/static/points"].get(f, {}).get("Points2D:positions", []))
              for f in range(8)]
    assert counts == list(pred.visible.sum(0)), "all tracks drawn with --max-points 0"


def test_skeleton_is_labelled_and_connected(tmp_path):
    names, connections = ["head", "neck", "hip"], [(0, 1), (1, 2)]
    xy = np.array([[[10, 5]] * 3, [[10, 15]] * 3, [[10, 30]] * 3], np.float32)
    visible = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], bool)
    skeleton = Skeleton(names, connections, keypoint_ids=np.array([0, 1, 2]))
    path = tmp_path / "pose.rrd"
    with RunRecording(path) as rec:
        rec.log_video("pose", np.zeros((3, 40, 20, 3), np.uint8), Tracks(xy, visible), {"lk": Tracks(xy, visible)},
                      skeleton=skeleton)
    temporal, static = read_rrd(path)
    (entry,) = static["/videos/pose"]["AnnotationContext:context"][0]
    description = entry["class_description"]
    assert [k["label"] for k in description["keypoint_annotations"]] == names
    assert [(c["keypoint0"], c["keypoint1"]) for c in description["keypoint_connections"]] == connections
    assert temporal["/videos/pose/lk/points"][1]["Points2D:keypoint_ids"] == [0, 2]  # the neck is occluded
    assert temporal["/videos/pose/lk/points"][0]["Points2D:class_ids"] == [0, 0, 0]
    with pytest.raises(ValueError, match="keypoint_ids"):
        Skeleton(names, connections, keypoint_ids=np.array([0, 3]))
