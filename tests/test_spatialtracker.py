"""SpatialTrackerV2 adapter, contract-tested against the stand-in in tests/standins (upstream's import paths,
loaders, argument names and output structure, with fake outputs whose answers are known; see its docstrings).

The stand-in's truth, in native pixels of the 40×30 test videos whose frame t is uniform with value 10·t: a query
(t0, x0, y0) moves by (+1, +0.5) pixels per frame, is visible inside the frame, and its 3D point is the
unprojection at the depth of the pixel containing it. Needs torch (CPU); nothing else.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pointbench
from pointbench.geometry import project, world_to_camera
from pointbench.trackers.spatialtracker import (
    FRONT_CHECKPOINT, OFFLINE_CHECKPOINT, ONLINE_CHECKPOINT, SPATRACKER_COMMIT, SpatialTrackerV2,
    pixel_resize_matrix, to_world,
)
from pointbench.types import Tracks

torch = pytest.importorskip("torch")

STANDINS = Path(__file__).parent / "standins"
CONF = str(Path(pointbench.__file__).parent / "conf")
T, H, W = 6, 30, 40
FRAMES = np.broadcast_to((10 * np.arange(T, dtype=np.uint8))[:, None, None, None], (T, H, W, 3)).copy()
# query frames 0, 2, 5 (the last), 3, 0; the last query leaves the frame at t = 3
QUERIES = np.array([[0, 10.25, 5.25], [2, 20.75, 15.25], [5, 38.25, 28.75], [3, 0.75, 0.75], [0, 37.25, 10.25]],
                   np.float32)
FAST = dict(device="cpu", precision="fp32", input_width=56)  # input 56×42: resize (1.4, 1.4)
SCALE = 1.4


def truth(queries, n_frames):
    """The stand-in's tracks in native raster pixels: (N, T, 2), and visible (N, T)."""
    dt = np.arange(n_frames)[None, :] - queries[:, :1]
    xy = np.stack([queries[:, 1:2] + dt, queries[:, 2:3] + 0.5 * dt], axis=-1)
    inside = (xy[..., 0] >= 0) & (xy[..., 0] < W) & (xy[..., 1] >= 0) & (xy[..., 1] < H)
    return xy, inside


def _purge():
    for name in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[name]


@pytest.fixture
def standin(monkeypatch):
    """The stand-in importable as upstream's `models.SpaTrackV2...`; its call records emptied."""
    monkeypatch.delenv("SPATRACKERV2_REPO", raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    _purge()
    monkeypatch.syspath_prepend(str(STANDINS))
    from models.SpaTrackV2.models import predictor
    from models.SpaTrackV2.models.vggt4track.models import vggt_moe

    for module in (predictor, vggt_moe):
        module.CALLS.clear()
        module.LOADED.clear()
    yield predictor, vggt_moe
    _purge()
    torch.set_num_threads(threads)


def _geometry():
    """Dataset depth (T, H, W): 1 + 0.1 t + 0.02 j; intrinsics fx = fy = 50, c = (20, 15); extrinsics: camera t
    rotated t·10° about y and at (0.2 t, 0, -1) in the world."""
    depth = (1 + 0.1 * np.arange(T)[:, None, None] + 0.02 * np.arange(W)[None, None, :]).repeat(H, axis=1)
    k = np.repeat(np.array([[[50, 0, 20], [0, 50, 15], [0, 0, 1]]], np.float32), T, axis=0)
    extrinsics = np.zeros((T, 3, 4), np.float32)
    for t in range(T):
        a = np.deg2rad(10 * t)
        r = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])  # camera-to-world rotation
        centre = np.array([0.2 * t, 0, -1])
        extrinsics[t] = np.concatenate([r.T, (-r.T @ centre)[:, None]], axis=1)
    return depth.astype(np.float32), k, extrinsics


# ---------------------------------------------------------------- contract, front-end path


