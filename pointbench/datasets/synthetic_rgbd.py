"""Synthetic posed RGB-D videos with exact 2D and 3D ground truth: a ray-cast textured 3D scene.

A video shows a textured ground plane (a finite square at world z = 0; the world is z-up) and
`num_objects` textured boxes and spheres, some moving rigidly (translation + rotation), filmed by
a camera that orbits the scene while looking at it. Each frame is ray cast in numpy, one ray per
pixel centre: analytic intersections with the plane, the boxes (slab method) and the spheres give
the metric z-depth (0 where a ray hits nothing: the sky) and the surface point, whose own texture
coordinates (plane UV, box-face UV, spherical UV) look up a `make_texture` image bilinearly, lit by
a fixed directional light.

Ground-truth tracks are points fixed on object surfaces, stored in their object's local frame so
they move with it. Their world and camera positions follow from the objects' poses; `xy` is their
projection (`geometry.project`). A point is visible where it projects inside the frame, in front
of the camera, on a surface facing the camera, and the depth test passes: a ray cast through its
exact projected position meets nothing nearer than the point (relative tolerance
`OCCLUSION_TOLERANCE`). The depth is compared at the point's exact sub-pixel position rather than
at the centre of its pixel, so no tolerance for discretisation is needed and grazing surfaces are
never falsely occluded.

Conventions (DESIGN.md, `pointbench.geometry`): positions are TAP-Vid raster coordinates; pixel
(i, j) covers [j, j+1) × [i, i+1) and its ray is K⁻¹ (j, i, 1) (OpenCV pixel centres); extrinsics
map world to camera (OpenCV: x right, y down, z forward).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pointbench.datasets.base import Dataset
from pointbench.datasets.queries import QUERY_MODES, sample_queries
from pointbench.datasets.synthetic import make_texture
from pointbench.geometry import RASTER_OFFSET, project, world_to_camera
from pointbench.types import Annotations, Sample, Tracks

__all__ = ["SceneObject", "Scene", "Rendering", "GroundTruth", "SyntheticRGBDDataset", "look_at", "cast_rays",
           "render", "surface_tracks", "sample_surface_points", "OCCLUSION_TOLERANCE"]

#: A point is occluded where something along its ray is nearer than (1 - this) × its depth.
OCCLUSION_TOLERANCE = 1e-4
_EPS = 1e-9  # smallest ray parameter counted as a hit (metres of camera depth)
_KINDS = {"plane": 2, "box": 3, "sphere": 1}  # kind -> length of `size`
_FACES = {"plane": 1, "box": 6, "sphere": 1}  # kind -> number of textures
_AMBIENT, _DIFFUSE = 0.6, 0.5
_SKY_HORIZON, _SKY_ZENITH = np.array([205.0, 218.0, 235.0]), np.array([95.0, 145.0, 215.0])


@dataclass(eq=False)
class SceneObject:
    """A rigid textured surface and its pose over time.

    `kind`: "plane" (the square |x| <= size[0], |y| <= size[1] at local z = 0, normal +z), "box"
    (half extents `size`, centred at the local origin) or "sphere" (radius size[0]). A local point
    p is at `rotations[t] @ p + translations[t]` in the world at frame t. `textures`: float32
    (F, h, w, 3) in [0, 255], one per face (a box has 6: -x, +x, -y, +y, -z, +z), or None when
    only geometry is needed.
    """

    kind: str
    size: np.ndarray
    rotations: np.ndarray  # float64 (T, 3, 3), local -> world
    translations: np.ndarray  # float64 (T, 3)
    textures: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"scene object: 'kind' must be one of {sorted(_KINDS)}; got {self.kind!r}")
        self.size = np.asarray(self.size, np.float64)
        if self.size.shape != (_KINDS[self.kind],) or not (self.size > 0).all():
            raise ValueError(f"{self.kind}: 'size' must be {_KINDS[self.kind]} positive numbers; got {self.size}")
        t = len(self.rotations)
        if self.rotations.shape != (t, 3, 3) or self.translations.shape != (t, 3):
            raise ValueError(f"{self.kind}: 'rotations' (T, 3, 3) and 'translations' (T, 3) must cover the same "
                             f"frames; got {self.rotations.shape} and {self.translations.shape}")
        if self.textures is not None and (self.textures.ndim != 4 or len(self.textures) != _FACES[self.kind]):
            raise ValueError(f"{self.kind}: 'textures' must be ({_FACES[self.kind]}, h, w, 3); "
                             f"got {self.textures.shape}")

    @property
    def moving(self) -> bool:
        return not (np.allclose(self.rotations, self.rotations[0]) and np.allclose(self.translations, self.translations[0]))


@dataclass(eq=False)
class Scene:
    """Objects, a camera path (`intrinsics` (3, 3) OpenCV, `extrinsics` (T, 3, 4) world-to-camera), an image size and a light."""

    objects: list[SceneObject]
    intrinsics: np.ndarray
    extrinsics: np.ndarray
    height: int
    width: int
    light: np.ndarray = (0.3, -0.4, 0.87)  # direction towards the light, world frame

    def __post_init__(self) -> None:
        self.intrinsics = np.asarray(self.intrinsics, np.float64)
        self.extrinsics = np.asarray(self.extrinsics, np.float64)
        self.light = np.asarray(self.light, np.float64) / np.linalg.norm(self.light)
        t = len(self.extrinsics)
        if self.intrinsics.shape != (3, 3) or self.extrinsics.shape != (t, 3, 4):
            raise ValueError(f"scene: need intrinsics (3, 3) and extrinsics (T, 3, 4); got "
                             f"{self.intrinsics.shape} and {self.extrinsics.shape}")
        for k, obj in enumerate(self.objects):
            if len(obj.rotations) != t:
                raise ValueError(f"scene: object {k} ({obj.kind}) has poses for {len(obj.rotations)} frames; "
                                 f"the camera for {t}")

    @property
    def n_frames(self) -> int:
        return len(self.extrinsics)

    def camera_centres(self) -> np.ndarray:
        """World positions `(T, 3)` of the camera: -Rᵀ t."""
        r, t = self.extrinsics[:, :, :3], self.extrinsics[:, :, 3]
        return -np.einsum("tji,tj->ti", r, t)


@dataclass(eq=False)
class Rendering:
    """What `render` draws: RGB `frames` uint8 (T, H, W, 3) (None without colour), z-`depth` float32
    (T, H, W) metres (0 = sky), and `object_index` int16 (T, H, W), the object each pixel's ray hits (-1: none)."""

    frames: np.ndarray | None
    depth: np.ndarray
    object_index: np.ndarray


