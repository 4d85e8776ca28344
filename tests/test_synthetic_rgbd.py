"""Ray-cast RGB-D videos: analytic depth, 2D/3D consistency, occlusion, rigid motion, determinism, the runner."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

import pointbench
from pointbench.datasets.synthetic_rgbd import (Scene, SceneObject, SyntheticRGBDDataset, cast_rays, look_at, render,
                                                sample_surface_points, surface_tracks)
from pointbench.geometry import camera_to_world, lift, project
from pointbench.runner import run
from pointbench.types import Annotations

CONF = str(Path(pointbench.__file__).parent / "conf")
SMALL = dict(num_videos=2, num_frames=12, height=96, width=128, num_tracks=96)


def _still(n_frames: int, position=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    return np.tile(np.eye(3), (n_frames, 1, 1)), np.tile(np.asarray(position, float), (n_frames, 1))


def _ground(n_frames: int, half: float = 100.0) -> SceneObject:
    return SceneObject("plane", [half, half], *_still(n_frames))


def _k(f: float, height: int, width: int) -> np.ndarray:
    return np.array([[f, 0, width / 2 - 0.5], [0, f, height / 2 - 0.5], [0, 0, 1]])


def _inside(xy, height, width, margin=0.0):
    with np.errstate(invalid="ignore"):
        return ((xy[..., 0] >= margin) & (xy[..., 0] < width - margin)
                & (xy[..., 1] >= margin) & (xy[..., 1] < height - margin))


def _corner_pixels(xy, height, width):
    """(t, i, j) index arrays `(N, T, 2, 2)` of the four pixel centres around each raster position, and a
    mask of the positions that have four distinct ones (not in the frame's outer half pixel)."""
    u, v = np.nan_to_num(xy[..., 0]) - 0.5, np.nan_to_num(xy[..., 1]) - 0.5
    t = np.broadcast_to(np.arange(xy.shape[1])[:, None, None], xy.shape[:2] + (2, 2))
    j = np.clip(np.floor(u).astype(int)[..., None, None] + np.array([[0, 1]]), 0, width - 1)
    i = np.clip(np.floor(v).astype(int)[..., None, None] + np.array([[0], [1]]), 0, height - 1)
    i, j = np.broadcast_arrays(i, j)
    return (t, i, j), _inside(xy, height, width, margin=0.5)


# --------------------------------------------------------------------------- analytic depth


def test_camera_looking_straight_down_sees_its_height_everywhere():
    h, height, width = 2.5, 30, 40
    e = look_at([[0.3, -0.2, h], [1.0, 0.5, h]], [[0.3, -0.2, 0.0], [1.0, 0.5, 0.0]])
    r = render(Scene([_ground(2)], _k(35.0, height, width), e, height, width), colour=False)
    assert r.depth.shape == (2, height, width) and r.depth.dtype == np.float32
    np.testing.assert_allclose(r.depth, h, rtol=1e-6)
    assert (r.object_index == 0).all()


def test_tilted_camera_depth_matches_closed_form_and_sky_is_zero():
    # Eye (0, 0, h) looking at (0, d, 0): with forward f = (0, d, -h)/n and down = f × right = (0, f_z, -f_y),
    # the ray K⁻¹(j, i, 1) meets z = 0 at camera depth h·n / (b·d + h), b = (i - c_y) / f_y; none where b·d + h <= 0.
    h, d, height, width, f = 2.0, 8.0, 48, 64, 40.0
    k = _k(f, height, width)
    r = render(Scene([_ground(1)], k, look_at([0, 0, h], [0, d, 0]), height, width), colour=False)
    b = (np.arange(height) - k[1, 2]) / f
    denominator = (b * d + h)[:, None].repeat(width, axis=1)
    with np.errstate(divide="ignore"):
        expected = np.where(denominator > 0, h * np.hypot(d, h) / denominator, 0.0)
    near = (expected > 0) & (expected < 30)  # well inside the 200 m square
    assert near.sum() > 0.3 * near.size and (expected == 0).sum() > 0.15 * near.size
    np.testing.assert_allclose(r.depth[0][near], expected[near], rtol=1e-6)
    assert (r.depth[0][expected == 0] == 0).all() and (r.object_index[0][expected == 0] == -1).all()


def _inside_object(obj, t, points, thickness=0.05):
    """Whether world points (..., 3) are inside an object (for a plane: a slab of `thickness` under it); no ray casting."""
    local = (points - obj.translations[t]) @ obj.rotations[t]
    if obj.kind == "plane":
        return (local[..., 2] <= 0) & (local[..., 2] >= -thickness) & (np.abs(local[..., :2]) <= obj.size).all(-1)
    if obj.kind == "box":
        return (np.abs(local) <= obj.size).all(-1)
    return np.linalg.norm(local, axis=-1) <= obj.size[0]


def test_depth_and_object_maps_match_ray_marching():
    # Independent of the analytic intersections: march every pixel's ray in 1 cm steps until it enters
    # an object, then bisect to the surface. The ground is a slab as thick as a step descends, so no
    # ray skips it. Only chords shorter than a step can be missed, and a ray that misses the square
    # but enters its slab through the side within a step of the edge is found.
    height, width, step = 40, 48, 0.01
    tumble = np.array([[0.36, -0.48, 0.8], [0.8, 0.6, 0.0], [-0.48, 0.64, 0.6]])  # a rotation
    objects = [_ground(1, 3.0),
               SceneObject("box", [0.5, 0.3, 0.4], tumble[None], np.array([[0.2, 0.4, 1.0]])),
               SceneObject("sphere", [0.45], tumble[None], np.array([[-0.9, -0.3, 0.45]])),
               SceneObject("box", [0.3, 0.6, 0.25], np.eye(3)[None], np.array([[1.0, -0.8, 0.25]]))]
    scene = Scene(objects, _k(40.0, height, width), look_at([3.0, -3.5, 2.5], [0, 0, 0.3]), height, width)
    r = render(scene, colour=False)
    i, j = np.mgrid[0:height, 0:width]
    xy = np.stack([j.ravel() + 0.5, i.ravel() + 0.5], 1)
    rotation = scene.extrinsics[0, :, :3]
    rays = np.concatenate([xy - 0.5, np.ones((len(xy), 1))], 1) @ np.linalg.inv(scene.intrinsics).T @ rotation
    eye = scene.camera_centres()[0]
    s = np.arange(1.0, 10.0, step)
    hit_any = np.zeros((len(xy), len(s)), bool)
    thickness = 1.01 * step * np.abs(rays[:, 2:])  # per ray (P, 1)
    for obj in objects:
        hit_any |= _inside_object(obj, 0, eye + s[None, :, None] * rays[:, None], thickness)
    found = hit_any.any(1)
    lo, hi = s[hit_any.argmax(1)] - step, s[hit_any.argmax(1)]
    for _ in range(40):
        mid = (lo + hi) / 2
        inside = np.zeros(len(xy), bool)
        for obj in objects:
            inside |= _inside_object(obj, 0, eye + mid[:, None] * rays, thickness[:, 0])
        lo, hi = np.where(inside, lo, mid), np.where(inside, mid, hi)
    marched = np.where(found, hi, 0.0)
    which = np.full(len(xy), -1)
    for k, obj in enumerate(objects):
        which[found & _inside_object(obj, 0, eye + (hi + 1e-6)[:, None] * rays, thickness[:, 0])] = k
    agree = r.object_index[0].ravel() == which
    assert agree.mean() > 0.99 and len(np.unique(which)) == 5  # every object and the sky are seen
    np.testing.assert_allclose(r.depth[0].ravel()[agree], marched[agree], rtol=1e-6, atol=1e-6)
    # Where marching found nothing, the renderer's hit is a chord shorter than a step: a 0.1 mm march finds it.
    side = (which == 0) & (r.object_index[0].ravel() == -1)
    edge = np.abs(eye[:2] + hi[:, None] * rays[:, :2]).max(1)
    assert (edge[side] > objects[0].size[0] - 0.02).all()
    missed = np.flatnonzero(~agree & ~side)
    assert (which[missed] == -1).all()
    for p in missed:
        depth, k = r.depth[0].ravel()[p], r.object_index[0].ravel()[p]
        fine = depth + np.arange(-0.01, 0.01, 1e-4)
        inside = _inside_object(objects[k], 0, eye + fine[:, None] * rays[p])
        assert inside.any() and abs(fine[inside.argmax()] - depth) <= 1.01e-4


# --------------------------------------------------------------------------- plane only: exact everything


def _plane_scene(n_frames=10, height=48, width=64, h=3.0):
    """A camera at height h looking straight down, sliding along +x (so the ground moves left in the image)."""
    eyes = np.stack([np.linspace(0, 4, n_frames), np.full(n_frames, 0.5), np.full(n_frames, h)], 1)
    return Scene([_ground(n_frames)], _k(50.0, height, width), look_at(eyes, eyes * [1, 1, 0]), height, width)


def test_plane_tracks_project_lift_and_leave_the_frame_exactly():
    scene, h = _plane_scene(), 3.0
    index, local = sample_surface_points(scene, np.random.default_rng(0), 60)
    assert len(index) == 60 and (index == 0).all() and np.allclose(local[:, 2], 0)
    gt, world = surface_tracks(scene, index, local)
    k, e = scene.intrinsics, scene.extrinsics
    # Independent closed form: looking down, image x is world +x and image y is world -y.
    eye = scene.camera_centres()
    x = k[0, 0] * (world[..., 0] - eye[:, 0]) / h + k[0, 2] + 0.5
    y = k[1, 1] * -(world[..., 1] - eye[:, 1]) / h + k[1, 2] + 0.5
    np.testing.assert_allclose(gt.xy, np.stack([x, y], -1), atol=1e-4)
    np.testing.assert_allclose(gt.xyz[..., 2], h, rtol=1e-6)
    # Nothing occludes the ground: visible exactly where inside the frame; points do leave it.
    inside = _inside(gt.xy, scene.height, scene.width)
    np.testing.assert_array_equal(gt.visible, inside)
    assert (~gt.visible).sum() > 50 and gt.visible.sum() > 100
    # Lifting with the rendered depth recovers xyz exactly (the depth is h everywhere).
    depth = render(scene, colour=False).depth
    cam, wrl, lifted = lift(gt.xy, gt.visible, depth, k.astype(np.float32), e.astype(np.float32))
    np.testing.assert_array_equal(lifted, gt.visible)
    np.testing.assert_allclose(cam[gt.visible], gt.xyz[gt.visible], atol=1e-5)
    np.testing.assert_allclose(wrl[gt.visible], world[gt.visible], atol=1e-4)


def test_oblique_plane_lift_within_the_bilinear_bound():
    # z of a plane is 1 / (linear in the pixel), so bilinear interpolation between pixel centres is off
    # by about (Δz/z per pixel)² / 4 relative; g² (g = max/min - 1 over the 2×2 block) bounds it with margin.
    # Where g >= 4.99 % sample_depth takes the nearest centre instead, and the error is below g itself
    # (z is monotone across the block).
    n_frames, height, width = 4, 64, 96
    eyes = np.stack([np.zeros(n_frames), np.linspace(-6, -5, n_frames), np.full(n_frames, 3.0)], 1)
    scene = Scene([_ground(n_frames, 10.0)], _k(80.0, height, width), look_at(eyes, [0, 1, 0]), height, width)
    gt, _ = surface_tracks(scene, *sample_surface_points(scene, np.random.default_rng(1), 200))
    depth = render(scene, colour=False).depth
    cam, _, lifted = lift(gt.xy, gt.visible, depth, scene.intrinsics)
    pixels, interior = _corner_pixels(gt.xy, height, width)
    corners = depth[pixels]
    ok = gt.visible & interior & (corners > 0).all((-1, -2))
    assert ok.sum() > 500 and (lifted[ok]).all()
    g = corners.max((-1, -2))[ok] / corners.min((-1, -2))[ok] - 1
    rel = np.abs(cam[..., 2] - gt.xyz[..., 2])[ok] / gt.xyz[..., 2][ok]
    bilinear = g < 0.0499
    assert (rel[bilinear] <= g[bilinear] ** 2 + 1e-6).all() and (rel <= g + 1e-6).all()
    assert bilinear.mean() > 0.5 and g[bilinear].max() > 0.02  # the bound is exercised, not trivially zero


# --------------------------------------------------------------------------- occlusion


def test_point_behind_a_passing_box_is_occluded_exactly_when_the_box_is_in_the_way():
    n_frames, height, width = 21, 48, 64
    half = np.array([0.4, 0.4, 0.5])
    rotations, _ = _still(n_frames)
    path = np.stack([np.linspace(-2.5, 2.5, n_frames), np.zeros(n_frames), np.full(n_frames, 0.5)], 1)
    box = SceneObject("box", half, rotations, path)
    eye, target = np.array([0.0, -6.0, 2.0]), np.array([0.0, 2.0, 0.0])
    scene = Scene([_ground(n_frames, 10.0), box], _k(50.0, height, width),
                  look_at(np.tile(eye, (n_frames, 1)), target), height, width)
    gt, _ = surface_tracks(scene, np.array([0, 1, 1]),
                           np.array([target, [0.0, -0.4, 0.1], [0.0, 0.4, 0.1]]))  # ground; near and far box face
    # Independently: is any point of the segment eye -> target (ends excluded) inside the box?
    s = np.linspace(0.001, 0.999, 4000)[:, None]
    segment = eye + s * (target - eye)
    blocked = np.array([(np.abs(segment - path[t]) < half).all(1).any() for t in range(n_frames)])
    assert blocked.any() and (~blocked).any()
    np.testing.assert_array_equal(gt.visible[0], ~blocked)
    near_in_frame = _inside(gt.xy[1], height, width)
    np.testing.assert_array_equal(gt.visible[1], near_in_frame)  # faces the camera
    assert near_in_frame.any() and not gt.visible[2].any()  # the far face never does
    depth, index, _ = cast_rays(scene, int(np.argmax(blocked)), gt.xy[0, np.argmax(blocked)][None])
    assert index[0] == 1 and depth[0] < gt.xyz[0, np.argmax(blocked), 2]


def test_occlusion_needs_no_depth_slack_and_surfaces_are_one_sided():
    # A 2 cm thin wall hides ground points 1–3 cm behind it: their depths differ from the wall's by
    # ~0.5 % only, which a depth test at pixel centres could not resolve. Seen from below, the
    # ground (whose surface is its top) shows nothing, though its rays do hit the plane.
    height, width = 48, 64
    wall = SceneObject("box", [1.0, 0.01, 0.5], *_still(1, (0.0, 0.0, 0.5)))
    eye = np.array([0.0, -6.0, 2.0])
    scene = Scene([_ground(1, 10.0), wall], _k(50.0, height, width), look_at(eye, [0, 0, 0.5]), height, width)
    ground = np.array([[0.0, 0.02, 0.0], [0.3, 0.04, 0.0], [0.0, -0.02, 0.0], [1.2, 0.02, 0.0]])
    gt, _ = surface_tracks(scene, np.zeros(4, int), ground)
    behind_wall = cast_rays(scene, 0, gt.xy[:, 0].astype(np.float64))[0] / gt.xyz[:, 0, 2]
    assert ((behind_wall[:2] > 0.99) & (behind_wall[:2] < 1)).all()  # occluder within 1 % of the depth
    np.testing.assert_array_equal(gt.visible[:, 0], [False, False, True, True])
    below = Scene([_ground(1, 10.0)], _k(50.0, height, width), look_at([0.0, 0.0, -2.0], [0, 0.5, 0]), height, width)
    gt, _ = surface_tracks(below, np.zeros(2, int), np.array([[0.0, 0.5, 0.0], [0.2, 0.3, 0.0]]))
    assert _inside(gt.xy, height, width).all() and not gt.visible.any()
    assert (render(below, colour=False).object_index == 0).any()


def test_default_set_has_occlusions_and_frame_exits():
    ds = SyntheticRGBDDataset()
    occluded_in_frame = left_frame = 0
    for i in range(len(ds)):
        gt = ds.ground_truth(i).tracks
        inside = _inside(gt.xy, ds.height, ds.width)
        assert not (gt.visible & ~inside).any()
        occluded = inside & ~gt.visible
        occluded_in_frame += (occluded.any(1) & gt.visible.any(1)).sum()
        left_frame += ((~inside).any(1) & gt.visible.any(1)).sum()
    assert occluded_in_frame >= 20 and left_frame >= 20


# --------------------------------------------------------------------------- the dataset


@pytest.fixture(scope="module")
def small():
    ds = SyntheticRGBDDataset(**SMALL)
    return ds, [ds.load(i) for i in range(len(ds))]


def test_samples_follow_the_contracts(small):
    ds, samples = small
    for sample in samples:  # Sample validation already ran on construction
        t, h, w = ds.num_frames, ds.height, ds.width
        assert sample.frames.shape == (t, h, w, 3) and sample.frames.dtype == np.uint8
        assert sample.depth.shape == (t, h, w) and sample.depth.dtype == np.float32
        assert sample.intrinsics.shape == (t, 3, 3) and sample.intrinsics.dtype == np.float32
        assert sample.extrinsics.shape == (t, 3, 4) and sample.extrinsics.dtype == np.float32
        assert sample.gt.xyz.dtype == np.float32 and sample.gt.xyz_frame == "camera"
        assert (sample.depth >= 0).all() and (sample.depth > 0).mean() > 0.5
        assert sample.frames.std() > 20  # textured, not blank
        rotation = sample.extrinsics[:, :, :3].astype(np.float64)
        np.testing.assert_allclose(rotation @ rotation.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (t, 3, 3)),
                                   atol=1e-6)
        first = sample.queries[:, 0].astype(int)
        np.testing.assert_array_equal(sample.queries[:, 1:], sample.gt.xy[np.arange(len(first)), first])
        assert sample.gt.visible[np.arange(len(first)), first].all()
    assert ds.names == ["synthetic_rgbd_000", "synthetic_rgbd_001"]


