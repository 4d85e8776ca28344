"""Recording3D: log two cameras of a scene and a single-camera video, read the .rrd back, check values."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pointbench.geometry import camera_to_world, lift, project
from pointbench.types import Sample, Tracks
from pointbench.viz.rerun_3d import Recording3D, depth_cloud, log_3d_video
from pointbench.viz.rerun_log import track_colors
from rrd_reading import annotation_colors, read_blueprint_views, read_rrd, visible_time_range_overrides

N, T, H, W, STRIDE = 3, 5, 24, 32, 4
RNG = np.random.default_rng(0)


def _extrinsics(seed: float) -> np.ndarray:
    """(T, 3, 4) world-to-camera poses: rotation and translation change every frame."""
    out = np.zeros((T, 3, 4), np.float32)
    for t in range(T):
        out[t, :, :3] = cv2.Rodrigues(np.array([0.1 * seed + 0.02 * t, -0.2 * seed, 0.3 * seed + 0.05 * t]))[0]
        out[t, :, 3] = [0.3 * seed - 0.1 * t, 0.05 * t, 2.0 + seed]
    return out


def _camera(seed: int) -> dict:
    k = np.array([[40.0 + seed, 0, 15.5], [0, 42, 11.0 + seed], [0, 0, 1]], np.float32)
    depth = RNG.uniform(1.0, 4.0, (T, H, W)).astype(np.float32)
    depth[:, ::3, ::5] = 0  # invalid
    depth[1, :8, :] = np.nan
    i, j = np.mgrid[0:H, 0:W]
    frames = np.stack([np.stack([8 * j + 10 * t, 9 * i + 20 * seed, np.full_like(i, 40 * t)], -1)
                       for t in range(T)]).clip(0, 255).astype(np.uint8)
    return dict(frames=frames, intrinsics=np.broadcast_to(k, (T, 3, 3)).copy(), extrinsics=_extrinsics(seed),
                depth=depth)


def _tracks(camera: dict, seed: int) -> dict[str, Tracks]:
    """gt with camera-frame xyz, 'pred' with world xyz (NaN and occluded entries), 'flow' 2D only."""
    xy = RNG.uniform([1, 1], [W - 1, H - 1], (N, T, 2)).astype(np.float32)
    cam = RNG.uniform([-1, -1, 1], [1, 1, 3], (N, T, 3)).astype(np.float32)
    gt = Tracks(xy=xy, visible=np.ones((N, T), bool), xyz=cam, xyz_frame="camera")
    world = RNG.uniform(-2, 2, (N, T, 3)).astype(np.float32)
    world[0, 2] = np.nan  # not lifted
    world[2, 1:3] = np.nan
    visible = np.ones((N, T), bool)
    visible[1, 3] = False
    pred = Tracks(xy=xy + seed, visible=visible, xyz=world, xyz_frame="world")
    flow = Tracks(xy=xy + 0.25, visible=np.ones((N, T), bool))
    return {"gt": gt, "pred": pred, "flow": flow}


CAMERAS = [_camera(0), _camera(1)]
TRACKS = [_tracks(CAMERAS[0], 0), _tracks(CAMERAS[1], 1)]
SOLO = Sample(name="solo", frames=CAMERAS[0]["frames"], queries=np.zeros((0, 3), np.float32),
              intrinsics=CAMERAS[0]["intrinsics"], extrinsics=None, depth=CAMERAS[0]["depth"])


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "tracks3d.rrd"
    with Recording3D(path, depth_stride=STRIDE, trail_length=3) as rec:
        for n, (camera, tracks) in enumerate(zip(CAMERAS, TRACKS)):
            rec.log_camera("rig", f"cam{n}", tracks=tracks, **camera)
        no_3d = Sample(name="flat", frames=SOLO.frames, queries=SOLO.queries)
        assert not log_3d_video(rec, "flat", no_3d, None, {})
        empty = Tracks.empty(T)
        assert log_3d_video(rec, "solo", SOLO, None, {"lk": empty})
        assert not path.exists() and list(path.parent.glob(".tracks3d.rrd.*.tmp"))
    return path, *read_rrd(path)


def _matrix(column_major) -> np.ndarray:
    return np.array(column_major, np.float64).reshape(3, 3, order="F")


def test_file_is_renamed_into_place(recording):
    path = recording[0]
    assert sorted(p.name for p in path.parent.iterdir()) == ["tracks3d.rrd"]


def test_blueprint_has_a_3d_view_and_a_2d_view_per_camera(recording):
    views = read_blueprint_views(recording[0])
    assert sorted(views) == sorted([
        ("rig (3D)", "3D", "world/rig"), ("cam0", "2D", "world/rig/cameras/cam0/image"),
        ("cam1", "2D", "world/rig/cameras/cam1/image"),
        ("solo (3D)", "3D", "world/solo"), ("camera", "2D", "world/solo/cameras/camera/image")])
    assert not any("flat" in origin for _, _, origin in views)
    ranges = visible_time_range_overrides(recording[0])
    assert set(ranges) == {f"world/rig/tracks/cam{c}/{k}/paths" for c in (0, 1) for k in ("gt", "pred", "flow")
                           } | {"world/solo/tracks/camera/lk/paths"}
    assert ranges["world/rig/tracks/cam0/pred/paths"] == [{"timeline": "frame", "range": {"start": -2, "end": 0}}]


def test_camera_pose_per_frame_is_the_inverse_extrinsics(recording):
    _, temporal, _ = recording
    for c, camera in enumerate(CAMERAS):
        poses = temporal[f"/world/rig/cameras/cam{c}"]
        assert sorted(poses) == list(range(T))
        for t, row in poses.items():
            world_from_camera = np.linalg.inv(np.vstack([camera["extrinsics"][t], [0, 0, 0, 1]]).astype(np.float64))
            np.testing.assert_allclose(_matrix(row["Transform3D:mat3x3"][0]), world_from_camera[:3, :3], atol=1e-5)
            np.testing.assert_allclose(row["Transform3D:translation"][0], world_from_camera[:3, 3], atol=1e-5)
    # No extrinsics: the camera frame is the world frame.
    for row in temporal["/world/solo/cameras/camera"].values():
        np.testing.assert_allclose(_matrix(row["Transform3D:mat3x3"][0]), np.eye(3))


def test_pinhole_and_images_per_frame(recording):
    _, temporal, _ = recording
    images = temporal["/world/rig/cameras/cam1/image"]
    k = CAMERAS[1]["intrinsics"][0]
    for t, row in images.items():
        pinhole = _matrix(row["Pinhole:image_from_camera"][0])
        np.testing.assert_allclose(pinhole[:2, :2], k[:2, :2])
        np.testing.assert_allclose(pinhole[:2, 2], k[:2, 2] + 0.5)  # raster convention
        assert row["Pinhole:resolution"] == [[W, H]]
        (blob,) = row["EncodedImage:blob"]
        rgb = cv2.imdecode(np.frombuffer(bytes(blob), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        assert np.abs(rgb.astype(int) - CAMERAS[1]["frames"][t]).mean() < 3
    assert sorted(images) == list(range(T))


def test_predicted_3d_points_are_the_input_where_drawn(recording):
    _, temporal, _ = recording
    for c in (0, 1):
        pred = TRACKS[c]["pred"]
        points = temporal[f"/world/rig/tracks/cam{c}/pred/points"]
        for t in range(T):
            drawn = pred.visible[:, t] & np.isfinite(pred.xyz[:, t]).all(-1)
            np.testing.assert_array_equal(np.array(points[t]["Points3D:positions"], np.float32).reshape(-1, 3),
                                          pred.xyz[drawn, t])
            assert points[t]["Points3D:class_ids"] == np.flatnonzero(drawn).tolist()
        assert len(points[2]["Points3D:positions"]) == 1  # track 0 not lifted, track 2 not lifted
        assert len(points[3]["Points3D:positions"]) == 2  # track 1 occluded


def test_ground_truth_camera_xyz_is_drawn_in_the_world(recording):
    _, temporal, _ = recording
    gt = TRACKS[1]["gt"]
    expected = camera_to_world(gt.xyz, CAMERAS[1]["extrinsics"])
    points = temporal["/world/rig/tracks/cam1/gt/points"]
    for t in range(T):
        np.testing.assert_allclose(points[t]["Points3D:positions"], expected[:, t], atol=1e-5)


def test_2d_tracks_without_xyz_are_lifted_with_depth(recording):
    _, temporal, _ = recording
    flow, camera = TRACKS[0]["flow"], CAMERAS[0]
    _, world, lifted = lift(flow.xy, flow.visible, camera["depth"], camera["intrinsics"], camera["extrinsics"])
    assert 0 < lifted.sum() < lifted.size
    points = temporal["/world/rig/tracks/cam0/flow/points"]
    for t in range(T):
        np.testing.assert_allclose(np.array(points[t]["Points3D:positions"]).reshape(-1, 3), world[lifted[:, t], t],
                                   atol=1e-5)


def test_trajectories_are_segments_between_drawn_frames(recording):
    _, temporal, _ = recording
    pred = TRACKS[0]["pred"]
    drawn = pred.visible & np.isfinite(pred.xyz).all(-1)
    paths = temporal["/world/rig/tracks/cam0/pred/paths"]
    assert paths[0]["LineStrips3D:strips"] == []
    for t in range(1, T):
        both = np.flatnonzero(drawn[:, t] & drawn[:, t - 1])
        expected = np.stack([pred.xyz[both, t - 1], pred.xyz[both, t]], axis=1)
        np.testing.assert_array_equal(np.array(paths[t]["LineStrips3D:strips"], np.float32).reshape(-1, 2, 3), expected)
        assert paths[t]["LineStrips3D:class_ids"] == both.tolist()


def test_2d_points_in_the_image(recording):
    _, temporal, _ = recording
    pred = TRACKS[0]["pred"]
    points = temporal["/world/rig/cameras/cam0/image/pred"]
    np.testing.assert_array_equal(np.array(points[3]["Points2D:positions"], np.float32), pred.xy[pred.visible[:, 3], 3])


def test_depth_cloud_is_the_valid_subsampled_pixels(recording):
    _, temporal, _ = recording
    camera = CAMERAS[1]
    cloud = temporal["/world/rig/cameras/cam1/depth"]
    k = camera["intrinsics"][0]
    for t in range(T):
        sub = camera["depth"][t, ::STRIDE, ::STRIDE]
        valid = np.isfinite(sub) & (sub > 0)
        rows, cols = np.nonzero(valid)
        positions = np.array(cloud[t]["Points3D:positions"], np.float64).reshape(-1, 3)
        assert len(positions) == valid.sum() > 0
        xy, z = project(positions, k)
        np.testing.assert_allclose(xy, np.stack([cols * STRIDE + 0.5, rows * STRIDE + 0.5], -1), atol=1e-4)
        np.testing.assert_allclose(z, sub[valid], rtol=1e-6)
        colors = np.array(cloud[t]["Points3D:colors"], np.uint32)
        np.testing.assert_array_equal((colors >> 24).astype(np.uint8), camera["frames"][t, rows * STRIDE, cols * STRIDE, 0])
    assert len(cloud[1]["Points3D:positions"]) < len(cloud[0]["Points3D:positions"])  # NaN rows left out


def test_colours_per_camera_in_a_rig_and_per_track_alone(recording):
    _, _, static = recording
    palette = track_colors(2)
    for c in (0, 1):
        colors = annotation_colors(static[f"/world/rig/tracks/cam{c}"])
        assert sorted(colors) == list(range(N))
        assert all((rgb == palette[c]).all() for rgb in colors.values())
        per_track = annotation_colors(static[f"/world/rig/cameras/cam{c}"])
        for i, rgb in per_track.items():
            np.testing.assert_array_equal(rgb, track_colors(N)[i])


def test_depth_cloud_function_matches_lift():
    camera = CAMERAS[0]
    positions, colors, counts = depth_cloud(camera["depth"], camera["intrinsics"], camera["frames"], 1)
    i, j = np.mgrid[0:H, 0:W]
    xy = np.broadcast_to(np.stack([j, i], -1).reshape(-1, 1, 2) + 0.5, (H * W, T, 2)).astype(np.float32)
    cam, _, lifted = lift(xy, np.ones((H * W, T), bool), camera["depth"], camera["intrinsics"])
    np.testing.assert_array_equal(counts, lifted.sum(0))
    np.testing.assert_allclose(positions, cam.transpose(1, 0, 2)[lifted.T], rtol=1e-5, atol=1e-6)


def test_nothing_logged_writes_no_file_and_errors_leave_none(tmp_path):
    with Recording3D(tmp_path / "a.rrd"):
        pass
    with pytest.raises(RuntimeError, match="boom"), Recording3D(tmp_path / "b.rrd") as rec:
        rec.log_camera("s", "c", tracks=TRACKS[0], **CAMERAS[0])
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with Recording3D(tmp_path / "c.rrd") as rec, pytest.raises(ValueError, match="'intrinsics' must have shape"):
        rec.log_camera("s", "c", CAMERAS[0]["frames"], CAMERAS[0]["intrinsics"][0])


def test_default_trajectories_reach_back_to_the_first_frame(tmp_path):
    with Recording3D(tmp_path / "t.rrd") as rec:
        rec.log_camera("s", "c", tracks={"pred": TRACKS[0]["pred"]}, **CAMERAS[0])
    assert visible_time_range_overrides(tmp_path / "t.rrd") == {
        "world/s/tracks/c/pred/paths": [{"timeline": "frame", "range": {"start": None, "end": 0}}]}
