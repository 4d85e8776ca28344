"""Procedural videos with exact ground truth: textured layers moving under smooth homographies.

Each video is a textured background plus foreground layers (textured shapes), stacked in depth.
Every layer moves under its own homography per frame (translation, rotation, scale, perspective),
so foreground layers occlude each other and the background, and leave and re-enter the frame.
A track is a point fixed on a layer: its position is the layer's homography applied to it, and it
is visible where it lies inside the frame and no layer in front of it covers it.

Coordinates follow the TAP-Vid raster convention (pixel (i, j) covers [j, j+1) × [i, i+1)) in
texture and image alike; the ±0.5 to OpenCV's pixel-centre convention is applied only where
`cv2.warpPerspective` is called.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pointbench.datasets.base import Dataset
from pointbench.datasets.queries import QUERY_MODES, sample_queries
from pointbench.types import Annotations, Sample, Tracks

__all__ = ["Layer", "SyntheticDataset", "make_texture", "render_frames", "track_layer_points"]

_CENTRE = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])  # raster -> pixel-centre coordinates


@dataclass
class Layer:
    """A texture, the mask of its opaque pixels (None: all of the texture) and its motion.

    `homographies[t]` maps texture raster coordinates to image raster coordinates at frame t.
    """

    texture: np.ndarray  # float32 (h, w, 3), values in [0, 255]
    homographies: np.ndarray  # float64 (T, 3, 3)
    mask: np.ndarray | None = None  # bool (h, w)


def _apply(h: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply homographies `(..., 3, 3)` to points `(..., P, 2)`."""
    p = np.einsum("...ij,...pj->...pi", h, np.concatenate([xy, np.ones_like(xy[..., :1])], axis=-1))
    return p[..., :2] / p[..., 2:]


def _inside_mask(layer: Layer, xy_texture: np.ndarray) -> np.ndarray:
    """Whether texture-raster points fall on an opaque pixel of the layer."""
    h, w = layer.texture.shape[:2]
    col, row = np.floor(xy_texture[..., 0]), np.floor(xy_texture[..., 1])
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    if layer.mask is None:
        return inside
    hit = np.zeros(inside.shape, bool)
    hit[inside] = layer.mask[row[inside].astype(int), col[inside].astype(int)]
    return hit


def render_frames(layers: list[Layer], height: int, width: int) -> np.ndarray:
    """Composite the layers back to front (list order) into uint8 `(T, H, W, 3)` frames.

    The first layer is the background: it fills the whole frame (its texture mirrored beyond its
    edges). Every other layer covers exactly its mask (or its texture's extent where mask is None).
    """
    n_frames = layers[0].homographies.shape[0]
    frames = np.empty((n_frames, height, width, 3), np.uint8)
    for t in range(n_frames):
        canvas = None
        for layer in layers:
            h_cv = _CENTRE @ layer.homographies[t] @ np.linalg.inv(_CENTRE)
            border = cv2.BORDER_REFLECT_101 if canvas is None else cv2.BORDER_CONSTANT
            colour = cv2.warpPerspective(layer.texture, h_cv, (width, height), flags=cv2.INTER_LINEAR,
                                         borderMode=border)
            if canvas is None:
                canvas = colour
                continue
            mask = np.ones(layer.texture.shape[:2], bool) if layer.mask is None else layer.mask
            alpha = cv2.warpPerspective(mask.astype(np.float32), h_cv, (width, height), flags=cv2.INTER_LINEAR)
            canvas += alpha[..., None] * (colour - canvas)
        frames[t] = np.clip(np.rint(canvas), 0, 255)
    return frames


def track_layer_points(layers: list[Layer], layer_index: np.ndarray, xy_texture: np.ndarray,
                       height: int, width: int) -> Tracks:
    """Ground-truth tracks of points fixed on layers: positions, and visibility from layer order and bounds.

    `layer_index[i]` is the layer point i lies on, `xy_texture[i]` its texture raster position.
    """
    n_frames = layers[0].homographies.shape[0]
    xy = np.empty((len(xy_texture), n_frames, 2), np.float64)
    for k, layer in enumerate(layers):
        on = layer_index == k
        xy[on] = _apply(layer.homographies, xy_texture[on][None]).transpose(1, 0, 2)
    visible = (xy[..., 0] >= 0) & (xy[..., 0] < width) & (xy[..., 1] >= 0) & (xy[..., 1] < height)
    for k, layer in enumerate(layers):
        below = layer_index < k
        if below.any():
            inverse = np.linalg.inv(layer.homographies)
            covered = _inside_mask(layer, _apply(inverse, xy[below].transpose(1, 0, 2))).T
            visible[below] &= ~covered
    return Tracks(xy=xy.astype(np.float32), visible=visible)


