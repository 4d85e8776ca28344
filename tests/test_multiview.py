"""multiview_npz: a synthetic two-camera recording of a textured ground plane, rendered here with
exact depth; loading in every accepted layout, query sampling, errors, and the runner's merged
world-frame output checked against ray-plane intersections computed independently."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.datasets.multiview import MultiViewNpzDataset, NpzArrays, sample_mask_points
from pointbench.datasets.safe_pickle import UnsafePickleError
from pointbench.geometry import lift, project
from pointbench.runner import run

CONF = str(Path(pointbench.__file__).parent / "conf")
C, T, H, W = 2, 4, 40, 56
CAMERA_IDS = [3, 7]
DOWN = np.array([[1.0, 0, 0], [0, -1, 0], [0, 0, -1]])  # camera looking down at the ground plane Z = 0


def _rotation(rx, ry, rz) -> np.ndarray:
    return cv2.Rodrigues(np.array([rx, ry, rz], np.float64))[0]


def _scene(moving: bool) -> dict:
    """Two cameras over the plane Z = 0 (camera 7 turned 90° about its axis), per-frame geometry.

    Returns rgbs (C, T, H, W, 3), depths, intrs (C, T, 3, 3), extrs (C, T, 3, 4), masks
    {instance: (C, T, H, W) bool} and the camera centres (C, T, 3).
    """
    rotations = [_rotation(0.10, -0.05, 0.0) @ DOWN, _rotation(-0.08, 0.12, np.pi / 2) @ DOWN]
    centres = np.array([[0.2, -0.3, 4.0], [-0.5, 0.4, 3.5]])
    ks = [np.array([[50.0, 0, 27.5], [0, 52, 19.5], [0, 0, 1]]), np.array([[45.0, 0, 28], [0, 45, 20], [0, 0, 1]])]
    rgbs = np.zeros((C, T, H, W, 3), np.uint8)
    depths = np.zeros((C, T, H, W), np.float32)
    intrs, extrs = np.zeros((C, T, 3, 3)), np.zeros((C, T, 3, 4))
    all_centres = np.zeros((C, T, 3))
    masks = {"box": np.zeros((C, T, H, W), bool), "lid": np.zeros((C, T, H, W), bool)}
    i, j = np.mgrid[0:H, 0:W]
    pixels = np.stack([j, i, np.ones_like(i)], axis=-1).astype(np.float64)  # OpenCV pixel centres
    for c in range(C):
        for t in range(T):
            r = (_rotation(0.02 * t, 0, 0.03 * t) if moving else np.eye(3)) @ rotations[c]
            centre = centres[c] + (np.array([0.05, -0.04, 0.1]) * t if moving else 0)
            extrs[c, t] = np.column_stack([r, -r @ centre])
            intrs[c, t], all_centres[c, t] = ks[c], centre
            rays = pixels @ np.linalg.inv(ks[c]).T @ r  # world directions of unit-z camera rays
            s = -centre[2] / rays[..., 2]
            world = centre + s[..., None] * rays
            x, y = world[..., 0], world[..., 1]
            rgbs[c, t, ..., 0] = 128 + 100 * np.sin(3 * x)
            rgbs[c, t, ..., 1] = 128 + 100 * np.sin(2.5 * y)
            rgbs[c, t, ..., 2] = 60 + 120 * ((np.floor(2 * x) + np.floor(2 * y)) % 2)
            depths[c, t] = s  # z-depth: the camera ray has unit z
            masks["box"][c, t] = (np.abs(x - 0.1 - 0.05 * t) < 0.5) & (np.abs(y + 0.1) < 0.5)
            masks["lid"][c, t] = (np.abs(x + 0.9) < 0.3) & (np.abs(y - 0.6) < 0.3)
    depths[0, :, :, 20:24] = 0  # invalid depth over part of the box: points there are not lifted
    masks["lid"][1, :2] = False  # the lid is first segmented at frame 2 in camera 7
    for name, m in masks.items():
        assert m.reshape(C, T, -1).any(-1)[:, 2:].all(), f"instance {name} must be seen by both cameras"
    return dict(rgbs=rgbs, depths=depths, intrs=intrs, extrs=extrs, masks=masks, centres=all_centres)


STILL = _scene(moving=False)


def _write(path: Path, scene: dict, rgb_layout="last", per_frame=True, masks="slash", compressed=False,
           extra: dict | None = None, drop: tuple = ()) -> Path:
    arrays = dict(rgbs=scene["rgbs"] if rgb_layout == "last" else scene["rgbs"].transpose(0, 1, 4, 2, 3),
                  depths=scene["depths"], camera_ids=np.array(CAMERA_IDS))
    if per_frame:
        arrays.update(intrs=scene["intrs"], extrs=scene["extrs"])
    else:
        arrays.update(intrs=scene["intrs"][:, 0], extrs=scene["extrs"][:, 0])
    m = scene["masks"]
    if masks == "slash":
        arrays.update({f"sam2_masks/{k}": v for k, v in m.items()})
    elif masks == "underscore":
        arrays.update({f"sam2_masks_{k}": v.astype(np.uint8) for k, v in m.items()})
    elif masks == "stacked":
        arrays.update(sam2_masks=np.stack(list(m.values()), axis=1), instance_ids=np.array(list(m)))
    elif masks == "single":
        arrays.update(sam2_masks=m["box"])
    elif masks == "dict":
        arrays.update(sam2_masks=np.array(m, dtype=object))
    arrays.update(extra or {})
    for key in drop:
        arrays.pop(key)
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def _load_all(dataset):
    return [dataset.load(i) for i in range(len(dataset))]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = _write(tmp_path_factory.mktemp("mv") / "scene.npz", STILL)
    dataset = MultiViewNpzDataset(str(path), max_points_per_mask=12)
    return dataset, _load_all(dataset)


def test_samples_per_camera(reference):
    dataset, samples = reference
    assert dataset.names == ["scene/cam3", "scene/cam7"]
    for c, sample in enumerate(samples):
        assert sample.gt is None and sample.frames.shape == (T, H, W, 3)
        np.testing.assert_array_equal(sample.frames, STILL["rgbs"][c])
        np.testing.assert_array_equal(sample.depth, STILL["depths"][c])
        assert sample.intrinsics.dtype == sample.extrinsics.dtype == np.float32
        np.testing.assert_allclose(sample.intrinsics, STILL["intrs"][c], rtol=1e-6)
        np.testing.assert_allclose(sample.extrinsics, STILL["extrs"][c], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("variant", [
    dict(rgb_layout="first"), dict(per_frame=False), dict(masks="underscore"), dict(masks="stacked"),
    dict(compressed=True), dict(rgb_layout="first", per_frame=False, masks="stacked", compressed=True),
])
def test_every_layout_loads_the_same(tmp_path, reference, variant):
    dataset = MultiViewNpzDataset(str(_write(tmp_path / "scene.npz", STILL, **variant)), max_points_per_mask=12)
    assert dataset.names == reference[0].names
    for index, (sample, expected) in enumerate(zip(_load_all(dataset), reference[1])):
        for key in ("frames", "queries", "depth", "intrinsics", "extrinsics"):
            np.testing.assert_array_equal(getattr(sample, key), getattr(expected, key), err_msg=key)
        for ids, expected_ids in zip(dataset.query_ids(index), reference[0].query_ids(index)):
            np.testing.assert_array_equal(ids, expected_ids)


def test_fortran_ordered_arrays_read_per_camera(tmp_path):
    depths = np.asfortranarray(STILL["depths"])
    path = _write(tmp_path / "scene.npz", STILL, extra=dict(depths=depths))
    arrays = NpzArrays(path)
    for c in range(C):
        np.testing.assert_array_equal(arrays.read("depths", c), STILL["depths"][c])
        np.testing.assert_array_equal(arrays.read("rgbs", c), STILL["rgbs"][c])
    np.testing.assert_array_equal(arrays.read("depths"), STILL["depths"])


def test_single_stacked_mask_is_instance_0(tmp_path, reference):
    dataset = MultiViewNpzDataset(str(_write(tmp_path / "s.npz", STILL, masks="single")), max_points_per_mask=12)
    for index in range(C):
        cameras, instances = reference[0].query_ids(index)
        box = instances == "box"
        np.testing.assert_array_equal(dataset.load_annotations(index).queries,
                                      reference[0].load_annotations(index).queries[box])
        assert set(dataset.query_ids(index)[1]) == {"0"}


def test_queries_lie_in_the_mask_at_its_first_frame(reference):
    dataset, samples = reference
    for c, sample in enumerate(samples):
        cameras, instances = dataset.query_ids(c)
        assert (cameras == CAMERA_IDS[c]).all() and len(cameras) == len(sample.queries)
        for name in ("box", "lid"):
            q = sample.queries[instances == name]
            mask = STILL["masks"][name][c]
            first = int(np.argmax(mask.reshape(T, -1).any(axis=1)))
            assert first == (2 if (name, c) == ("lid", 1) else 0)
            assert len(q) == 12 and (q[:, 0] == first).all()
            x, y = q[:, 1], q[:, 2]
            np.testing.assert_array_equal(x % 1, 0.5)  # pixel centres
            np.testing.assert_array_equal(y % 1, 0.5)
            rows, cols = (y - 0.5).astype(int), (x - 0.5).astype(int)
            assert mask[first, rows, cols].all()
            # more than mask_margin = 2 px inside the mask
            inside = cv2.distanceTransform(mask[first].astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            assert (inside[rows, cols] > 2).all()
            assert len(set(zip(rows, cols))) == len(rows)


def test_mask_points_are_spread_evenly():
    mask = np.zeros((50, 60), bool)
    mask[10:30, 20:40] = True  # a 20×20 square
    points = sample_mask_points(mask, 16)
    assert points.shape == (16, 2) and mask[points[:, 0], points[:, 1]].all()
    assert len({tuple(p) for p in points}) == 16
    top, left = points[:, 0] < 20, points[:, 1] < 30
    for quadrant in (top & left, top & ~left, ~top & left, ~top & ~left):
        assert quadrant.sum() >= 3
    # Every mask pixel is within 20 / sqrt(16) = 5 px of a chosen one (the first 16 pixels in
    # raster order would leave pixels 19 px away; a 4×4 grid would do 3.5).
    pixels = np.argwhere(mask)
    gaps = np.sqrt(((pixels[:, None] - points[None]) ** 2).sum(-1)).min(axis=1)
    assert gaps.max() <= 5.0
    # Fewer pixels than asked for: all of them; margin keeps the deep pixels only.
    small = np.zeros((9, 9), bool)
    small[2:5, 3:6] = True
    np.testing.assert_array_equal(sample_mask_points(small, 50), np.argwhere(small))
    np.testing.assert_array_equal(sample_mask_points(small, 50, margin=1.0), [[3, 4]])
    np.testing.assert_array_equal(sample_mask_points(small, 50, margin=5.0), np.argwhere(small))  # none that deep


def test_load_annotations_reads_no_rgb(reference, monkeypatch):
    dataset, samples = reference
    read = []
    original = NpzArrays.read
    monkeypatch.setattr(NpzArrays, "read", lambda self, key, index=None: read.append(key) or original(self, key, index))
    fresh = MultiViewNpzDataset(str(dataset.recordings[0].path), max_points_per_mask=12)
    video = fresh.load_annotations(1)
    assert "rgbs" not in read and video.image_size == (H, W) and video.n_frames == T
    np.testing.assert_array_equal(video.queries, samples[1].queries)
    np.testing.assert_array_equal(video.depth, samples[1].depth)
    np.testing.assert_array_equal(video.extrinsics, samples[1].extrinsics)


class Payload:
    """A class a pickle may name: the restricted unpickler must refuse it."""

    def __reduce__(self):
        return (print, ("pickle ran code",))


def test_pickled_dict_of_masks_needs_allow_pickle(tmp_path, reference):
    path = _write(tmp_path / "d.npz", STILL, masks="dict")
    refused = MultiViewNpzDataset(str(path))
    assert refused.names == ["d.npz (unreadable)"]
    with pytest.raises(ValueError, match=r"'sam2_masks' is a pickled object array.*allow_pickle"):
        refused.load(0)
    dataset = MultiViewNpzDataset(str(path), max_points_per_mask=12, allow_pickle=True)
    for index in range(C):
        np.testing.assert_array_equal(dataset.load(index).queries, reference[1][index].queries)
        np.testing.assert_array_equal(dataset.query_ids(index)[1], reference[0].query_ids(index)[1])
    evil = tmp_path / "evil.npz"
    _write(evil, STILL, masks="dict", extra=dict(sam2_masks=np.array({"box": Payload()}, dtype=object)))
    with pytest.raises(UnsafePickleError, match="print"):
        MultiViewNpzDataset(str(evil), allow_pickle=True).load(0)


@pytest.mark.parametrize("change, message", [
    (dict(drop=("depths",)), r"missing key 'depths'.*keys found"),
    (dict(drop=("extrs",)), r"missing key 'extrs'"),
    (dict(masks="none"), r"missing key 'sam2_masks'.*'sam2_masks/<instance>'"),
    (dict(extra=dict(intrs=np.zeros((C, 4, 4)))), r"'intrs' must be .*got float64 \(2, 4, 4\)"),
    (dict(extra=dict(rgbs=np.zeros((C, T, H, W, 4), np.uint8))), r"'rgbs' must be .*got uint8 \(2, 4, 40, 56, 4\)"),
    (dict(extra=dict(depths=np.zeros((C, T, H, W + 1)))), r"'depths' must be .*got float64 \(2, 4, 40, 57\)"),
    (dict(extra={"sam2_masks/box": np.zeros((C, T, H, W), np.float32)}), r"'sam2_masks/box' must be a bool or integer"),
    (dict(extra=dict(camera_ids=np.array([1, 1]))), r"'camera_ids' must be unique"),
    (dict(extra=dict(intrs=np.zeros((C, 3, 3)))), r"'intrs' must be finite intrinsics .* with fx, fy > 0"),
    (dict(extra=dict(intrs=np.tile(np.diag([50.0, 50, 0]), (C, 1, 1)))), r"'intrs' must be finite intrinsics"),
    (dict(extra=dict(extrs=np.full((C, 3, 4), np.nan))), r"'extrs' must be finite rigid transforms"),
    (dict(extra=dict(extrs=np.tile(np.diag([2.0, 1, 1, 0])[:3], (C, 1, 1)))), r"'extrs' must be finite rigid"),
    (dict(extra=dict(rgbs=np.zeros((C, T, 0, 0, 3), np.uint8))), r"'rgbs' must be"),
])
def test_errors_name_the_file_and_key(tmp_path, change, message):
    path = _write(tmp_path / "bad.npz", STILL, **change)
    dataset = MultiViewNpzDataset(str(path))  # listing never fails: the file is one error row
    assert dataset.names == ["bad.npz (unreadable)"] and dataset.scene(0) == "bad"
    for load in (dataset.load, dataset.load_annotations, dataset.query_ids):
        with pytest.raises(ValueError, match=message) as error:
            load(0)
        assert str(path) in str(error.value)


def _world_of_pixel(xy: np.ndarray, k: np.ndarray, extr: np.ndarray) -> np.ndarray:
    """Where the ray through raster position `xy` (P, 2) meets the plane Z = 0 (independent of lift)."""
    r, t = extr[:, :3], extr[:, 3]
    centre = -r.T @ t
    rays = np.column_stack([xy - 0.5, np.ones(len(xy))]) @ np.linalg.inv(k).T @ r
    return centre + (-centre[2] / rays[:, 2])[:, None] * rays


def test_runner_merges_cameras_in_the_world_frame(tmp_path):
    scene = _scene(moving=True)
    path = _write(tmp_path / "walk.npz", scene)
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "tracker=static", "dataset=multiview_npz", f"dataset.path={path}", "dataset.max_points_per_mask=10",
            "output.rerun=false"])
    result = run(cfg, tmp_path / "out")
    assert list(result.per_video["video"]) == ["walk/cam3", "walk/cam7"]
    assert (result.per_video["status"] == "unscored").all()
    with np.load(tmp_path / "out" / "multiview" / "walk.npz", allow_pickle=False) as f:
        merged = {k: f[k] for k in f.files}
    assert not list((tmp_path / "out").rglob("*.tmp"))

    dataset = MultiViewNpzDataset(str(path), max_points_per_mask=10)
    queries = [dataset.load_annotations(i).queries for i in range(C)]
    ids = [dataset.query_ids(i) for i in range(C)]
    m = sum(len(q) for q in queries)
    assert merged["xy"].shape == (m, T, 2) and merged["xyz_world"].shape == (m, T, 3)
    assert merged["visible"].shape == (m, T) and merged["visible"].all()
    np.testing.assert_array_equal(merged["queries"], np.concatenate(queries))
    np.testing.assert_array_equal(merged["camera_id"], np.concatenate([c for c, _ in ids]))
    np.testing.assert_array_equal(merged["instance_id"], np.concatenate([i for _, i in ids]))
    assert merged["instance_id"].dtype.kind == "U" and set(merged["instance_id"]) == {"box", "lid"}
    np.testing.assert_array_equal(merged["cameras"], CAMERA_IDS)
    np.testing.assert_allclose(merged["extrinsics"], scene["extrs"], atol=1e-6)

    # Static tracker: every frame's world point is where the query pixel's ray meets the plane at
    # that frame's camera pose, NaN where the depth is invalid.
    camera_of = {cid: c for c, cid in enumerate(CAMERA_IDS)}
    n_nan = 0
    for row in range(m):
        c = camera_of[int(merged["camera_id"][row])]
        xy = merged["queries"][row, 1:]
        np.testing.assert_array_equal(merged["xy"][row], np.broadcast_to(xy, (T, 2)))
        for t in range(T):
            got = merged["xyz_world"][row, t]
            if scene["depths"][c, t, int(xy[1]), int(xy[0])] == 0:
                assert np.isnan(got).all()
                n_nan += 1
                continue
            expected = _world_of_pixel(xy[None], scene["intrs"][c, t], scene["extrs"][c, t])[0]
            np.testing.assert_allclose(got, expected, atol=1e-4)
            assert abs(got[2]) < 1e-4  # on the ground plane
    assert 0 < n_nan < m * T

    # Two cameras agree: a camera-7 world point, projected into camera 3 and lifted there with
    # camera 3's own depth, is the same world point.
    cam7 = np.flatnonzero(merged["camera_id"] == 7)
    world = merged["xyz_world"][cam7]
    xy3, _ = project(world.astype(np.float64), scene["intrs"][0], scene["extrs"][0])
    visible = np.isfinite(xy3).all(-1) & (xy3 >= 1).all(-1) & (xy3[..., 0] < W - 1) & (xy3[..., 1] < H - 1)
    # where camera 3's depth is valid at all four pixels around the point (so it is interpolated)
    j0, i0 = (np.floor(np.nan_to_num(xy3) - 0.5).astype(int).clip(0, [W - 2, H - 2]) ).transpose(2, 0, 1)
    frame = np.broadcast_to(np.arange(T), j0.shape)
    for di in (0, 1):
        for dj in (0, 1):
            visible &= scene["depths"][0][frame, i0 + di, j0 + dj] > 0
    _, again, lifted = lift(np.nan_to_num(xy3).astype(np.float32), visible, scene["depths"][0].astype(np.float32),
                            scene["intrs"][0], scene["extrs"][0])
    assert lifted.sum() > 20
    np.testing.assert_allclose(again[lifted], world[lifted], atol=1e-4)


def test_combine_lifts_2d_only_predictions_and_skips_missing_cameras(tmp_path, reference):
    from pointbench.trackers.static import StaticTracker

    dataset, samples = reference
    pred = StaticTracker().track(samples[1].frames, samples[1].queries)
    assert pred.xyz is None
    (written,) = dataset.combine_predictions({"scene/cam7": pred}, tmp_path)
    assert written == tmp_path / "multiview" / "scene.npz"
    with np.load(written) as f:
        assert list(f["cameras"]) == [7] and (f["camera_id"] == 7).all()
        _, expected, _ = lift(pred.xy, pred.visible, samples[1].depth, samples[1].intrinsics, samples[1].extrinsics)
        np.testing.assert_array_equal(f["xyz_world"], expected)
    assert dataset.combine_predictions({}, tmp_path / "none") == []
