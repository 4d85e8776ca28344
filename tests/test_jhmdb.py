"""JHMDB: a small clip written in the release format round-trips; its skeleton reaches the recordings."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.building import build, sharded
from pointbench.datasets.jhmdb import JHMDB_JOINTS, JhmdbDataset, read_joint_positions
from pointbench.identity import video_key
from pointbench.metrics.pck import pck_scores
from pointbench.types import Tracks
from pointbench.viz import RunRecording
from pointbench.viz.rerun_pose import PoseRecording
from rrd_reading import read_blueprint_views, read_rrd

scipy_io = pytest.importorskip("scipy.io")

H, W, T = 24, 32, 4
COLORS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255]], np.uint8)


def pos_img(n_frames: int) -> np.ndarray:
    """(2, 15, T) MATLAB 1-based positions: joint j at frame t at x = 2 + 1.5 j + t, y = 3 + j + 0.5 t (+0.5:
    the raster position is pos - 0.5). Joint 14 starts left of the image; joint 13 leaves it below at frame 2."""
    j, t = np.meshgrid(np.arange(15), np.arange(n_frames), indexing="ij")
    pos = np.stack([2 + 1.5 * j + t, 3 + j + 0.5 * t], axis=0) + 0.5
    pos[0, 14] = -3.0 + t[14]
    pos[1, 13, 2:] = H + 5.0
    return pos


def write_clip(root: Path, action: str, video: str, n_frames: int = T, n_joint_frames: int | None = None,
               mat: dict | None = None) -> None:
    frames = root / "Rename_Images" / action / video
    frames.mkdir(parents=True)
    for t in range(n_frames):  # a solid colour per frame (catches RGB/BGR swaps and the frame order)
        image = np.broadcast_to(COLORS[t % len(COLORS)], (H, W, 3))
        cv2.imwrite(str(frames / f"{t + 1:05d}.png"), np.ascontiguousarray(image[..., ::-1]))
    joints = root / "joint_positions" / action / video
    joints.mkdir(parents=True)
    content = mat if mat is not None else {"pos_img": pos_img(n_joint_frames or n_frames),
                                           "pos_world": np.zeros((2, 15, n_frames)), "scale": np.ones(n_frames)}
    scipy_io.savemat(str(joints / "joint_positions.mat"), content)


@pytest.fixture
def jhmdb(tmp_path):
    root = tmp_path / "jhmdb"
    write_clip(root, "walk", "clip_a")
    write_clip(root, "walk", "clip_b")
    write_clip(root, "wave", "short_gt", n_frames=5, n_joint_frames=3)
    (root / "splits").mkdir()
    (root / "splits" / "walk_test_split1.txt").write_text("clip_a.avi 2\nclip_b.avi 1\n")
    (root / "splits" / "wave_test_split1.txt").write_text("short_gt.avi 2 \n\n")
    (root / "splits" / "walk_test_split2.txt").write_text("clip_a.avi 1\nclip_b.avi 2\n")
    return root


def test_split_files_choose_the_videos(jhmdb):
    assert JhmdbDataset(jhmdb).names == ["walk/clip_a", "wave/short_gt"]
    assert JhmdbDataset(jhmdb, subset="train").names == ["walk/clip_b"]
    assert JhmdbDataset(jhmdb, split=2).names == ["walk/clip_b"]
    assert JhmdbDataset(jhmdb, subset="all").names == ["walk/clip_a", "walk/clip_b", "wave/short_gt"]
    assert JhmdbDataset(jhmdb, subset="all", classes=["wave"]).names == ["wave/short_gt"]
    assert JhmdbDataset(jhmdb, subset="all", limit=1).names == ["walk/clip_a"]
    with pytest.raises(FileNotFoundError, match="_test_split3.txt"):
        JhmdbDataset(jhmdb, split=3)


def test_clip_round_trips(jhmdb):
    sample = JhmdbDataset(jhmdb).load(0)
    assert sample.name == "walk/clip_a" and sample.frames.shape == (T, H, W, 3) and sample.fps == 30.0
    np.testing.assert_array_equal(sample.frames[:, 0, 0], COLORS[:T])  # RGB, in frame order
    raster = pos_img(T).transpose(1, 2, 0) - 0.5  # (15, T, 2)
    # Joint 14 is outside the image at frame 0: not a query; the other 14 are, at frame 0.
    np.testing.assert_array_equal(sample.skeleton.keypoint_ids, np.arange(14))
    assert sample.skeleton.names == list(JHMDB_JOINTS) and (0, 2) in sample.skeleton.connections
    np.testing.assert_allclose(sample.queries, np.column_stack([np.zeros(14), raster[:14, 0]]))
    np.testing.assert_allclose(sample.gt.xy, raster[:14])
    # Visible = inside the image: joint 13 leaves it at frame 2, but keeps its position (PCK scores it).
    assert sample.gt.visible[:13].all() and sample.gt.visible[13].tolist() == [True, True, False, False]
    annotations = JhmdbDataset(jhmdb).load_annotations(0)
    np.testing.assert_array_equal(annotations.queries, sample.queries)
    assert annotations.gt == sample.gt and annotations.image_size == (H, W) and annotations.n_frames == T


def test_annotations_do_not_decode_frames(jhmdb, monkeypatch):
    monkeypatch.setattr(cv2, "imread", lambda *a, **k: pytest.fail("decoded a frame"))
    assert JhmdbDataset(jhmdb).load_annotations(1).n_frames == 3


def test_short_annotation_cuts_the_clip_and_a_long_one_is_an_error(jhmdb, tmp_path):
    sample = JhmdbDataset(jhmdb).load(1)  # 5 frames, 3 annotated
    assert sample.n_frames == 3 and sample.gt.n_frames == 3
    write_clip(tmp_path / "long", "run", "too_long", n_frames=2, n_joint_frames=3)
    with pytest.raises(ValueError, match=r"joint_positions.mat: 'pos_img' has 3 frames; video 'run/too_long' has 2"):
        JhmdbDataset(tmp_path / "long", subset="all").load(0)


@pytest.mark.parametrize("mat, message", [
    ({"pos_world": np.zeros((2, 15, 3))}, "'pos_img' must be present"),
    ({"pos_img": np.zeros((2, 14, 3))}, r"'pos_img' must be a numeric array of shape \(2, 15, T\); got float64 \(2, 14, 3\)"),
    ({"pos_img": np.full((2, 15, 3), np.nan)}, "'pos_img' must be finite"),
])
def test_bad_joint_files_name_the_file_and_the_key(tmp_path, mat, message):
    write_clip(tmp_path, "run", "bad", mat=mat)
    path = tmp_path / "joint_positions" / "run" / "bad" / "joint_positions.mat"
    with pytest.raises(ValueError, match=message) as error:
        read_joint_positions(path)
    assert str(path) in str(error.value)
    path.write_bytes(b"not a mat file at all")
    with pytest.raises(ValueError, match="not a readable MATLAB file"):
        read_joint_positions(path)


def test_missing_layout_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no Rename_Images/"):
        JhmdbDataset(tmp_path)
    with pytest.raises(FileNotFoundError, match="dataset.path is not set"):
        JhmdbDataset(None)


def test_config_builds_the_dataset(jhmdb):
    conf = str(Path(pointbench.__file__).parent / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["dataset=jhmdb", f"dataset.path={jhmdb}"])
    name, dataset = build(cfg.dataset, "dataset")
    assert name == "jhmdb" and dataset.names == ["walk/clip_a", "wave/short_gt"] and dataset.keypoint_gt
    assert dataset.frame_counts() == [4, 5]
    assert [sharded(dataset, k, 2).names for k in (0, 1)] == [["wave/short_gt"], ["walk/clip_a"]]


def test_pck_of_the_ground_truth_is_one(jhmdb):
    video = JhmdbDataset(jhmdb).load_annotations(0)
    scores = pck_scores(video, video.gt)
    assert scores["pck_0.1"] == 1.0 and scores["pck_n"] == 14 * (T - 1)  # frame 0 is not scored


def test_skeleton_reaches_the_recordings(jhmdb, tmp_path):
    sample = JhmdbDataset(jhmdb).load(0)
    pred = Tracks(xy=sample.gt.xy + 1.0, visible=sample.gt.visible.copy())
    key = video_key(sample.name)

    with RunRecording(tmp_path / "tracks.rrd") as rec:
        rec.log_video(sample.name, sample.frames, sample.gt, {"lk": pred}, skeleton=sample.skeleton)
    temporal, static = read_rrd(tmp_path / "tracks.rrd")
    (entry,) = static[f"/videos/{key}"]["AnnotationContext:context"][0]
    labels = [k["label"] for k in entry["class_description"]["keypoint_annotations"]]
    assert labels == list(JHMDB_JOINTS)
    assert temporal[f"/videos/{key}/gt/points"][0]["Points2D:keypoint_ids"] == list(range(14))

    with PoseRecording(tmp_path / "pose.rrd") as rec:
        rec.log_video(sample.name, sample.frames, sample.skeleton, sample.gt, {"lk": pred}, fps=sample.fps)
    temporal, static = read_rrd(tmp_path / "pose.rrd")
    context = static[f"/pose/{key}"]["AnnotationContext:context"][0]
    assert [(c["class_id"], c["class_description"]["info"]["label"]) for c in context] == [(0, "gt"), (1, "lk")]
    description = context[0]["class_description"]
    assert [k["label"] for k in description["keypoint_annotations"]] == list(JHMDB_JOINTS)
    bones = {(c["keypoint0"], c["keypoint1"]) for c in description["keypoint_connections"]}
    assert bones == set(sample.skeleton.connections)
    gt_points = temporal[f"/pose/{key}/gt/keypoints"]
    assert gt_points[2]["Points2D:keypoint_ids"] == list(range(13))  # joint 13 left the image at frame 2
    assert set(gt_points[0]["Points2D:class_ids"]) == {0}
    np.testing.assert_allclose(np.array(temporal[f"/pose/{key}/lk/keypoints"][1]["Points2D:positions"]),
                               sample.gt.xy[:, 1] + 1.0)
    assert set(temporal[f"/pose/{key}/lk/keypoints"][1]["Points2D:class_ids"]) == {1}
    assert ("lk", "2D", f"pose/{key}") in read_blueprint_views(tmp_path / "pose.rrd")


def test_runner_scores_pck_and_records_the_pose(jhmdb, tmp_path):
    """End to end (needs the runner's keypoint hooks): PCK columns beside TAP-Vid's, pose.rrd with the skeleton."""
    import pandas as pd
    from pointbench.runner import run

    conf = str(Path(pointbench.__file__).parent / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["tracker=static", "dataset=jhmdb", f"dataset.path={jhmdb}"])
    run(cfg, tmp_path / "run")
    per_video = pd.read_csv(tmp_path / "run" / "metrics_per_video.csv").set_index("video")
    assert per_video.loc["walk/clip_a", "status"] == "ok"
    # static holds every query still while the joints move (1, 0.5) px a frame: its PCK is that of the held queries.
    video = JhmdbDataset(jhmdb).load_annotations(0)
    expected = pck_scores(video, Tracks(xy=np.repeat(video.queries[:, None, 1:], T, axis=1),
                                        visible=np.ones((14, T), bool)))
    assert 0 < expected["pck_0.1"] < expected["pck_0.2"] <= 1
    for column in ("pck_0.1", "pck_0.2", "pck_n"):
        assert per_video.loc["walk/clip_a", column] == pytest.approx(expected[column])
    summary = pd.read_csv(tmp_path / "run" / "summary.csv")
    assert 0 < summary.loc[0, "pck_0.2"] <= 1
    temporal, static = read_rrd(tmp_path / "run" / "pose.rrd")
    key = video_key("walk/clip_a")
    assert f"/pose/{key}/gt/keypoints" in temporal and f"/pose/{key}/static/keypoints" in temporal
