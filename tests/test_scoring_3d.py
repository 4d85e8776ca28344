"""3D scoring in the runner: 2D predictions lifted with the video's depth, TAPVid-3D columns."""

import numpy as np
import pytest

from pointbench.geometry import project
from pointbench.runner import score3d, with_3d
from pointbench.types import Annotations, Tracks

T, H, W, Z = 3, 48, 64, 2.0


def plane_video(visible):
    """A fronto-parallel plane at depth Z seen by a still camera, with tracks on it."""
    k = np.array([[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]], np.float32)
    rng = np.random.default_rng(0)
    xyz = np.concatenate([rng.uniform(-0.5, 0.5, (5, T, 2)), np.full((5, T, 1), Z)], axis=-1).astype(np.float32)
    intrinsics = np.repeat(k[None], T, axis=0)
    xy, _ = project(xyz, intrinsics)
    gt = Tracks(xy=xy.astype(np.float32), visible=visible, xyz=xyz, xyz_frame="camera")
    queries = np.concatenate([np.zeros((5, 1)), xy[:, 0]], axis=1).astype(np.float32)
    return Annotations("plane", queries, gt, T, (H, W), depth=np.full((T, H, W), Z, np.float32),
                       intrinsics=intrinsics)


def test_a_perfect_2d_prediction_lifts_to_a_perfect_3d_score():
    video = plane_video(np.ones((5, T), bool))
    pred = with_3d(video, Tracks(xy=video.gt.xy, visible=video.gt.visible))
    np.testing.assert_allclose(pred.xyz, video.gt.xyz, atol=1e-4)
    scores = score3d(video, pred)
    assert scores == {"AJ3D": pytest.approx(1.0), "APD3D": pytest.approx(1.0), "OA3D": pytest.approx(1.0)}


def test_points_that_cannot_be_lifted_count_as_occluded_in_3d():
    video = plane_video(np.ones((5, T), bool))
    video.depth[1:] = 0  # no depth after frame 0
    pred = with_3d(video, Tracks(xy=video.gt.xy, visible=video.gt.visible))
    assert np.isnan(pred.xyz[:, 1:]).all() and np.isfinite(pred.xyz[:, 0]).all()
    scores = score3d(video, pred)
    assert scores["OA3D"] == pytest.approx(1 / 3)  # only frame 0 is predicted visible in 3D
    assert scores["APD3D"] == pytest.approx(1 / 3)


def test_no_3d_without_3d_ground_truth_or_depth():
    video = plane_video(np.ones((5, T), bool))
    flat = Annotations("flat", video.queries, Tracks(xy=video.gt.xy, visible=video.gt.visible), T, (H, W))
    pred = Tracks(xy=video.gt.xy, visible=video.gt.visible)
    assert with_3d(flat, pred) is pred and score3d(flat, pred) == {}


def test_a_3d_scoring_error_leaves_the_2d_score(tmp_path):
    """World-frame ground truth without extrinsics cannot be scored in 3D; the 2D row stays ok."""
    from hydra import compose, initialize_config_dir

    from pointbench.runner import run
    from test_runner import CONF

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "tracker=static", "output.rerun=false", f"dataset._target_={__name__}.WorldFrameDataset",
            "dataset.num_videos=1", "dataset.num_frames=4", "dataset.height=32", "dataset.width=32"])
    row = run(cfg, tmp_path).per_video.iloc[0]
    assert row["status"] == "ok" and np.isfinite(row["AJ"]) and np.isnan(row["AJ3D"])


from pointbench.datasets.synthetic import SyntheticDataset  # noqa: E402


class WorldFrameDataset(SyntheticDataset):
    """Synthetic videos whose ground truth claims world-frame xyz, with intrinsics but no extrinsics."""

    def load(self, index):
        sample = super().load(index)
        gt = sample.gt
        xyz = np.concatenate([gt.xy, np.ones(gt.xy.shape[:2] + (1,), np.float32)], axis=-1)
        sample.gt = Tracks(xy=gt.xy, visible=gt.visible, xyz=xyz, xyz_frame="world")
        sample.intrinsics = np.repeat(np.eye(3, dtype=np.float32)[None], sample.n_frames, axis=0)
        sample.depth = np.ones(sample.frames.shape[:3], np.float32)
        return sample