def test_annotations_match_the_sample_without_frames(small):
    ds, samples = small
    ann = ds.load_annotations(1)
    assert isinstance(ann, Annotations) and ann.image_size == (ds.height, ds.width) and ann.n_frames == ds.num_frames
    np.testing.assert_array_equal(ann.queries, samples[1].queries)
    assert ann.gt == samples[1].gt
    for key in ("depth", "intrinsics", "extrinsics"):
        if key in {f.name for f in fields(Annotations)}:
            np.testing.assert_array_equal(getattr(ann, key), getattr(samples[1], key))


def test_ground_truth_is_consistent_in_2d_and_3d(small):
    ds, samples = small
    for i, sample in enumerate(samples):
        gt, vis, k, e = sample.gt, sample.gt.visible, sample.intrinsics, sample.extrinsics
        xy, z = project(gt.xyz, k)
        np.testing.assert_allclose(xy[vis], gt.xy[vis], atol=1e-4)
        assert (z[vis] > 0).all()
        world = ds.world_tracks(i)
        np.testing.assert_allclose(camera_to_world(gt.xyz, e), world, atol=1e-4)
        # Each visible point is the first surface along its ray: ray casting finds it again.
        truth, scene = ds.ground_truth(i), ds.make_scene(i, textures=False)
        for t in range(0, ds.num_frames, 5):
            rows = np.flatnonzero(vis[:, t])
            depth, index, _ = cast_rays(scene, t, gt.xy[rows, t].astype(np.float64))
            np.testing.assert_allclose(depth, gt.xyz[rows, t, 2], rtol=1e-5)
            np.testing.assert_array_equal(index, truth.object_index[rows])


