"""TAPVid-3D: metrics against hand-computed cases, and the .npz loader on files written here."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from pointbench.datasets.tapvid3d import TapVid3DDataset
from pointbench.metrics.tapvid3d import METRIC_NAMES_3D, THRESHOLDS_3D, tapvid3d_metrics

# fx = fy = 500 at 512×512: rescaled to short side 256, √(fx·fy) = 250.
INTR, SIZE = np.array([500.0, 500.0, 256.0, 256.0]), (512, 512)


def _tracks(n=3, t=4, seed=0):
    rng = np.random.default_rng(seed)
    xyz = np.stack([rng.uniform(-1, 1, (n, t)), rng.uniform(-1, 1, (n, t)), rng.uniform(2, 6, (n, t))], -1)
    return xyz, np.ones((n, t), bool), np.zeros(n, np.int64)


# ---------------------------------------------------------------- metrics


def test_perfect_prediction_scores_one_under_every_scaling():
    xyz, vis, q = _tracks()
    for scaling in ("median", "per_trajectory", "none"):
        m = tapvid3d_metrics(xyz, vis, xyz, vis, INTR, SIZE, q, scaling)
        assert list(m) == list(METRIC_NAMES_3D)
        assert all(v == 1.0 for v in m.values()), (scaling, m)


def test_twice_the_scale_is_perfect_with_median_scaling_only():
    xyz, vis, q = _tracks()
    median = tapvid3d_metrics(xyz, vis, 2 * xyz, vis, INTR, SIZE, q, "median")
    none = tapvid3d_metrics(xyz, vis, 2 * xyz, vis, INTR, SIZE, q, "none")
    assert median["AJ3D"] == median["APD3D"] == 1.0
    # Off by ‖gt‖ ≥ 2 m, far beyond 16 · 6 / 250 = 0.38 m: nothing within, every visible point a FP.
    assert none["APD3D"] == 0.0 and none["AJ3D"] == 0.0 and none["OA3D"] == 1.0


def test_threshold_is_delta_times_gt_depth_over_focal_at_short_side_256():
    # 480×640 video, fx = 600, fy = 750: scaled by 256/480, √(fx·fy) = 256/480 · √450000 = 357.77 px.
    intr, size = np.array([600.0, 750.0, 320.0, 240.0]), (480, 640)
    focal = 256 / 480 * np.sqrt(600.0 * 750.0)
    z = 3.0
    radius = z / focal  # metres for δ = 1 at this depth: 0.008385
    gt = np.array([[[0.1, -0.2, z]]])
    vis = np.ones((1, 1), bool)
    for offset, within in ((0.99, (1, 2, 4, 8, 16)), (1.01, (2, 4, 8, 16)), (3.99, (4, 8, 16)),
                           (4.01, (8, 16)), (16.01, ())):
        direction = np.array([2.0, -1.0, 2.0]) / 3.0  # unit vector
        pred = gt + offset * radius * direction
        m = tapvid3d_metrics(gt, vis, pred, vis, intr, size, np.zeros(1), "none")
        assert {d for d in THRESHOLDS_3D if m[f"pts_within3d_{d}"] == 1.0} == set(within), offset
        assert m["APD3D"] == pytest.approx(len(within) / 5)
    # Using the long side (W = 640) would make the radius 4/3 larger: 1.2 radii would count as within 1.
    m = tapvid3d_metrics(gt, vis, gt + [[[1.2 * radius, 0, 0]]], vis, intr, size, np.zeros(1), "none")
    assert m["pts_within3d_1"] == 0.0 and m["pts_within3d_2"] == 1.0


def test_thresholds_are_strict():
    # fx = fy = 512 at 256×256 and z = 4: the δ = 1 radius is exactly 1/128 m (binary-exact).
    gt, vis = np.array([[[0.0, 0.0, 4.0]]]), np.ones((1, 1), bool)
    m = tapvid3d_metrics(gt, vis, gt + [[[1 / 128, 0, 0]]], vis, (512, 512, 128, 128), (256, 256), np.zeros(1), "none")
    assert m["pts_within3d_1"] == 0.0 and m["pts_within3d_2"] == 1.0


def test_per_frame_intrinsics_set_per_frame_thresholds():
    gt, vis = np.tile([[[0.0, 0.0, 4.0]]], (1, 2, 1)), np.ones((1, 2), bool)
    pred = gt + [[[0.012, 0, 0]]]  # 1.5 radii at f = 500 (0.008 m), 0.75 radii at f = 250 (0.016 m)
    per_frame = np.array([[500.0, 500, 128, 128], [250.0, 250, 128, 128]])
    m = tapvid3d_metrics(gt, vis, pred, vis, per_frame, (256, 256), np.zeros(1), "none")
    assert m["pts_within3d_1"] == 0.5 and m["pts_within3d_2"] == 1.0


def test_threshold_scales_with_ground_truth_depth_not_predicted_depth():
    vis = np.ones((1, 1), bool)
    gt_near, gt_far = np.array([[[0.0, 0.0, 2.0]]]), np.array([[[0.0, 0.0, 8.0]]])
    # 0.02 m along x: at 2 m the δ=1 radius is 2/250 = 0.008 m (within 4, not 2);
    # at 8 m it is 0.032 m (within 1).
    for gt, first_within in ((gt_near, 4), (gt_far, 1)):
        m = tapvid3d_metrics(gt, vis, gt + [[[0.02, 0, 0]]], vis, INTR, SIZE, np.zeros(1), "none")
        assert min(d for d in THRESHOLDS_3D if m[f"pts_within3d_{d}"] == 1.0) == first_within


def test_jaccard_and_occlusion_counts_with_every_frame_scored():
    gt = np.tile([[[0.0, 0.0, 4.0]]], (1, 5, 1))
    far = [[[0.0, 0.0, 9.0]]]  # 5 m away
    pred = gt.copy()
    pred[0, 1] = far[0][0]
    gt_vis = np.array([[True, True, False, True, True]])
    pred_vis = np.array([[True, True, True, False, True]])
    # frame 0 (the query frame): TP. 1: visible, far, predicted visible: FP and a miss.
    # 2: occluded, predicted visible: FP. 3: correct position, predicted occluded: a miss, but within.
    # 4: TP. gt visible = 4, TP = 2, FP = 2 -> Jaccard 2 / 6; within 3 / 4; OA: frames 0, 1, 4 agree.
    m = tapvid3d_metrics(gt, gt_vis, pred, pred_vis, INTR, SIZE, np.array([0]), "none")
    for d in THRESHOLDS_3D:
        assert m[f"jaccard3d_{d}"] == pytest.approx(2 / 6)
        assert m[f"pts_within3d_{d}"] == pytest.approx(3 / 4)
    assert m["AJ3D"] == pytest.approx(2 / 6) and m["APD3D"] == pytest.approx(3 / 4)
    assert m["OA3D"] == pytest.approx(3 / 5)
    # The query frame is scored too: a wrong occlusion there costs 1 / 5 of OA.
    pred_vis[0, 0] = False
    m = tapvid3d_metrics(gt, gt_vis, pred, pred_vis, INTR, SIZE, np.array([0]), "none")
    assert m["OA3D"] == pytest.approx(2 / 5)


def test_median_scale_uses_only_points_visible_in_both():
    gt = np.tile([[[0.0, 0.0, 4.0]]], (1, 4, 1))
    pred = gt / 2
    pred[0, 2:] = 100 * gt[0, 2:]  # wild where occluded: must not enter the median
    gt_vis = np.array([[True, True, False, True]])
    pred_vis = np.array([[True, True, True, False]])
    m = tapvid3d_metrics(gt, gt_vis, pred, pred_vis, INTR, SIZE, np.zeros(1), "median")
    # Scale 2 from frames 0, 1: they are exact; frame 3 (gt visible) is 100·2·4 m off.
    assert m["pts_within3d_16"] == pytest.approx(2 / 3)
    # With every point in the median (norms 2, 2, 400, 400 -> 201), nothing would be within.


def test_per_trajectory_scaling_fixes_each_track_scale():
    xyz, vis, q = _tracks(n=4, t=5, seed=3)
    q = np.array([0, 2, 4, 1])
    per_track = np.array([2.0, 0.5, 3.0, 1.0])[:, None, None]
    pred = xyz * per_track
    fixed = tapvid3d_metrics(xyz, vis, pred, vis, INTR, SIZE, q, "per_trajectory")
    assert fixed["AJ3D"] == 1.0
    assert tapvid3d_metrics(xyz, vis, pred, vis, INTR, SIZE, q, "median")["AJ3D"] < 0.5
    # The scale comes from the query frame's depth: a wrong depth there mis-scales the whole track.
    pred[1, 2] *= 1.5
    m = tapvid3d_metrics(xyz, vis, pred, vis, INTR, SIZE, q, "per_trajectory")
    assert m["pts_within3d_16"] == pytest.approx(16 / 20)  # track 1 lost but at its query frame


def test_nan_predictions_are_never_within_and_bad_arguments_raise():
    xyz, vis, q = _tracks(n=2, t=3)
    pred = xyz.copy()
    pred[0, 1] = np.nan
    m = tapvid3d_metrics(xyz, vis, pred, vis, INTR, SIZE, q, "none")
    assert m["APD3D"] == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="scaling"):
        tapvid3d_metrics(xyz, vis, xyz, vis, INTR, SIZE, q, "mean")
    with pytest.raises(ValueError, match="pred_xyz"):
        tapvid3d_metrics(xyz, vis, xyz[:, :2], vis, INTR, SIZE, q)
    with pytest.raises(ValueError, match="intrinsics"):
        tapvid3d_metrics(xyz, vis, xyz, vis, INTR[:3], SIZE, q)


# ---------------------------------------------------------------- loader

FX, FY, CX, CY = 60.0, 55.0, 31.5, 23.5  # OpenCV pixel-centre intrinsics of a 64×48 video
HEIGHT, WIDTH, N_FRAMES, N_TRACKS = 48, 64, 5, 12


def _write_video(path: Path, seed: int, extrinsics: bool, object_frames: bool = False, drop: str | None = None,
                 **replace) -> dict:
    """A .npz in the TAPVid-3D release format, from random points in front of the camera."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(1.0, 5.0, (N_FRAMES, N_TRACKS))
    u, v = rng.uniform(-5, WIDTH + 5, (N_FRAMES, N_TRACKS)), rng.uniform(-5, HEIGHT + 5, (N_FRAMES, N_TRACKS))
    xyz = np.stack([(u - CX) / FX * z, (v - CY) / FY * z, z], -1).astype(np.float32)
    visibility = rng.random((N_FRAMES, N_TRACKS)) < 0.7
    visibility[rng.integers(0, N_FRAMES, N_TRACKS), np.arange(N_TRACKS)] = True
    t_query = np.array([rng.choice(np.flatnonzero(visibility[:, i])) for i in range(N_TRACKS)])
    p = xyz[t_query, np.arange(N_TRACKS)].astype(np.float64)
    queries_xyt = np.stack([FX * p[:, 0] / p[:, 2] + CX, FY * p[:, 1] / p[:, 2] + CY, t_query], 1).astype(np.float32)
    # Smooth frames (JPEG keeps them within a few levels), a different ramp per channel, frame-dependent.
    ramp_x, ramp_y = np.meshgrid(np.linspace(0, 200, WIDTH), np.linspace(0, 150, HEIGHT))
    images = np.stack([np.stack([ramp_x, ramp_y, np.full_like(ramp_x, 40.0 * t)], -1)
                       for t in range(N_FRAMES)]).astype(np.uint8)
    jpegs = [cv2.imencode(".jpg", cv2.cvtColor(im, cv2.COLOR_RGB2BGR))[1].tobytes() for im in images]
    arrays = {
        "images_jpeg_bytes": np.array(jpegs, dtype=object) if object_frames else jpegs,  # list -> bytes array
        "tracks_XYZ": xyz, "visibility": visibility, "queries_xyt": queries_xyt,
        "fx_fy_cx_cy": np.array([FX, FY, CX, CY]),
    }
    if extrinsics:
        w2c = np.tile(np.eye(4), (N_FRAMES, 1, 1))
        w2c[:, :3, 3] = rng.normal(size=(N_FRAMES, 3))
        arrays["extrinsics_w2c"] = w2c.astype(np.float32)
    arrays.update(replace)
    if drop:
        del arrays[drop]
    np.savez(path, **arrays)
    arrays["images"], arrays["jpegs"], arrays["t_query"] = images, jpegs, t_query
    return arrays