def test_contract_and_known_motion_with_the_front_end(standin):
    predictor, front = standin
    tracker = SpatialTrackerV2(**FAST)
    result = tracker.track_with_cameras(FRAMES, QUERIES)
    tracks = result.tracks
    n = len(QUERIES)
    assert tracks.xy.shape == (n, T, 2) and tracks.xy.dtype == np.float32
    assert tracks.visible.shape == (n, T) and tracks.visible.dtype == bool
    assert tracks.confidence.dtype == np.float32 and tracks.xyz.shape == (n, T, 3) and tracks.xyz.dtype == np.float32
    assert tracks.xyz_frame == "camera"
    # every frame, before each query's frame too, where the stand-in's motion puts it
    xy, inside = truth(QUERIES, T)
    np.testing.assert_allclose(tracks.xy, xy, atol=1e-4)
    assert np.array_equal(tracks.visible, inside) and not inside.all()  # the last query leaves the frame
    np.testing.assert_allclose(tracks.confidence, np.where(inside, 1.0, 0.2), atol=1e-6)
    assert np.isfinite(tracks.xyz[tracks.visible]).all()

    # what upstream got: one front-end call on frames 56×42 in [0, 1], one tracker call with upstream's arguments
    assert front.LOADED == [FRONT_CHECKPOINT] and predictor.LOADED == [OFFLINE_CHECKPOINT]
    (front_call,) = front.CALLS
    assert front_call["images"].shape == (1, T, 3, 42, 56) and front_call["fx_prev"] is None
    np.testing.assert_allclose(front_call["images"][0, :, 0, 0, 0], 10 * np.arange(T) / 255, atol=1e-5)
    (call,) = predictor.CALLS
    assert call["video"].shape == (T, 3, 42, 56) and call["video"].dtype == torch.float32
    assert (call["full_point"], call["query_no_BA"], call["fixed_cam"], call["stage"]) == (True, True, False, 1)
    assert (call["iters_track"], call["support_frame"], call["track_num"]) == (4, T - 1, 756)
    assert call["replace_ratio"] == 0.2 and call["fps"] == 1
    # queries (t, x, y) in pixel-centre coordinates of the 56×42 input: x·1.4 − 0.5 (hand-computed rows 0 and 1)
    np.testing.assert_allclose(call["queries"][:2], [[0, 13.85, 6.85], [2, 28.55, 20.85]], atol=1e-5)
    # the front end's depth, intrinsics, camera-to-world poses; depth confidence 0.2 in column 0 is masked out
    assert call["depth"].shape == (T, 42, 56)
    np.testing.assert_allclose(call["depth"][3, 0, [0, 28]], [2.75, 3.0], atol=1e-6)
    unc = call["unc_metric"]
    assert unc.dtype == bool and not unc[..., 0].any() and unc[..., 1:].all()
    np.testing.assert_allclose(call["extrs"][:, 0, 3], 0.1 * np.arange(T), atol=1e-6)
    assert tracker.track(FRAMES, QUERIES) == tracks  # track() is track_with_cameras().tracks


def test_3d_points_cameras_and_pixel_convention_with_the_front_end(standin):
    result = SpatialTrackerV2(**FAST).track_with_cameras(FRAMES, QUERIES)
    tracks = result.tracks
    # the front end's intrinsics at 56×42 (f 56, c ((56 − 1)/2, (42 − 1)/2)), converted to 40×30 by hand:
    # f = 56 / 1.4 = 40, c = (27.5 + 0.5) / 1.4 − 0.5 = 19.5, (20.5 + 0.5) / 1.4 − 0.5 = 14.5
    np.testing.assert_allclose(result.intrinsics, np.repeat([[[40, 0, 19.5], [0, 40, 14.5], [0, 0, 1]]], T, 0),
                               atol=1e-5)
    # the 3D points project back onto the 2D tracks with those intrinsics
    xy, z = project(tracks.xyz, result.intrinsics)
    np.testing.assert_allclose(xy, tracks.xy, atol=1e-4)
    # depth: the front end's 2 + 0.25 t + 0.5 j / 56 at the input pixel j containing x·1.4 − 0.5
    column = np.floor(tracks.xy[..., 0] * SCALE - 0.5 + 0.5).clip(0, 55)
    np.testing.assert_allclose(z, 2 + 0.25 * np.arange(T) + 0.5 * column / 56, atol=1e-5)
    # no dataset extrinsics: upstream's world, the first camera; camera t at (0.1 t, 0, 0)
    assert result.world == "first_camera"
    expected = np.zeros((T, 3, 4), np.float32)
    expected[:, :, :3] = np.eye(3)
    expected[:, 0, 3] = -0.1 * np.arange(T)
    np.testing.assert_allclose(result.extrinsics, expected, atol=1e-6)
    world = result.world_tracks()
    assert world.xyz_frame == "world"
    np.testing.assert_allclose(world.xyz[..., 0], tracks.xyz[..., 0] + 0.1 * np.arange(T), atol=1e-5)