def _face(scene, index, local):
    """Which smooth piece of its object each surface point is on: a box's face, else 0 (computed here, not by the dataset)."""
    face = np.zeros(len(index), int)
    for k, obj in enumerate(scene.objects):
        on = index == k
        if obj.kind == "box" and on.any():
            scaled = local[on] / obj.size
            axis = np.abs(scaled).argmax(1)
            face[on] = 1 + 2 * axis + (scaled[np.arange(len(axis)), axis] > 0)
    return face


def test_lifting_with_the_depth_map_recovers_xyz(small):
    # Where the 2×2 pixel centres around a visible point all lie on the same smooth piece of the point's
    # own object (a box face, the sphere, the ground), the depth is monotone across the block or flat
    # near its minimum, so the true depth differs from the interpolated (or nearest) corner depth by at
    # most the corners' depth range plus a curvature term: a 4 cm pixel footprint on a sphere of radius
    # >= 0.25 m bulges by < 1.6 mm at >= 3 m, so 1e-3 relative covers it (and float32 rounding). Near
    # a box edge or vertex (a kink inside the block) no such bound holds, nor in the frame's outer half
    # pixel, where sample_depth extrapolates by clamping.
    ds, samples = small
    checked = 0
    for i, sample in enumerate(samples):
        gt, vis = sample.gt, sample.gt.visible
        scene, truth = ds.make_scene(i, textures=False), ds.ground_truth(i)
        cam, _, lifted = lift(gt.xy, vis, sample.depth, sample.intrinsics)
        (t, pi, pj), interior = _corner_pixels(gt.xy, ds.height, ds.width)
        corners = sample.depth[t, pi, pj]
        candidates = vis & interior
        same = np.zeros_like(vis)
        n, f = np.nonzero(candidates)
        own = _face(scene, truth.object_index[n], truth.local_points[n])
        agree = np.ones(len(n), bool)
        for frame in np.unique(f):
            rows = np.flatnonzero(f == frame)
            centres = np.stack([pj[n[rows], frame] + 0.5, pi[n[rows], frame] + 0.5], -1).reshape(-1, 2)
            _, index, local = cast_rays(scene, frame, centres)
            faces = _face(scene, index, local).reshape(-1, 4)
            agree[rows] = ((index.reshape(-1, 4) == truth.object_index[n[rows], None])
                           & (faces == own[rows, None])).all(1)
        same[n, f] = agree
        ok = vis & same
        assert ok.sum() > 0.75 * vis.sum() and lifted[ok].all()
        z = gt.xyz[..., 2]
        bound = corners.max((-1, -2)) - corners.min((-1, -2)) + 1e-3 * z
        assert (np.abs(cam[..., 2] - z)[ok] <= bound[ok]).all()
        # Along the ray the direction is exact: x/z and y/z agree to float precision.
        np.testing.assert_allclose(cam[ok][:, :2] / cam[ok][:, 2:], gt.xyz[ok][:, :2] / gt.xyz[ok][:, 2:], atol=1e-5)
        assert np.median(np.abs(cam[..., 2] - z)[ok] / z[ok]) < 1e-3
        checked += ok.sum()
    assert checked > 1000