def test_loader_round_trips_the_release_format(tmp_path):
    written = {"b_video": _write_video(tmp_path / "b_video.npz", 0, extrinsics=False),
               "a_video": _write_video(tmp_path / "a_video.npz", 1, extrinsics=True)}
    ds = TapVid3DDataset(str(tmp_path))
    assert ds.names == ["a_video", "b_video"] and len(ds) == 2 and ds.query_mode == "strided"
    for index, name in enumerate(ds.names):
        w, sample = written[name], ds.load(index)
        assert sample.name == name and sample.frames.shape == (N_FRAMES, HEIGHT, WIDTH, 3)
        decoded = [cv2.cvtColor(cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                   for j in w["jpegs"]]
        np.testing.assert_array_equal(sample.frames, np.stack(decoded))  # RGB, in frame order
        assert np.abs(sample.frames.astype(int) - w["images"]).max() < 12  # RGB order, not BGR

        gt = sample.gt
        np.testing.assert_array_equal(gt.xyz, w["tracks_XYZ"].transpose(1, 0, 2))
        assert gt.xyz_frame == "camera"
        np.testing.assert_array_equal(gt.visible, w["visibility"].T)
        x, y, z = np.moveaxis(w["tracks_XYZ"].transpose(1, 0, 2).astype(np.float64), -1, 0)
        np.testing.assert_allclose(gt.xy, np.stack([FX * x / z + CX + 0.5, FY * y / z + CY + 0.5], -1), atol=1e-4)

        q = w["queries_xyt"]
        np.testing.assert_array_equal(sample.queries[:, 0], w["t_query"])
        np.testing.assert_allclose(sample.queries[:, 1:], q[:, :2] + 0.5, atol=1e-5)
        # Query and ground truth agree at the query frame (same pixel convention).
        np.testing.assert_allclose(gt.xy[np.arange(N_TRACKS), w["t_query"]], sample.queries[:, 1:], atol=1e-4)

        k = np.array([[FX, 0, CX], [0, FY, CY], [0, 0, 1]], np.float32)
        assert sample.intrinsics.shape == (N_FRAMES, 3, 3)
        np.testing.assert_array_equal(sample.intrinsics, np.broadcast_to(k, (N_FRAMES, 3, 3)))
        if "extrinsics_w2c" in w:
            np.testing.assert_array_equal(sample.extrinsics, w["extrinsics_w2c"][:, :3, :4])
        else:
            assert sample.extrinsics is None

        ann = ds.load_annotations(index)
        assert ann.image_size == (HEIGHT, WIDTH) and ann.n_frames == N_FRAMES and ann.name == name
        assert ann.gt == gt
        np.testing.assert_array_equal(ann.queries, sample.queries)


def test_annotations_carry_camera_geometry_where_they_have_fields_for_it(tmp_path, monkeypatch):
    from dataclasses import dataclass

    import pointbench.datasets.tapvid3d as module
    from pointbench.types import Annotations

    @dataclass(eq=False)
    class WithGeometry(Annotations):
        intrinsics: np.ndarray | None = None
        extrinsics: np.ndarray | None = None

    monkeypatch.setattr(module, "Annotations", WithGeometry)
    w = _write_video(tmp_path / "v.npz", 0, extrinsics=True)
    ann = TapVid3DDataset(str(tmp_path)).load_annotations(0)
    assert ann.intrinsics.shape == (N_FRAMES, 3, 3) and ann.intrinsics[2, 0, 0] == FX
    np.testing.assert_array_equal(ann.extrinsics, w["extrinsics_w2c"][:, :3, :4])


def test_loader_accepts_one_file_and_a_limit(tmp_path):
    _write_video(tmp_path / "one.npz", 0, extrinsics=False)
    _write_video(tmp_path / "two.npz", 1, extrinsics=False)
    assert TapVid3DDataset(str(tmp_path / "two.npz")).names == ["two"]
    assert TapVid3DDataset(str(tmp_path), limit=1).names == ["one"]
    with pytest.raises(FileNotFoundError, match="nowhere"):
        TapVid3DDataset(str(tmp_path / "nowhere"))


def test_pickled_frames_need_allow_pickle(tmp_path):
    _write_video(tmp_path / "objects.npz", 0, extrinsics=False, object_frames=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        TapVid3DDataset(str(tmp_path)).load(0)
    assert TapVid3DDataset(str(tmp_path), allow_pickle=True).load(0).frames.shape == (N_FRAMES, HEIGHT, WIDTH, 3)


def test_bad_files_name_the_file_the_key_and_the_shape(tmp_path):
    _write_video(tmp_path / "no_queries.npz", 0, extrinsics=False, drop="queries_xyt")
    with pytest.raises(ValueError, match=r"no_queries\.npz.*queries_xyt"):
        TapVid3DDataset(str(tmp_path / "no_queries.npz")).load(0)
    _write_video(tmp_path / "bad_vis.npz", 0, extrinsics=False, visibility=np.ones((N_FRAMES, 3), bool))
    with pytest.raises(ValueError, match=r"bad_vis\.npz.*'visibility'.*shape \(5, 3\)"):
        TapVid3DDataset(str(tmp_path / "bad_vis.npz")).load_annotations(0)
    _write_video(tmp_path / "bad_intr.npz", 0, extrinsics=False, fx_fy_cx_cy=np.ones(3))
    with pytest.raises(ValueError, match=r"bad_intr\.npz.*'fx_fy_cx_cy'.*shape \(3,\)"):
        TapVid3DDataset(str(tmp_path / "bad_intr.npz")).load(0)
    bad_t = _write_video(tmp_path / "bad_t.npz", 0, extrinsics=False)["queries_xyt"].copy()
    bad_t[0, 2] = N_FRAMES
    _write_video(tmp_path / "bad_t.npz", 0, extrinsics=False, queries_xyt=bad_t)
    with pytest.raises(ValueError, match=r"bad_t\.npz.*queries"):
        TapVid3DDataset(str(tmp_path / "bad_t.npz")).load(0)


def test_config_group_instantiates_the_dataset(tmp_path):
    from hydra import compose, initialize_config_dir

    import pointbench
    from pointbench.runner import build

    _write_video(tmp_path / "clip.npz", 0, extrinsics=True)
    conf = str(Path(pointbench.__file__).parent / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["dataset=tapvid3d", f"dataset.path={tmp_path}"])
    name, ds = build(cfg.dataset, "dataset")
    assert name == "tapvid3d" and isinstance(ds, TapVid3DDataset) and ds.names == ["clip"]