def test_single_query_on_the_last_frame(standin):
    predictor, _ = standin
    query = np.array([[T - 1, 30.25, 20.25]], np.float32)
    for backward, calls in (("auto", 1), (True, 2)):
        predictor.CALLS.clear()
        tracks = SpatialTrackerV2(**FAST, backward_tracking=backward).track(FRAMES, query)
        xy, inside = truth(query, T)
        assert tracks.xy.shape == (1, T, 2) and inside.all()
        np.testing.assert_allclose(tracks.xy, xy, atol=1e-4)
        assert tracks.visible.all() and np.isfinite(tracks.xyz).all()
        assert len(predictor.CALLS) == calls


def test_no_queries(standin):
    predictor, front = standin
    result = SpatialTrackerV2(**FAST).track_with_cameras(FRAMES, np.zeros((0, 3), np.float32))
    assert result.tracks.xy.shape == (0, T, 2) and result.extrinsics is None
    assert predictor.CALLS == [] and front.CALLS == []


# ---------------------------------------------------------------- frames before the query's frame


def test_backward_pass_fills_what_upstream_leaves_empty(standin):
    predictor, _ = standin
    frames = np.broadcast_to((10 * np.arange(10, dtype=np.uint8))[:, None, None, None], (10, H, W, 3)).copy()
    queries = np.array([[2, 10.25, 5.25], [4, 30.25, 20.25], [7, 20.25, 15.25]], np.float32)
    xy, inside = truth(queries, 10)
    assert inside.all()

    def run(backward):
        tracker = SpatialTrackerV2(**FAST, backward_tracking=backward, visibility_score="vis_conf")
        tracker.predictor.S_wind, tracker.predictor.overlap = 4, 1  # windows [0, 4), [3, 7), [6, 10)
        predictor.CALLS.clear()
        return tracker.track(frames, queries)

    # without the backward pass: query 2 (first window) is tracked over every frame, query 4 from frame 3 on
    # (second window), query 7 from frame 6 on (third)
    forward_only = run(False)
    assert np.array_equal(forward_only.visible, np.arange(10)[None, :] >= [[0], [3], [6]])
    np.testing.assert_allclose(forward_only.xy[0], xy[0], atol=1e-4)
    # auto: the time-reversed pass for queries 4 and 7 only, as queries t' = 9 − t on the reversed video
    tracks = run("auto")
    assert len(predictor.CALLS) == 2
    reverse = predictor.CALLS[1]
    np.testing.assert_allclose(reverse["queries"], (queries[1:] * [-1, SCALE, SCALE]) + [9, -0.5, -0.5], atol=1e-5)
    np.testing.assert_allclose(reverse["video"][:, 0, 0, 0], 10 * np.arange(10)[::-1], atol=1e-4)
    np.testing.assert_allclose(reverse["depth"], predictor.CALLS[0]["depth"][::-1])
    np.testing.assert_allclose(tracks.xy, xy, atol=1e-4)
    assert tracks.visible.all()
    # the reversed pass (the stand-in's conf 0.8: score 0.96) gives exactly the frames before each query's frame
    reversed_frames = np.arange(10)[None, :] < [[-1], [4], [7]]
    np.testing.assert_allclose(tracks.confidence, np.where(reversed_frames, 0.96, 1.0), atol=1e-6)
    # true: every query with frames before its own goes through the reversed pass
    tracks = run(True)
    np.testing.assert_allclose(tracks.xy, xy, atol=1e-4)
    assert len(predictor.CALLS[1]["queries"]) == 3
    np.testing.assert_allclose(tracks.confidence, np.where(np.arange(10)[None, :] < queries[:, :1], 0.96, 1.0),
                               atol=1e-6)


def test_online_model_and_chunks(standin):
    predictor, front = standin
    online = SpatialTrackerV2(**FAST, online=True)
    assert predictor.LOADED == [ONLINE_CHECKPOINT] and online.predictor.S_wind == 20
    assert online.predictor.moved_to == "cpu"
    whole = SpatialTrackerV2(**FAST).track(FRAMES, QUERIES)
    predictor.CALLS.clear()
    front.CALLS.clear()
    chunked = SpatialTrackerV2(**FAST, max_queries_per_pass=2).track(FRAMES, QUERIES)
    assert [len(c["queries"]) for c in predictor.CALLS] == [2, 2, 1] and len(front.CALLS) == 1
    assert chunked == whole  # the stand-in tracks every point on its own