def make_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A colour texture with structure at scales from 2 to 64 px, plus sharp-edged shapes."""
    tex = np.zeros((height, width, 3), np.float32)
    for scale, weight in ((64, 1.0), (32, 0.8), (16, 0.7), (8, 0.6), (4, 0.5), (2, 0.35)):
        coarse = rng.normal(size=(height // scale + 2, width // scale + 2, 3)).astype(np.float32)
        up = cv2.resize(coarse, ((width // scale + 2) * scale, (height // scale + 2) * scale), interpolation=cv2.INTER_CUBIC)
        tex += weight * up[scale: scale + height, scale: scale + width]
    tex = 128 + 40 * (tex - tex.mean((0, 1))) / (tex.std((0, 1)) + 1e-6) + rng.uniform(-40, 40, size=3)
    shapes = np.zeros_like(tex)
    for _ in range(max(4, height * width // 3000)):
        colour = rng.uniform(-90, 90, 3).tolist()
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        size = int(rng.integers(2, max(3, min(height, width) // 20)))
        if rng.random() < 0.5:
            cv2.circle(shapes, centre, size, colour, -1, lineType=cv2.LINE_AA)
        else:
            cv2.rectangle(shapes, centre, (centre[0] + size, centre[1] + int(rng.integers(2, size + 3))), colour, -1)
    tex += shapes
    return np.clip(cv2.GaussianBlur(tex, (0, 0), 0.6), 0, 255)


def _shape_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """An ellipse or a random star-shaped polygon filling most of a texture."""
    mask = np.zeros((height, width), np.uint8)
    centre = (width / 2, height / 2)
    if rng.random() < 0.5:
        cv2.ellipse(mask, (int(centre[0]), int(centre[1])), (int(width * 0.45), int(height * 0.45)), 0, 0, 360, 1, -1)
    else:
        angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(5, 9))))
        radii = rng.uniform(0.3, 0.48, len(angles))
        pts = np.stack([centre[0] + radii * width * np.cos(angles), centre[1] + radii * height * np.sin(angles)], 1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask.astype(bool)


def _similarity(tx, ty, angle, scale, px, py, cx, cy) -> np.ndarray:
    """Per-frame homographies: texture centre (cx, cy) -> image (tx, ty), rotated, scaled, with perspective."""
    n = len(tx)
    h = np.zeros((n, 3, 3))
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    h[:, 0, 0], h[:, 0, 1], h[:, 1, 0], h[:, 1, 1] = c, -s, s, c
    h[:, 2, 0], h[:, 2, 1], h[:, 2, 2] = px, py, 1
    to_origin = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
    h = h @ to_origin
    h[:, :2] += np.stack([tx, ty], 1)[:, :, None] * h[:, 2:3]  # translate after the projective part
    return h


def _smooth_motion(rng, n_frames, strength, amplitude, rotation, centre, cx, cy):
    """Sinusoidal translation (`amplitude` px) plus drift, rotation wobble (`rotation` rad), scale and perspective."""
    t = np.arange(n_frames, dtype=np.float64)

    def wave(amp):
        return amp * np.sin(2 * np.pi * t / rng.uniform(40, 100) + rng.uniform(0, 2 * np.pi))

    tx = centre[0] + wave(amplitude * strength) + rng.normal(0, 0.5 * strength) * t
    ty = centre[1] + wave(amplitude * strength) + rng.normal(0, 0.5 * strength) * t
    angle = rng.uniform(-rotation, rotation) + wave(rotation * strength)
    scale = np.exp(wave(0.15 * strength))
    persp = 0.075 * strength / max(cx, cy, 1)
    return _similarity(tx, ty, angle, scale, wave(persp), wave(persp), cx, cy)


class SyntheticDataset(Dataset):
    """Deterministic synthetic videos: `num_videos` of `num_frames` at `height`×`width`.

    `num_tracks` points are placed per video (40 % on the background, the rest spread over the
    `num_layers` foreground layers); queries follow `query_mode` ("first" or "strided" every
    `query_stride` frames), so a video has at most `num_tracks` queries in "first" mode.
    `motion_strength` scales every motion amplitude (0 = still video).
    """

    positions_under_occlusion = True  # ground truth continues behind occluders (breakdowns)

    def __init__(self, num_videos: int = 8, num_frames: int = 24, height: int = 256, width: int = 256,
                 num_tracks: int = 256, num_layers: int = 4, motion_strength: float = 1.0, seed: int = 0,
                 query_mode: str = "first", query_stride: int = 5, fps: float = 24.0):
        if num_frames < 2 or height < 16 or width < 16 or num_videos < 0 or num_tracks < 1 or num_layers < 0:
            raise ValueError("synthetic dataset: need num_frames >= 2, height/width >= 16, num_tracks >= 1, "
                             f"num_videos/num_layers >= 0; got {locals()}")
        if query_mode not in QUERY_MODES:
            raise ValueError(f"synthetic dataset: query_mode must be one of {QUERY_MODES}; got {query_mode!r}")
        if query_stride < 1:
            raise ValueError(f"synthetic dataset: query_stride must be a positive integer; got {query_stride!r}")
        self.num_videos, self.num_frames, self.height, self.width = num_videos, num_frames, height, width
        self.num_tracks, self.num_layers, self.motion_strength = num_tracks, num_layers, motion_strength
        self.seed, self.query_mode, self.query_stride, self.fps = seed, query_mode, query_stride, fps

    @property
    def names(self) -> list[str]:
        return [f"synthetic_{i:03d}" for i in range(self.num_videos)]

    def make_layers(self, index: int, textures: bool = True) -> list[Layer]:
        """The layers of video `index`, back to front (deterministic in `seed` and `index`).

        Textures come from random streams of their own, so `textures=False` (blank textures of the
        right size: all that ground truth needs) gives the same shapes and motions, fast.
        """
        rng = np.random.default_rng([self.seed, index])
        h, w, t, strength = self.height, self.width, self.num_frames, self.motion_strength

        def texture(k: int, th: int, tw: int) -> np.ndarray:
            if not textures:
                return np.broadcast_to(np.zeros(3, np.float32), (th, tw, 3))
            return make_texture(np.random.default_rng([self.seed, index, 2, k]), th, tw)

        bh, bw = int(h * 1.5), int(w * 1.5)
        layers = [Layer(texture(0, bh, bw), _smooth_motion(
            rng, t, strength, 0.08 * min(h, w), 0.05, (w / 2, h / 2), bw / 2, bh / 2))]
        for k in range(1, self.num_layers + 1):
            lh, lw = (int(rng.uniform(0.3, 0.5) * s) for s in (h, w))
            centre = (rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h)
            motion = _smooth_motion(rng, t, strength, 0.25 * min(h, w), 0.2, centre, lw / 2, lh / 2)
            layers.append(Layer(texture(k, lh, lw), motion, _shape_mask(rng, lh, lw)))
        return layers

    def _place_points(self, rng, layers) -> tuple[np.ndarray, np.ndarray]:
        """Texture positions of the tracks: background points seen in frame at a random time, others on masks."""
        n_bg = self.num_tracks if len(layers) == 1 else int(round(0.4 * self.num_tracks))
        t0 = rng.integers(0, self.num_frames, n_bg)
        image_xy = rng.uniform(0, 1, (n_bg, 2)) * [self.width, self.height]
        bg = _apply(np.linalg.inv(layers[0].homographies[t0]), image_xy[:, None])[:, 0]
        index, xy = [np.zeros(n_bg, int)], [bg]
        counts = np.bincount(rng.integers(1, len(layers), self.num_tracks - n_bg), minlength=len(layers))
        for k in range(1, len(layers)):
            rows, cols = np.nonzero(layers[k].mask)
            pick = rng.integers(0, len(rows), counts[k])
            xy.append(np.stack([cols[pick], rows[pick]], 1) + rng.uniform(0, 1, (counts[k], 2)))
            index.append(np.full(counts[k], k))
        return np.concatenate(index), np.concatenate(xy)

    def _tracks(self, index: int, textures: bool = True) -> tuple[list[Layer], np.ndarray, Tracks]:
        if not 0 <= index < self.num_videos:
            raise IndexError(f"synthetic dataset has {self.num_videos} videos; got index {index}")
        layers = self.make_layers(index, textures)
        rng = np.random.default_rng([self.seed, index, 1])
        layer_index, xy_texture = self._place_points(rng, layers)
        gt = track_layer_points(layers, layer_index, xy_texture, self.height, self.width)
        queries, track = sample_queries(gt.xy, gt.visible, self.query_mode, self.query_stride)
        return layers, queries, gt[track]

    def load_annotations(self, index: int) -> Annotations:
        _, queries, gt = self._tracks(index, textures=False)
        return Annotations(self.names[index], queries, gt, self.num_frames, (self.height, self.width), self.fps)

    def load(self, index: int) -> Sample:
        layers, queries, gt = self._tracks(index)
        frames = render_frames(layers, self.height, self.width)
        return Sample(name=self.names[index], frames=frames, queries=queries, gt=gt, fps=self.fps)