@dataclass(eq=False)
class GroundTruth:
    """A video's queries and tracks; row i of every array belongs to query i.

    `tracks` carries camera-frame `xyz`; `world` is the same points in the world frame, float32
    (N, T, 3); `object_index` (N,) the scene object each point lies on and `local_points` (N, 3)
    float64 its position in that object's frame.
    """

    queries: np.ndarray
    tracks: Tracks
    world: np.ndarray
    object_index: np.ndarray
    local_points: np.ndarray


# --------------------------------------------------------------------------- camera


def look_at(eyes, targets, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World-to-camera extrinsics `(T, 3, 4)` (OpenCV axes) of cameras at `eyes` looking at `targets` (both (T, 3) or (3,)).

    The image's up is `up` as far as possible; where the view is parallel to `up`, world +y is
    the image's up instead.
    """
    eyes, targets = np.broadcast_arrays(np.atleast_2d(np.asarray(eyes, np.float64)),
                                        np.atleast_2d(np.asarray(targets, np.float64)))
    forward = targets - eyes
    norm = np.linalg.norm(forward, axis=1, keepdims=True)
    if not (norm > 0).all():
        raise ValueError("look_at: a camera's eye and target coincide")
    forward = forward / norm
    right = np.cross(forward, np.asarray(up, np.float64))
    degenerate = np.linalg.norm(right, axis=1) < 1e-9
    right[degenerate] = np.cross(forward[degenerate], [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    down = np.cross(forward, right)
    r = np.stack([right, down, forward], axis=1)
    return np.concatenate([r, -np.einsum("tij,tj->ti", r, eyes)[:, :, None]], axis=2)


def _rays(scene: Scene, t: int, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Origin (3,) and world directions (P, 3) of rays through raster positions `xy` (P, 2) at frame t.

    A direction has camera-frame z = 1, so a ray's parameter at a hit is the hit's z-depth.
    """
    pix = np.concatenate([xy - RASTER_OFFSET, np.ones((len(xy), 1))], axis=1)
    cam = pix @ np.linalg.inv(scene.intrinsics).T
    rotation = scene.extrinsics[t, :, :3]
    return scene.camera_centres()[t], cam @ rotation  # rows: Rᵀ d


# --------------------------------------------------------------------------- intersections


def _to_local(obj: SceneObject, t: int, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rotation, centre = obj.rotations[t], obj.translations[t]
    return (origin - centre) @ rotation, dirs @ rotation  # rows: Rᵀ (x - c), Rᵀ d


def _intersect(obj: SceneObject, t: int, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Ray parameter (= z-depth) of each ray's first hit on `obj` at frame t; inf where it misses."""
    o, d = _to_local(obj, t, origin, dirs)
    with np.errstate(divide="ignore", invalid="ignore"):
        if obj.kind == "plane":
            s = -o[..., 2] / d[:, 2]
            p = o[..., :2] + s[:, None] * d[:, :2]
            hit = (s > _EPS) & (np.abs(p) <= obj.size).all(axis=1)
        elif obj.kind == "box":
            inv = 1.0 / np.where(d == 0, 1e-300, d)
            t1, t2 = (-obj.size - o) * inv, (obj.size - o) * inv
            s = np.minimum(t1, t2).max(axis=1)
            hit = (s <= np.maximum(t1, t2).min(axis=1)) & (s > _EPS)
        else:
            a, b, c = np.einsum("ij,ij->i", d, d), d @ o, o @ o - obj.size[0] ** 2
            disc = b * b - a * c
            s = (-b - np.sqrt(disc)) / a
            hit = (disc >= 0) & (s > _EPS)
    return np.where(hit, s, np.inf)


def _surface(obj: SceneObject, local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outward normals (P, 3), texture index (P,) and texture coordinates uv (P, 2) in [0, 1] of local surface points."""
    n = len(local)
    if obj.kind == "plane":
        normal = np.broadcast_to([0.0, 0.0, 1.0], (n, 3)).copy()
        return normal, np.zeros(n, np.intp), np.stack([(local[:, 0] / obj.size[0] + 1) / 2,
                                                       (1 - local[:, 1] / obj.size[1]) / 2], axis=1)
    if obj.kind == "sphere":
        normal = local / np.linalg.norm(local, axis=1, keepdims=True)
        u = np.arctan2(normal[:, 1], normal[:, 0]) / (2 * np.pi) % 1.0
        return normal, np.zeros(n, np.intp), np.stack([u, np.arccos(np.clip(normal[:, 2], -1, 1)) / np.pi], axis=1)
    scaled = local / obj.size
    axis = np.abs(scaled).argmax(axis=1)
    rows = np.arange(n)
    positive = scaled[rows, axis] > 0
    normal = np.zeros((n, 3))
    normal[rows, axis] = np.where(positive, 1.0, -1.0)
    others = np.array([[1, 2], [0, 2], [0, 1]])[axis]
    uv = np.stack([(scaled[rows, others[:, 0]] + 1) / 2, (1 - scaled[rows, others[:, 1]]) / 2], axis=1)
    return normal, 2 * axis + positive, np.clip(uv, 0.0, 1.0)


def _texture(textures: np.ndarray, face: np.ndarray, uv: np.ndarray, wrap_u: bool) -> np.ndarray:
    """Bilinear lookup (P, 3) of `textures` (F, h, w, 3) at texture coordinates uv (texel centres at (j + 0.5) / w)."""
    _, h, w, _ = textures.shape
    x, y = uv[:, 0] * w - 0.5, uv[:, 1] * h - 0.5
    j0, i0 = np.floor(x), np.floor(y)
    fx, fy = (x - j0).astype(np.float32)[:, None], (y - i0).astype(np.float32)[:, None]
    j = np.stack([j0, j0 + 1]).astype(np.intp)
    j = j % w if wrap_u else np.clip(j, 0, w - 1)
    i = np.clip(np.stack([i0, i0 + 1]).astype(np.intp), 0, h - 1)
    flat, base = textures.reshape(-1, 3), face * (h * w)
    top = (flat[base + i[0] * w + j[0]], flat[base + i[0] * w + j[1]])
    bottom = (flat[base + i[1] * w + j[0]], flat[base + i[1] * w + j[1]])
    return (1 - fy) * (top[0] + fx * (top[1] - top[0])) + fy * (bottom[0] + fx * (bottom[1] - bottom[0]))


def _may_hit(scene: Scene, obj: SceneObject, t: int, xy: np.ndarray) -> np.ndarray | None:
    """Indices of the rays (None: all) that can hit `obj`: those inside the screen rectangle of its bounding sphere.

    The rectangle bounds the projected corners of the sphere's camera-aligned bounding cube (the
    projection of a convex set in front of the camera is the hull of its projected corners).
    """
    if obj.kind == "plane":
        return None
    radius = np.linalg.norm(obj.size) if obj.kind == "box" else obj.size[0]
    centre = world_to_camera(obj.translations[t], scene.extrinsics[t])
    corners = centre + radius * np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T
    if not (corners[:, 2] > _EPS).all():
        return None
    (x0, y0), (x1, y1) = np.nanmin(c := project(corners, scene.intrinsics)[0], 0) - 1, np.nanmax(c, 0) + 1
    return np.flatnonzero((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1))


def _first_hits(scene: Scene, t: int, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Depth (inf: none) and object index (-1: none) of each ray's first hit, and the rays (origin, directions)."""
    origin, dirs = _rays(scene, t, xy)
    depth, index = np.full(len(xy), np.inf), np.full(len(xy), -1, np.intp)
    for k, obj in enumerate(scene.objects):
        rows = _may_hit(scene, obj, t, xy)
        if rows is None:
            s = _intersect(obj, t, origin, dirs)
            closer = s < depth
            depth[closer], index[closer] = s[closer], k
        elif len(rows):
            s = _intersect(obj, t, origin, dirs[rows])
            closer = s < depth[rows]
            depth[rows[closer]], index[rows[closer]] = s[closer], k
    return depth, index, origin, dirs


def cast_rays(scene: Scene, t: int, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cast rays through raster positions `xy` (P, 2) at frame t: `(depth, object_index, local_points)`.

    `depth` (P,) is the first hit's z-depth in the camera frame (0 where nothing is hit),
    `object_index` (P,) the object hit (-1: none), `local_points` (P, 3) the hit in that object's
    frame (NaN where nothing is hit). float64 throughout.
    """
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    depth, index, origin, dirs = _first_hits(scene, t, xy)
    local = np.full((len(xy), 3), np.nan)
    for k, obj in enumerate(scene.objects):
        on = index == k
        if on.any():
            o, d = _to_local(obj, t, origin, dirs[on])
            local[on] = o + depth[on, None] * d
    depth[index < 0] = 0.0
    return depth, index, local


def render(scene: Scene, colour: bool = True) -> Rendering:
    """Ray cast every frame of `scene` (one ray per pixel centre); `colour=False` skips shading and textures."""
    h, w, n_frames = scene.height, scene.width, scene.n_frames
    i, j = np.mgrid[0:h, 0:w]
    xy = np.stack([j.ravel() + 0.5, i.ravel() + 0.5], axis=1)
    depth = np.zeros((n_frames, h * w), np.float32)
    index = np.zeros((n_frames, h * w), np.int16)
    frames = np.zeros((n_frames, h * w, 3), np.uint8) if colour else None
    for t in range(n_frames):
        if colour:
            d, k, local = cast_rays(scene, t, xy)
            frames[t] = np.clip(np.rint(_shade(scene, t, xy, k, local)), 0, 255)
        else:
            d, k, _, _ = _first_hits(scene, t, xy)
            d[k < 0] = 0.0
        depth[t], index[t] = d, k
    shape = (n_frames, h, w)
    return Rendering(None if frames is None else frames.reshape(shape + (3,)), depth.reshape(shape), index.reshape(shape))


def _shade(scene: Scene, t: int, xy: np.ndarray, index: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Colours (P, 3): textured, Lambert-lit surfaces, and a sky gradient where nothing is hit."""
    colour = np.empty((len(xy), 3), np.float32)
    sky = index < 0
    if sky.any():
        _, dirs = _rays(scene, t, xy[sky])
        elevation = np.clip(2 * dirs[:, 2] / np.linalg.norm(dirs, axis=1), 0, 1)[:, None]
        colour[sky] = _SKY_HORIZON + elevation * (_SKY_ZENITH - _SKY_HORIZON)
    for k, obj in enumerate(scene.objects):
        on = index == k
        if not on.any():
            continue
        if obj.textures is None:
            raise ValueError(f"render: object {k} ({obj.kind}) has no textures; colour needs them")
        normal, face, uv = _surface(obj, local[on])
        light = np.clip((normal @ obj.rotations[t].T) @ scene.light, 0, None)[:, None].astype(np.float32)
        colour[on] = _texture(obj.textures, face, uv, obj.kind == "sphere") * (_AMBIENT + _DIFFUSE * light)
    return colour


# --------------------------------------------------------------------------- ground truth


def surface_tracks(scene: Scene, object_index: np.ndarray, local_points: np.ndarray,
                   tolerance: float = OCCLUSION_TOLERANCE) -> tuple[Tracks, np.ndarray]:
    """Tracks of points fixed on scene objects: `(Tracks with camera-frame xyz, world positions (N, T, 3) float32)`.

    Point i lies on object `object_index[i]` at `local_points[i]` (its local frame). It is
    visible at frame t where it projects inside the frame in front of the camera, its surface faces
    the camera, and nothing along the ray through its projection is nearer than (1 - `tolerance`)
    times its depth. `xy` is NaN where the point is behind the camera.
    """
    object_index = np.asarray(object_index, np.intp)
    local_points = np.asarray(local_points, np.float64)
    n, n_frames = len(object_index), scene.n_frames
    if local_points.shape != (n, 3) or (n and (object_index.min() < 0 or object_index.max() >= len(scene.objects))):
        raise ValueError(f"surface_tracks: need object_index (N,) in [0, {len(scene.objects)}) and local_points "
                         f"(N, 3); got {object_index.shape} and {local_points.shape}")
    rotations = np.stack([o.rotations for o in scene.objects])[object_index] if n else np.zeros((0, n_frames, 3, 3))
    shifts = np.stack([o.translations for o in scene.objects])[object_index] if n else np.zeros((0, n_frames, 3))
    normals = np.zeros((n, 3))
    for k, obj in enumerate(scene.objects):
        on = object_index == k
        if on.any():
            normals[on] = _surface(obj, local_points[on])[0]
    world = np.einsum("ntij,nj->nti", rotations, local_points) + shifts
    normals = np.einsum("ntij,nj->nti", rotations, normals)
    camera = world_to_camera(world, scene.extrinsics)
    xy, z = project(camera, scene.intrinsics)
    facing = (normals * (scene.camera_centres() - world)).sum(-1) > 0
    xy32 = xy.astype(np.float32)  # the published positions decide what is inside the frame
    with np.errstate(invalid="ignore"):
        visible = ((z > 0) & facing & (xy32[..., 0] >= 0) & (xy32[..., 0] < scene.width)
                   & (xy32[..., 1] >= 0) & (xy32[..., 1] < scene.height))
    for t in range(n_frames):
        rows = np.flatnonzero(visible[:, t])
        if len(rows):
            nearest = _first_hits(scene, t, xy[rows, t])[0]
            visible[rows, t] = nearest >= (1 - tolerance) * z[rows, t]  # inf where nothing is hit
    tracks = Tracks(xy=xy32, visible=visible, xyz=camera.astype(np.float32), xyz_frame="camera")
    return tracks, world.astype(np.float32)


def sample_surface_points(scene: Scene, rng: np.random.Generator, n: int, object_fraction: float = 0.5
                          ) -> tuple[np.ndarray, np.ndarray]:
    """`n` points on surfaces seen in the video: `(object_index (n,), local_points (n, 3))`.

    Rays through uniformly random sub-pixel positions of random frames are cast, and the first
    hits kept: up to `object_fraction` of them on boxes and spheres, the rest anywhere (mostly
    the ground). Every point is thus visible at the frame it was found in. Fewer than `n` are
    returned only if the scene shows almost nothing.
    """
    m = max(8 * n, 256)
    frame = rng.integers(0, scene.n_frames, m)
    xy = rng.uniform(0, 1, (m, 2)) * [scene.width, scene.height]
    index, local = np.full(m, -1, np.intp), np.zeros((m, 3))
    for t in np.unique(frame):
        rows = frame == t
        _, index[rows], local[rows] = cast_rays(scene, t, xy[rows])
    is_object = np.array([obj.kind != "plane" for obj in scene.objects] + [False])[index]  # index -1: last entry
    on_object = np.flatnonzero(is_object)[: int(round(object_fraction * n))]
    rest = np.flatnonzero((index >= 0) & ~np.isin(np.arange(m), on_object))[: n - len(on_object)]
    chosen = np.sort(np.concatenate([on_object, rest]))  # candidates are in random order already
    return index[chosen], local[chosen]


# --------------------------------------------------------------------------- random scenes


def _axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) by `angle` (T,) radians about the unit `axis` (3,) (Rodrigues)."""
    x, y, z = axis / np.linalg.norm(axis)
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    a = np.asarray(angle, np.float64)[:, None, None]
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)


def _wave(rng: np.random.Generator, t: np.ndarray, amplitude: float) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * t / rng.uniform(30, 90) + rng.uniform(0, 2 * np.pi))


def _random_objects(rng: np.random.Generator, count: int, n_frames: int) -> list[SceneObject]:
    """Boxes and spheres spread over a disc of radius 2.4 m: resting on the ground or floating; most of them moving."""
    t = np.arange(n_frames, dtype=np.float64)
    moving = rng.random(count) < 0.65
    if count and not moving.any():
        moving[0] = True
    objects, centres, radii = [], [], []
    for k in range(count):
        kind = "box" if rng.random() < 0.55 else "sphere"
        size = rng.uniform(0.2, 0.6, 3) if kind == "box" else rng.uniform(0.25, 0.6, 1)
        radius = float(np.linalg.norm(size))  # bounding sphere
        for _ in range(100):  # keep objects apart where the disc has room
            centre = rng.uniform(-2.4, 2.4, 2)
            if np.hypot(*centre) <= 2.4 and all(np.hypot(*(centre - c)) > radius + r + 0.3 for c, r in zip(centres, radii)):
                break
        centres.append(centre)
        radii.append(radius)
        floating = rng.random() < 0.3
        # Resting: a box sits on a face and turns about the vertical; floating: any axis, clear of the ground.
        height = radius + rng.uniform(0.15, 0.6) if floating else size[2] if kind == "box" else size[0]
        up = np.array([0.0, 0.0, 1.0])
        axis = rng.normal(size=3) if floating or kind == "sphere" else up
        start = _axis_angle(rng.normal(size=3) if floating else up, [rng.uniform(0, 2 * np.pi)])[0]
        position = np.tile([centre[0], centre[1], height], (n_frames, 1))
        angle = np.zeros(n_frames)
        if moving[k]:
            amplitude = rng.uniform(0.2, 0.6)
            position[:, 0] += _wave(rng, t, amplitude)
            position[:, 1] += _wave(rng, t, amplitude)
            if floating:
                position[:, 2] += _wave(rng, t, 0.1)
            angle = rng.choice([-1, 1]) * np.deg2rad(rng.uniform(1.0, 4.0)) * t
        objects.append(SceneObject(kind, size, _axis_angle(axis, angle) @ start, position))
    return objects


def _add_textures(rng: np.random.Generator, objects: list[SceneObject]) -> None:
    """Give every object its own `make_texture` images, at roughly 2–3 cm per texel."""
    for obj in objects:
        if obj.kind == "plane":
            side = int(np.clip(2 * obj.size.max() / 0.027, 32, 768))
            obj.textures = make_texture(rng, side, side)[None]
        elif obj.kind == "box":
            side = int(np.clip(2 * obj.size.max() / 0.02, 32, 128))
            obj.textures = np.stack([make_texture(rng, side, side) for _ in range(6)])
        else:
            around = int(np.clip(2 * np.pi * obj.size[0] / 0.025, 32, 256))
            obj.textures = make_texture(rng, around // 2, around)[None]
        obj.textures = obj.textures.astype(np.float32)


def _camera_path(rng: np.random.Generator, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Eyes and targets (T, 3): an orbit arc at 4.5–6 m, 2.2–3.5 m up, looking at the scene's centre."""
    t = np.arange(n_frames, dtype=np.float64)
    azimuth = rng.uniform(0, 2 * np.pi) + rng.choice([-1, 1]) * np.deg2rad(rng.uniform(0.5, 1.5)) * t
    radius = rng.uniform(4.5, 6.0) + _wave(rng, t, 0.3)
    height = rng.uniform(2.2, 3.5) + _wave(rng, t, 0.2)
    eyes = np.stack([radius * np.cos(azimuth), radius * np.sin(azimuth), height], axis=1)
    targets = np.stack([_wave(rng, t, 0.25), _wave(rng, t, 0.25), 0.2 + _wave(rng, t, 0.1)], axis=1)
    return eyes, targets


def _pinhole(height: int, width: int) -> np.ndarray:
    """OpenCV intrinsics with a ~58° horizontal field of view and the principal point at the image centre."""
    f = 0.9 * width
    return np.array([[f, 0, width / 2 - RASTER_OFFSET], [0, f, height / 2 - RASTER_OFFSET], [0, 0, 1]])


# --------------------------------------------------------------------------- dataset


class SyntheticRGBDDataset(Dataset):
    """Deterministic posed RGB-D videos of a ray-cast 3D scene, with exact 2D and 3D ground truth.

    `num_videos` videos of `num_frames` at `height`×`width`; each has a 14 m ground square and
    `num_objects` boxes and spheres (about two thirds of them moving), and `num_tracks` points
    placed on visible surfaces (up to half on the objects). A Sample carries depth, intrinsics and
    extrinsics; its `gt.xyz` is in the camera frame, and `world_tracks(i)` gives the same points
    in the world frame. Queries follow `query_mode` ("first" | "strided" every `query_stride`).

    >>> ds = SyntheticRGBDDataset(num_videos=1, num_frames=4, height=48, width=64, num_tracks=8)
    >>> s = ds.load(0)
    >>> s.frames.shape, s.depth.shape, s.gt.xyz_frame
    ((4, 48, 64, 3), (4, 48, 64), 'camera')
    """

    positions_under_occlusion = True  # ground truth continues behind occluders (breakdowns)

    def __init__(self, num_videos: int = 4, num_frames: int = 24, height: int = 192, width: int = 256,
                 num_tracks: int = 256, num_objects: int = 5, seed: int = 0, query_mode: str = "first",
                 query_stride: int = 5, fps: float = 24.0):
        checks = (("num_videos", num_videos >= 0, "a non-negative integer"),
                  ("num_frames", num_frames >= 2, "an integer >= 2"),
                  ("height", height >= 16, "an integer >= 16"), ("width", width >= 16, "an integer >= 16"),
                  ("num_tracks", num_tracks >= 1, "a positive integer"),
                  ("num_objects", num_objects >= 0, "a non-negative integer"),
                  ("query_mode", query_mode in QUERY_MODES, f"one of {QUERY_MODES}"),
                  ("query_stride", query_stride >= 1, "a positive integer"),
                  ("fps", fps > 0, "a positive number"))
        for key, ok, expected in checks:
            if not ok:
                raise ValueError(f"synthetic_rgbd dataset: '{key}' must be {expected}; got {locals()[key]!r}")
        self.num_videos, self.num_frames, self.height, self.width = num_videos, num_frames, height, width
        self.num_tracks, self.num_objects, self.seed = num_tracks, num_objects, seed
        self.query_mode, self.query_stride, self.fps = query_mode, query_stride, float(fps)

    @property
    def names(self) -> list[str]:
        return [f"synthetic_rgbd_{i:03d}" for i in range(self.num_videos)]

    def _check(self, index: int) -> None:
        if not 0 <= index < self.num_videos:
            raise IndexError(f"synthetic_rgbd dataset has {self.num_videos} videos; got index {index}")

    def make_scene(self, index: int, textures: bool = True) -> Scene:
        """The scene of video `index` (deterministic in `seed` and `index`); object 0 is the ground.

        Geometry, textures and track placement draw from separate random streams, so the scene
        without textures (for ground truth only) is the same scene.
        """
        self._check(index)
        rng = np.random.default_rng([self.seed, index, 0])
        n_frames = self.num_frames
        still = np.tile(np.eye(3), (n_frames, 1, 1))
        ground = SceneObject("plane", [7.0, 7.0], still, np.zeros((n_frames, 3)))
        objects = [ground] + _random_objects(rng, self.num_objects, n_frames)
        eyes, targets = _camera_path(rng, n_frames)
        light = np.array([*rng.normal(0, 0.5, 2), 1.0])
        if textures:
            _add_textures(np.random.default_rng([self.seed, index, 1]), objects)
        # The camera is stored as the float32 arrays a Sample carries, so tracks, depth and
        # the published intrinsics/extrinsics agree to float64 precision.
        k = _pinhole(self.height, self.width).astype(np.float32).astype(np.float64)
        e = look_at(eyes, targets).astype(np.float32).astype(np.float64)
        return Scene(objects, k, e, self.height, self.width, light)

    def ground_truth(self, index: int) -> GroundTruth:
        """Queries and tracks of video `index`, without rendering a frame."""
        scene = self.make_scene(index, textures=False)
        rng = np.random.default_rng([self.seed, index, 2])
        object_index, local = sample_surface_points(scene, rng, self.num_tracks)
        tracks, world = surface_tracks(scene, object_index, local)
        queries, rows = sample_queries(tracks.xy, tracks.visible, self.query_mode, self.query_stride)
        gt = tracks[rows]
        gt.owner = f"video '{self.names[index]}'"
        return GroundTruth(queries, gt, world[rows], object_index[rows], local[rows])

    def world_tracks(self, index: int) -> np.ndarray:
        """World-frame positions float32 (N, T, 3) of video `index`'s ground-truth tracks (rows as `gt`)."""
        return self.ground_truth(index).world

    def camera(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Intrinsics float32 (T, 3, 3) and world-to-camera extrinsics float32 (T, 3, 4) of video `index`."""
        scene = self.make_scene(index, textures=False)
        k = np.broadcast_to(scene.intrinsics, (scene.n_frames, 3, 3)).astype(np.float32)
        return k, scene.extrinsics.astype(np.float32)

    def load_annotations(self, index: int) -> Annotations:
        """Queries, ground truth, depth and camera; no colour is rendered."""
        truth = self.ground_truth(index)
        intrinsics, extrinsics = self.camera(index)
        depth = render(self.make_scene(index, textures=False), colour=False).depth
        return Annotations(self.names[index], truth.queries, truth.tracks, self.num_frames,
                           (self.height, self.width), self.fps, depth=depth, intrinsics=intrinsics,
                           extrinsics=extrinsics)

    def load(self, index: int) -> Sample:
        truth = self.ground_truth(index)
        rendering = render(self.make_scene(index))
        intrinsics, extrinsics = self.camera(index)
        return Sample(name=self.names[index], frames=rendering.frames, queries=truth.queries, gt=truth.tracks,
                      fps=self.fps, depth=rendering.depth, intrinsics=intrinsics, extrinsics=extrinsics)