def test_visibility_score_vis_conf(standin):
    tracks = SpatialTrackerV2(**FAST, visibility_score="vis_conf", visibility_threshold=1.0).track(FRAMES, QUERIES)
    _, inside = truth(QUERIES, T)
    assert np.array_equal(tracks.visible, inside)  # 1.2 · 0.9 = 1.08 > 1 inside; 0.2 · 0.9 outside
    np.testing.assert_allclose(tracks.confidence, np.where(inside, 1.0, 0.18), atol=1e-6)


# ---------------------------------------------------------------- the dataset's geometry


def test_dataset_depth_and_intrinsics_bypass_the_front_end(standin):
    predictor, front = standin
    depth, k, _ = _geometry()
    result = SpatialTrackerV2(**FAST).track_with_cameras(FRAMES, QUERIES, depth=depth, intrinsics=k)
    assert front.LOADED == [] and front.CALLS == []  # never loaded, never called
    (call,) = predictor.CALLS
    # upstream's RGBD mode: native frames 0..255, the dataset's depth and intrinsics as they are, no poses
    assert call["video"].shape == (T, 3, H, W)
    np.testing.assert_allclose(call["video"][:, 0, 0, 0], 10 * np.arange(T))
    assert np.array_equal(call["depth"], depth) and np.array_equal(call["intrs"], k)
    assert call["extrs"] is None and call["unc_metric"] is None
    np.testing.assert_allclose(call["queries"], QUERIES - [0, 0.5, 0.5])
    tracks = result.tracks
    xy, inside = truth(QUERIES, T)
    np.testing.assert_allclose(tracks.xy, xy, atol=1e-4)
    # z is the dataset's depth at the pixel containing the point: 1 + 0.1 t + 0.02 floor(x)
    proj, z = project(tracks.xyz, k)
    column = np.floor(tracks.xy[..., 0]).clip(0, W - 1)
    np.testing.assert_allclose(z, 1 + 0.1 * np.arange(T) + 0.02 * column, atol=1e-5)
    np.testing.assert_allclose(proj, tracks.xy, atol=1e-4)
    np.testing.assert_allclose(result.intrinsics, k, atol=1e-5)


def test_dataset_extrinsics_with_depth_reanchor_upstreams_first_camera_world(standin):
    predictor, _ = standin
    depth, k, extrinsics = _geometry()
    result = SpatialTrackerV2(**FAST).track_with_cameras(FRAMES, QUERIES, depth=depth, intrinsics=k,
                                                         extrinsics=extrinsics)
    (call,) = predictor.CALLS
    # upstream gets camera-to-world poses: camera t's centre (0.2 t, 0, -1)
    np.testing.assert_allclose(call["extrs"][:, :3, 3], np.stack([0.2 * np.arange(T), 0 * np.arange(T),
                                                                   -np.ones(T)], 1), atol=1e-5)
    # the stand-in returns them anchored to its first camera; re-anchoring gives the dataset's cameras back
    assert result.world == "dataset"
    np.testing.assert_allclose(result.extrinsics, extrinsics, atol=1e-5)
    # camera-frame xyz is upstream's track3d as it is; the world-frame version follows the dataset's cameras
    assert result.tracks.xyz_frame == "camera"
    world = result.world_tracks()
    np.testing.assert_allclose(world_to_camera(world.xyz, extrinsics), result.tracks.xyz, atol=1e-5)
    xy, _ = project(world.xyz, k, extrinsics)
    np.testing.assert_allclose(xy, result.tracks.xy, atol=1e-4)


def test_dataset_extrinsics_with_the_front_end_by_hand(standin):
    predictor, _ = standin
    _, _, extrinsics = _geometry()
    # dataset camera 0: world-to-camera rotation 90° about z, translation (1, 2, 3)
    extrinsics[0] = [[0, -1, 0, 1], [1, 0, 0, 2], [0, 0, 1, 3]]
    result = SpatialTrackerV2(**FAST).track_with_cameras(FRAMES, QUERIES, extrinsics=extrinsics)
    (call,) = predictor.CALLS
    np.testing.assert_allclose(call["extrs"][:, 0, 3], 0.1 * np.arange(T), atol=1e-6)  # the front end's poses
    # front-end camera t sits at (0.1 t, 0, 0) of upstream's world (= camera 0); a camera point (a, b, c) at
    # frame t is (a + 0.1 t, b, c) there, and in the dataset's world E(0)⁻¹ (p) = Rᵀ (p − (1, 2, 3)):
    # (b − 2, 1 − a − 0.1 t, c − 3)
    a, b, c = np.moveaxis(result.tracks.xyz.astype(np.float64), -1, 0)
    t = np.arange(T)
    expected = np.stack([b - 2, 1 - a - 0.1 * t, c - 3], axis=-1)
    np.testing.assert_allclose(result.world_tracks().xyz, expected, atol=1e-5)
    np.testing.assert_allclose(to_world(result.tracks, result.extrinsics).xyz, expected, atol=1e-5)
    np.testing.assert_allclose(result.extrinsics[0], extrinsics[0], atol=1e-6)


