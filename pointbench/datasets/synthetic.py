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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from pointbench.datasets.base import Dataset
from pointbench.datasets.queries import QUERY_MODES, sample_queries
from pointbench.types import Annotations, Sample, Tracks

__all__ = ["Layer", "SyntheticDataset", "make_texture", "render_frames", "track_layer_points"]

_CENTRE = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])  # raster -> pixel-centre coordinates
_STD_TAKES_MEAN = np.lib.NumpyVersion(np.__version__) >= "2.0.0"  # ndarray.std(mean=...)


@dataclass
class Layer:
    """A texture, the mask of its opaque pixels (None: all of the texture) and its motion.

    `homographies[t]` maps texture raster coordinates to image raster coordinates at frame t.
    """

    texture: np.ndarray  # float (h, w, 3), values in [0, 255] (make_texture: float64)
    homographies: np.ndarray  # float64 (T, 3, 3)
    mask: np.ndarray | None = None  # bool (h, w)


def _apply_xy(h: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply homographies `(..., 3, 3)` to points `(..., P, 2)`: the mapped x and y, each `(..., P)`."""
    # Written out (not einsum or matmul): the same three products summed in the same order, faster.
    x, y = xy[..., None, :, 0], xy[..., None, :, 1]
    p = h[..., :, 0:1] * x + h[..., :, 1:2] * y + h[..., :, 2:3]  # (..., 3, P)
    return p[..., 0, :] / p[..., 2, :], p[..., 1, :] / p[..., 2, :]


def _apply(h: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply homographies `(..., 3, 3)` to points `(..., P, 2)`: `(..., P, 2)`."""
    return np.stack(_apply_xy(h, xy), axis=-1)


def _inside(layer: Layer, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether the points at texture-raster coordinates `x`, `y` fall on an opaque pixel of the layer."""
    h, w = layer.texture.shape[:2]
    col, row = np.floor(x), np.floor(y)
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

    Frames are rendered in `cv2.getNumThreads()` threads (1: in this thread); they do not depend on it.
    """
    n_frames = layers[0].homographies.shape[0]
    frames = np.empty((n_frames, height, width, 3), np.uint8)
    masks = _masks(layers)
    _in_threads(lambda t: _composite(layers, t, _foreground(layers, masks, t, height, width), frames[t]),
                range(n_frames))
    return frames


_UNCENTRE = np.linalg.inv(_CENTRE)


def _masks(layers: list[Layer]) -> list[np.ndarray]:
    """The foreground layers' masks as float32 (what is warped into blend weights)."""
    return [(np.ones(layer.texture.shape[:2], bool) if layer.mask is None else layer.mask).astype(np.float32)
            for layer in layers[1:]]


def _foreground(layers: list[Layer], masks: list[np.ndarray], t: int, height: int,
                width: int) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """Frame t's foreground layers, back to front, each as `(x, y, weight, colour)` over the box at
    column x, row y that holds every pixel the layer covers (the bounding box of its nonzero blend
    weights); layers that cover no pixel are left out. Needs no background texture.

    Outside that box a layer's blend adds exactly 0, so blending over the box alone changes nothing.
    The mask is warped over the whole frame (one float channel: cheap): OpenCV's float32 kernel
    computes coordinates in single precision from the row and column, so a warp shifted to the box
    would not give the same weights. A float64 texture (what make_texture makes) is warped over the
    box only, by the same homography shifted to the box: that kernel computes coordinates in double
    precision and samples the same positions (the checksums pinned in tests/test_synthetic.py hold
    the frames to the full-frame warp's, bit for bit); other textures are warped over the frame.
    """
    out = []
    for layer, mask in zip(layers[1:], masks):
        h_cv = _CENTRE @ layer.homographies[t] @ _UNCENTRE
        alpha = cv2.warpPerspective(mask, h_cv, (width, height), flags=cv2.INTER_LINEAR)
        x, y, w, h = cv2.boundingRect(cv2.compare(alpha, 0, cv2.CMP_NE))
        if w == 0:
            continue
        if layer.texture.dtype == np.float64:
            h_box = h_cv.copy()
            h_box[:2] -= np.array([[x], [y]]) * h_box[2]  # then image -> box coordinates
            colour = cv2.warpPerspective(layer.texture, h_box, (w, h), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT)
        else:
            colour = cv2.warpPerspective(layer.texture, h_cv, (width, height), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT)[y:y + h, x:x + w]
        out.append((x, y, alpha[y:y + h, x:x + w, None].copy(), colour))
    return out


def _composite(layers: list[Layer], t: int, foreground: list, out: np.ndarray) -> None:
    """Frame t into `out` (uint8 `(H, W, 3)`): the background, then `_foreground`'s layers blended over it."""
    height, width = out.shape[:2]
    background = layers[0]
    canvas = cv2.warpPerspective(background.texture, _CENTRE @ background.homographies[t] @ _UNCENTRE,
                                 (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    for x, y, weight, colour in foreground:
        box = canvas[y:y + colour.shape[0], x:x + colour.shape[1]]
        if colour.dtype == box.dtype == np.result_type(colour, box, weight) and colour.flags.owndata:
            box += np.multiply(np.subtract(colour, box, out=colour), weight, out=colour)  # in place: the same values
        else:
            box += weight * (colour - box)
    np.rint(canvas, out=canvas)
    out[...] = np.clip(canvas, 0, 255, out=canvas)


def _in_threads(fn, items) -> None:
    """`fn(item)` for every item, spread over `cv2.getNumThreads()` threads (in order in this one if 1)."""
    items = list(items)
    workers = min(len(items), max(1, cv2.getNumThreads()))
    if workers <= 1:
        for item in items:
            fn(item)
        return
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(fn, items):  # re-raises the first error
            pass


def track_layer_points(layers: list[Layer], layer_index: np.ndarray, xy_texture: np.ndarray,
                       height: int, width: int) -> Tracks:
    """Ground-truth tracks of points fixed on layers: positions, and visibility from layer order and bounds.

    `layer_index[i]` is the layer point i lies on, `xy_texture[i]` its texture raster position.
    """
    # Each point through its own layer's homographies, all at once: `_apply`'s products, element by element.
    homographies = np.stack([layer.homographies for layer in layers])  # (layers, T, 3, 3)
    xy = _apply(homographies[layer_index], xy_texture[:, None, None, :])[:, :, 0]  # (N, T, 2)
    visible = (xy[..., 0] >= 0) & (xy[..., 0] < width) & (xy[..., 1] >= 0) & (xy[..., 1] < height)
    inverses = np.linalg.inv(homographies)  # one call for every layer and frame (each matrix as on its own)
    for k, layer in enumerate(layers):
        below = layer_index < k
        if below.any():
            covered = _inside(layer, *_apply_xy(inverses[k], xy[below].transpose(1, 0, 2))).T
            visible[below] &= ~covered
    return Tracks(xy=xy.astype(np.float32), visible=visible)


def make_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A colour texture with structure at scales from 2 to 64 px, plus sharp-edged shapes (float64)."""
    tex = term = None
    for scale, weight in ((64, 1.0), (32, 0.8), (16, 0.7), (8, 0.6), (4, 0.5), (2, 0.35)):
        coarse = rng.normal(size=(height // scale + 2, width // scale + 2, 3)).astype(np.float32)
        up = cv2.resize(coarse, ((width // scale + 2) * scale, (height // scale + 2) * scale), interpolation=cv2.INTER_CUBIC)
        up = up[scale: scale + height, scale: scale + width]
        if tex is None:
            tex, term = weight * up, np.empty((height, width, 3), np.float32)  # = 0 + weight * up
        else:
            tex += np.multiply(up, weight, out=term)
    mean = tex.mean((0, 1), keepdims=True)
    std = tex.std((0, 1), mean=mean) if _STD_TAKES_MEAN else tex.std((0, 1))  # the same value; one pass fewer
    tex = np.subtract(tex, mean, out=term)  # 128 + 40 * (tex - mean) / (std + 1e-6), in place
    tex *= 40
    tex /= std + 1e-6
    tex += 128
    tex = tex + rng.uniform(-40, 40, size=3)  # float64 from here on
    shapes = np.zeros(tex.shape, tex.dtype)
    for _ in range(max(4, height * width // 3000)):
        colour = rng.uniform(-90, 90, 3).tolist()
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        size = int(rng.integers(2, max(3, min(height, width) // 20)))
        if rng.random() < 0.5:
            cv2.circle(shapes, centre, size, colour, -1, lineType=cv2.LINE_AA)
        else:
            cv2.rectangle(shapes, centre, (centre[0] + size, centre[1] + int(rng.integers(2, size + 3))), colour, -1)
    tex += shapes
    blurred = cv2.GaussianBlur(tex, (0, 0), 0.6)
    return np.clip(blurred, 0, 255, out=blurred)


def _blank(height: int, width: int) -> np.ndarray:
    """A blank texture of that size (a read-only view of one zero pixel): all that ground truth needs."""
    return np.broadcast_to(np.zeros(3, np.float32), (height, width, 3))


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
    two_pi_t = 2 * np.pi * t  # the left operand of every wave's `2 * np.pi * t / period`

    def wave(amp):
        return amp * np.sin(two_pi_t / rng.uniform(40, 100) + rng.uniform(0, 2 * np.pi))

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
        bh, bw = int(h * 1.5), int(w * 1.5)
        layers = [Layer(_blank(bh, bw), _smooth_motion(
            rng, t, strength, 0.08 * min(h, w), 0.05, (w / 2, h / 2), bw / 2, bh / 2))]
        for k in range(1, self.num_layers + 1):
            lh, lw = (int(rng.uniform(0.3, 0.5) * s) for s in (h, w))
            centre = (rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h)
            motion = _smooth_motion(rng, t, strength, 0.25 * min(h, w), 0.2, centre, lw / 2, lh / 2)
            layers.append(Layer(_blank(lh, lw), motion, _shape_mask(rng, lh, lw)))
        if textures:

            def paint(k: int) -> None:
                layers[k].texture = self._texture(index, layers, k)

            _in_threads(paint, range(len(layers)))
        return layers

    def _texture(self, index: int, layers: list[Layer], k: int) -> np.ndarray:
        """Layer k's texture, from a random stream of its own (the size of its blank one)."""
        th, tw = layers[k].texture.shape[:2]
        return make_texture(np.random.default_rng([self.seed, index, 2, k]), th, tw)

    def _place_points(self, rng, layers) -> tuple[np.ndarray, np.ndarray]:
        """Texture positions of the tracks: background points seen in frame at a random time, others on masks."""
        n_bg = self.num_tracks if len(layers) == 1 else int(round(0.4 * self.num_tracks))
        t0 = rng.integers(0, self.num_frames, n_bg)
        image_xy = rng.uniform(0, 1, (n_bg, 2)) * [self.width, self.height]
        bg = _apply(np.linalg.inv(layers[0].homographies)[t0], image_xy[:, None])[:, 0]  # each frame's inverse once
        index, xy = [np.zeros(n_bg, int)], [bg]
        counts = np.bincount(rng.integers(1, len(layers), self.num_tracks - n_bg), minlength=len(layers))
        for k in range(1, len(layers)):
            rows, cols = np.nonzero(layers[k].mask)
            pick = rng.integers(0, len(rows), counts[k])
            xy.append(np.stack([cols[pick], rows[pick]], 1) + rng.uniform(0, 1, (counts[k], 2)))
            index.append(np.full(counts[k], k))
        return np.concatenate(index), np.concatenate(xy)

    def _layers(self, index: int) -> list[Layer]:
        """Video `index`'s layers with blank textures (an IndexError names the range)."""
        if not 0 <= index < self.num_videos:
            raise IndexError(f"synthetic dataset has {self.num_videos} videos; got index {index}")
        return self.make_layers(index, textures=False)

    def _tracks(self, index: int, layers: list[Layer]) -> tuple[np.ndarray, Tracks]:
        """Queries and ground truth of video `index` (its layers: textures not needed)."""
        rng = np.random.default_rng([self.seed, index, 1])
        layer_index, xy_texture = self._place_points(rng, layers)
        gt = track_layer_points(layers, layer_index, xy_texture, self.height, self.width)
        queries, track = sample_queries(gt.xy, gt.visible, self.query_mode, self.query_stride)
        return queries, gt[track]

    def load_annotations(self, index: int) -> Annotations:
        queries, gt = self._tracks(index, self._layers(index))
        return Annotations(self.names[index], queries, gt, self.num_frames, (self.height, self.width), self.fps)

    def load(self, index: int) -> Sample:
        """Video `index`: what `render_frames` makes of `make_layers(index)`, and its ground truth.

        With more than one thread (`cv2.getNumThreads()`), the background texture (the largest
        piece of work that waits for nothing else) is made in a second thread while this one
        computes the ground truth, the foreground textures and, until it is done, the foreground
        layers of the first frames (at most the frames' size in memory); then the frames are
        composited in threads. The result does not depend on the threads or on their timing.
        """
        layers = self._layers(index)
        height, width, n_frames = self.height, self.width, self.num_frames
        frames = np.empty((n_frames, height, width, 3), np.uint8)
        masks, ahead, held = _masks(layers), {}, 0
        if cv2.getNumThreads() <= 1:
            queries, gt = self._tracks(index, layers)
            for k, layer in enumerate(layers):
                layer.texture = self._texture(index, layers, k)
        else:
            with ThreadPoolExecutor(1) as pool:
                background = pool.submit(self._texture, index, layers, 0)
                queries, gt = self._tracks(index, layers)
                for k in range(1, len(layers)):
                    layers[k].texture = self._texture(index, layers, k)
                while not background.done() and len(ahead) < n_frames and held < frames.nbytes:
                    ahead[len(ahead)] = _foreground(layers, masks, len(ahead), height, width)
                    held += sum(weight.nbytes + colour.nbytes for _, _, weight, colour in ahead[len(ahead) - 1])
                layers[0].texture = background.result()

        def frame(t: int) -> None:
            foreground = ahead.pop(t, None)
            if foreground is None:
                foreground = _foreground(layers, masks, t, height, width)
            _composite(layers, t, foreground, frames[t])

        _in_threads(frame, range(n_frames))
        return Sample(name=self.names[index], frames=frames, queries=queries, gt=gt, fps=self.fps)