def test_points_on_moving_objects_move_rigidly_with_them():
    ds = SyntheticRGBDDataset(num_videos=3, num_frames=16, height=96, width=128, num_tracks=128)
    found = set()
    for i in range(len(ds)):
        truth, scene = ds.ground_truth(i), ds.make_scene(i, textures=False)
        for k, obj in enumerate(scene.objects):
            rows = np.flatnonzero(truth.object_index == k)
            if not obj.moving or len(np.unique(truth.local_points[rows], axis=0)) < 3:
                continue
            world = truth.world[rows].astype(np.float64)
            # Rigid: distances between points on the object never change; the points do move.
            d = np.linalg.norm(world[:, None] - world[None], axis=-1)
            np.testing.assert_allclose(d, np.repeat(d[:, :, :1], ds.num_frames, axis=2), atol=1e-4)
            assert np.linalg.norm(world - world[:, :1], axis=-1).max() > 0.02
            # Consistent with the object's motion: back in its frame, every point stays where it was placed ...
            local = np.einsum("tji,ntj->nti", obj.rotations, world - obj.translations)
            np.testing.assert_allclose(local, np.repeat(local[:, :1], ds.num_frames, axis=1), atol=1e-4)
            # ... on the object's surface.
            if obj.kind == "box":
                np.testing.assert_allclose(np.abs(local[:, 0] / obj.size).max(-1), 1.0, atol=1e-6)
            else:
                np.testing.assert_allclose(np.linalg.norm(local[:, 0], axis=-1), obj.size[0], atol=1e-6)
            found.add(obj.kind)
    assert found == {"box", "sphere"}