def test_dataset_intrinsics_alone(standin):
    predictor, front = standin
    _, k, _ = _geometry()
    result = SpatialTrackerV2(**FAST).track_with_cameras(FRAMES, QUERIES, intrinsics=k)
    (front_call,) = front.CALLS
    np.testing.assert_allclose(front_call["fx_prev"], np.full(T, 50 * SCALE), rtol=1e-6)
    np.testing.assert_allclose(front_call["fy_prev"], np.full(T, 70), rtol=1e-6)
    # the tracker gets the dataset's intrinsics at 56×42: f 70, c = (20.5 · 1.4 − 0.5, 15.5 · 1.4 − 0.5)
    np.testing.assert_allclose(predictor.CALLS[0]["intrs"][0], [[70, 0, 28.2], [0, 70, 21.2], [0, 0, 1]], atol=1e-5)
    np.testing.assert_allclose(result.intrinsics, k, atol=1e-5)
    np.testing.assert_allclose(project(result.tracks.xyz, k)[0], result.tracks.xy, atol=1e-4)


def test_dataset_geometry_off_uses_the_front_end(standin):
    predictor, front = standin
    depth, k, extrinsics = _geometry()
    result = SpatialTrackerV2(**FAST, dataset_geometry=False).track_with_cameras(FRAMES, QUERIES, depth, k, extrinsics)
    assert len(front.CALLS) == 1 and result.world == "first_camera"
    assert predictor.CALLS[0]["video"].shape == (T, 3, 42, 56)


def test_pixel_resize_matrix_round_trip():
    # raster x scales exactly: the centre of native pixel 0 (raster 0.5) is raster 0.7 at 1.4×, centre 0.2
    a = pixel_resize_matrix(1.4, 2.0)
    np.testing.assert_allclose(a @ [0, 0, 1], [0.2, 0.5, 1])
    np.testing.assert_allclose(a @ [39, 29, 1], [54.8, 58.5, 1])  # last centres: raster 39.5 · 1.4 = 55.3, 29.5 · 2


# ---------------------------------------------------------------- errors


def test_geometry_errors(standin):
    tracker = SpatialTrackerV2(**FAST)
    depth, k, extrinsics = _geometry()
    with pytest.raises(ValueError, match="'depth' needs 'intrinsics'"):
        tracker.track(FRAMES, QUERIES, depth=depth)
    with pytest.raises(ValueError, match=r"'depth' must be a float array of shape \(6, 30, 40\)"):
        tracker.track(FRAMES, QUERIES, depth=depth[:, :10], intrinsics=k)
    with pytest.raises(ValueError, match="'extrinsics' must be finite"):
        tracker.track(FRAMES, QUERIES, extrinsics=np.full_like(extrinsics, np.nan))
    with pytest.raises(ValueError, match="no valid"):
        tracker.track(FRAMES, QUERIES, depth=np.zeros_like(depth), intrinsics=k)
    with pytest.raises(ValueError, match="taller than wide"):
        tracker.track(FRAMES.transpose(0, 2, 1, 3).copy(), QUERIES[:, [0, 2, 1]].copy())
    with pytest.raises(ValueError, match="frame indices"):
        tracker.track(FRAMES, QUERIES + np.float32([T, 0, 0]))


@pytest.mark.parametrize("key, value, message", [
    ("input_width", 50, "multiple of 14"), ("track_num", -1, "'track_num'"), ("backward_tracking", "sometimes",
    "'backward_tracking'"), ("visibility_score", "conf", "'visibility_score'"), ("precision", "bf16", "needs a CUDA"),
    ("max_queries_per_pass", 0, "'max_queries_per_pass'"), ("device", "tpu", "'device'"),
])
def test_bad_settings(standin, key, value, message):
    with pytest.raises(ValueError, match=message):
        SpatialTrackerV2(**{**FAST, key: value})


def test_without_the_upstream_package_the_error_names_the_install_command(monkeypatch):
    _purge()
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p).resolve() != STANDINS.resolve()])
    with pytest.raises(ImportError) as error:
        SpatialTrackerV2(**FAST)
    message = str(error.value)
    assert "models.SpaTrackV2" in message and "git clone https://github.com/henry123-boy/SpaTrackerV2.git" in message
    assert SPATRACKER_COMMIT in message and "pip install -r SpaTrackerV2/requirements.txt" in message
    with pytest.raises(FileNotFoundError, match="'repo' must be a clone of SpaTrackerV2"):
        SpatialTrackerV2(**FAST, repo=str(STANDINS / "nothere"))
    _purge()


def test_without_cuda_the_error_says_so(standin, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        SpatialTrackerV2(device="auto")
    with pytest.raises(ValueError, match="CUDA is not available"):
        SpatialTrackerV2(device="cuda", precision="fp32")


def test_checkpoint_that_cannot_be_loaded(standin):
    with pytest.raises(RuntimeError, match="huggingface-cli download missing/model"):
        SpatialTrackerV2(**FAST, checkpoint="missing/model")


# ---------------------------------------------------------------- configs and the runner


def test_repo_key_and_config(monkeypatch, tmp_path):
    from hydra import compose, initialize_config_dir

    from pointbench.runner import build, run

    _purge()
    monkeypatch.setattr(sys, "path", list(sys.path))  # the adapter prepends the clone to sys.path
    monkeypatch.setenv("SPATRACKERV2_REPO", str(STANDINS))
    overrides = ["tracker=spatialtracker_v2", "tracker.device=cpu", "tracker.precision=fp32", "tracker.input_width=56",
                 "dataset=synthetic_rgbd", "dataset.num_videos=1", "dataset.num_frames=5", "dataset.height=48",
                 "dataset.width=64", "dataset.num_tracks=12", "dataset.query_mode=strided", "output.rerun=false"]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    assert cfg.tracker.repo == str(STANDINS) and cfg.tracker.track_num == 756 and cfg.tracker.online is False
    name, tracker = build(cfg.tracker, "tracker")
    assert name == "spatialtracker_v2" and isinstance(tracker, SpatialTrackerV2)
    assert str(STANDINS.resolve()) in sys.path
    # through the runner: status ok, 2D and 3D scores (the tracker's own camera-frame xyz)
    result = run(cfg, tmp_path)
    row = result.per_video.iloc[0]
    assert row["status"] == "ok", row["error"]
    assert np.isfinite(row["AJ"]) and np.isfinite(row["AJ3D"])
    with np.load(next((tmp_path / "predictions").glob("*.npz"))) as saved:
        assert saved["xyz"].shape == saved["xy"].shape[:2] + (3,)
    # the runner passed the dataset's depth through: the tracker got it and the front end never ran
    from models.SpaTrackV2.models import predictor

    sample = build(cfg.dataset, "dataset")[1].load(0)
    (call,) = predictor.CALLS[:1]
    np.testing.assert_allclose(np.asarray(call["depth"]).reshape(sample.depth.shape), sample.depth)
    assert not any("Front" in name for name in predictor.LOADED)
    _purge()


def test_config_without_the_environment_variable_and_module_needs_no_torch():
    code = ("import os, sys, pointbench, pointbench.trackers.spatialtracker\n"
            "os.environ.pop('SPATRACKERV2_REPO', None)\n"
            "from hydra import compose, initialize_config_dir\n"
            f"with initialize_config_dir(config_dir={CONF!r}, version_base='1.3'):\n"
            "    cfg = compose(config_name='config', overrides=['tracker=spatialtracker_v2'])\n"
            "assert cfg.tracker.repo is None, cfg.tracker.repo\n"
            "assert cfg.tracker.checkpoint is None and cfg.tracker.device == 'auto'\n"
            "assert 'torch' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_to_world_needs_camera_xyz():
    tracks = Tracks(xy=np.zeros((1, 2, 2), np.float32), visible=np.ones((1, 2), bool))
    with pytest.raises(ValueError, match="camera-frame xyz"):
        to_world(tracks, np.zeros((2, 3, 4), np.float32))
    camera = Tracks(xy=tracks.xy, visible=tracks.visible, xyz=np.array([[[1, 2, 3], [1, 2, 3]]], np.float32),
                    xyz_frame="camera")
    extrinsics = np.array([np.eye(3, 4), np.eye(3, 4)], np.float32)
    extrinsics[1, :, 3] = [0, 0, -1]  # camera 1 at z = 1 in the world
    world = to_world(camera, extrinsics)
    assert world.xyz_frame == "world" and world.xy is camera.xy
    np.testing.assert_allclose(world.xyz, [[[1, 2, 3], [1, 2, 4]]])