def test_same_seed_same_videos_other_seed_other_videos():
    kwargs = dict(num_videos=1, num_frames=5, height=48, width=64, num_tracks=32)
    a, b = SyntheticRGBDDataset(**kwargs).load(0), SyntheticRGBDDataset(**kwargs).load(0)
    c = SyntheticRGBDDataset(**kwargs, seed=1).load(0)
    for key in ("frames", "depth", "queries", "intrinsics", "extrinsics"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert a.gt == b.gt
    for key in ("frames", "depth", "extrinsics"):
        assert not np.array_equal(getattr(a, key), getattr(c, key))
    assert a.gt != c.gt


def test_strided_queries_and_bad_settings():
    ds = SyntheticRGBDDataset(num_videos=1, num_frames=11, height=48, width=64, num_tracks=32, query_mode="strided")
    truth = ds.ground_truth(0)
    assert set(np.unique(truth.queries[:, 0])) <= {0, 5, 10} and len(truth.queries) > 32
    assert truth.world.shape == truth.tracks.xyz.shape == (len(truth.queries), 11, 3)
    for key, value in (("num_objects", -1), ("query_mode", "all"), ("num_frames", 1), ("fps", 0)):
        with pytest.raises(ValueError, match=f"synthetic_rgbd dataset: '{key}'"):
            SyntheticRGBDDataset(**{key: value})
    with pytest.raises(IndexError, match="2 videos"):
        SyntheticRGBDDataset(num_videos=2).load(2)
    with pytest.raises(ValueError, match="'kind'"):
        SceneObject("cone", [1.0], *_still(2))


def test_runner_tracks_the_dataset_with_lk(tmp_path):
    overrides = ["dataset=synthetic_rgbd", "tracker=lk", "output.rerun=false", "dataset.num_videos=2",
                 "dataset.num_frames=8", "dataset.height=64", "dataset.width=96", "dataset.num_tracks=24"]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    run(cfg, tmp_path)
    rows = pd.read_csv(tmp_path / "metrics_per_video.csv")
    assert list(rows["video"]) == ["synthetic_rgbd_000", "synthetic_rgbd_001"]
    assert (rows["status"] == "ok").all(), rows["error"].tolist()
    assert ((rows["AJ"] > 0) & (rows["AJ"] <= 1)).all()
    if "AJ3D" in rows:  # the runner scores 3D where ground truth has xyz (LK's 2D lifted with the depth)
        assert ((rows["AJ3D"] > 0) & (rows["AJ3D"] <= 1)).all()
