"""Rerun 3D recording: cameras, their images, depth point clouds and 3D tracks in one world view.

Videos are grouped into scenes: the cameras of one multi-camera recording share a scene (and its
world frame); a single-camera video is a scene of its own. Everything temporal is sent
column-wise on the `frame` sequence timeline. Entities, for scene `s`, camera `c` and track
source `k` ("gt" or a tracker's name):

    world/s/cameras/c           Transform3D per frame: camera to world (the inverse of the extrinsics)
    world/s/cameras/c/image     Pinhole per frame and the frame as JPEG; the intrinsics' principal
                                point is moved by +0.5 so that Rerun's image space is pointbench's
                                raster convention (pixel (i, j) covers [j, j+1) × [i, i+1))
    world/s/cameras/c/image/k   Points2D: the 2D tracks visible at each frame
    world/s/cameras/c/depth     Points3D: every `depth_stride`-th row and column of the depth map
                                where it is valid (> 0, finite), camera frame, in the image's colours
    world/s/tracks/c/k/points   Points3D: world positions at each frame, where visible and lifted
    world/s/tracks/c/k/paths    LineStrips3D: at frame t, a segment from t-1 to t for each track
                                positioned at both; the 3D view shows the last `trail_length`
                                frames of them (every earlier frame when None): the trajectories

A track's 3D position is its `xyz` (camera or world frame), else its 2D position lifted with the
video's depth map where there is one; points not lifted (NaN) are not drawn. Colours come from
class ids (the track index) through AnnotationContexts: per track in the 2D views, and in 3D per
track for a single camera and per camera in a multi-camera scene (`colors_3d`). Ground truth is
drawn small and thin, predictions large and wide, as in the 2D recording.

The blueprint has, per scene (a tab each when there are several), a Spatial3DView of the world
beside one Spatial2DView per camera. The file appears at `path` only when the recording closes
cleanly, and only if something was logged.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import rerun as rr
import rerun.blueprint as rrb

from pointbench.geometry import RASTER_OFFSET, camera_to_world, lift
from pointbench.io import atomic_path
from pointbench.types import Sample, Tracks, validate_frames
from pointbench.viz.rerun_log import jpeg_blobs, palette_context, subsample, track_colors

__all__ = ["Recording3D", "log_3d_video", "depth_cloud"]

# (radius in UI points, draw order), as in the 2D recording: predictions large, ground truth small on top.
_PRED_POINTS, _GT_POINTS = (4.0, 30.0), (2.0, 32.0)
_PRED_PATHS, _GT_PATHS = (1.5, 20.0), (0.75, 21.0)
_CLOUD_POINTS = 1.5


def depth_cloud(depth: np.ndarray, intrinsics: np.ndarray, frames: np.ndarray, stride: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every `stride`-th row and column of `depth (T, H, W)` where valid, unprojected:
    camera-frame positions `(P, 3)` and RGB colours `(P, 3)` ordered by frame, and the count per frame."""
    sub = depth[:, ::stride, ::stride]
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(sub) & (sub > 0)
    t, a, b = np.nonzero(valid)
    rows, cols = a * stride, b * stride
    pixels = np.stack([cols, rows, np.ones_like(rows)], axis=-1).astype(np.float64)  # OpenCV pixel centres
    rays = np.einsum("pij,pj->pi", np.linalg.inv(np.asarray(intrinsics, np.float64))[t], pixels)
    positions = rays / rays[:, 2:] * sub[t, a, b][:, None].astype(np.float64)
    return positions.astype(np.float32), frames[t, rows, cols], np.bincount(t, minlength=len(depth))


def _strips3d(starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """Two-point strips (start_i, end_i) as an Arrow LineStrip3D list array."""
    strip_type = rr.components.LineStrip3D.arrow_type()
    vertices = np.stack([starts, ends], axis=1).astype(np.float32).reshape(-1)
    values = pa.FixedSizeListArray.from_arrays(pa.array(vertices), type=strip_type.value_type)
    return pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * len(starts) + 1, 2, dtype=np.int32)), values,
                                    type=strip_type)



@dataclass
class _Scene:
    path: str  # entity path
    name: str
    cameras: dict[str, str] = field(default_factory=dict)  # camera label -> entity path part
    sources: dict[str, list[str]] = field(default_factory=dict)  # camera part -> logged 3D sources
    tracks: dict[str, np.ndarray] = field(default_factory=dict)  # camera part -> class ids logged


class Recording3D:
    """Writes a 3D recording of cameras and tracks; use as a context manager.

    >>> with Recording3D(run_dir / "tracks3d.rrd") as rec:  # doctest: +SKIP
    ...     rec.log_camera("kitchen", "cam0", frames, K, extrinsics, depth, {"gt": gt, "lk": pred})

    Args:
        depth_stride: the depth cloud takes every `depth_stride`-th row and column (None or 0: no cloud).
        trail_length: frames of trajectory shown behind each point in 3D (None: from the start).
        max_points: draw at most this many tracks per camera (evenly spread); None draws all.
        colors_3d: "auto" (per camera in a multi-camera scene, else per track), "track" or "camera".
        image_plane_distance: distance at which the 3D view draws each camera's image (Rerun's
            default when None).
    """

    def __init__(self, path: Path, application_id: str = "pointbench", jpeg_quality: int = 85,
                 depth_stride: int | None = 8, trail_length: int | None = None, max_points: int | None = None,
                 colors_3d: str = "auto", image_plane_distance: float | None = None) -> None:
        if colors_3d not in ("auto", "track", "camera"):
            raise ValueError(f"{path}: colors_3d must be 'auto', 'track' or 'camera'; got {colors_3d!r}")
        self.path, self.application_id = Path(path), application_id
        self.jpeg_quality, self.depth_stride = jpeg_quality, depth_stride
        self.trail_length, self.max_points, self.colors_3d = trail_length, max_points, colors_3d
        self.image_plane_distance = image_plane_distance
        self._scenes: dict[str, _Scene] = {}
        self._fps: float | None = None
        self._stack = contextlib.ExitStack()
        self._rec: rr.RecordingStream | None = None
        self._closed = False

    def __enter__(self) -> Recording3D:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._finish(exc_type, exc, tb)

    def _stream(self) -> rr.RecordingStream:
        """The recording, started (into a temporary file beside `path`) when first needed."""
        if self._rec is None:
            tmp = self._stack.enter_context(atomic_path(self.path))
            self._rec = rr.RecordingStream(self.application_id)
            self._rec.save(tmp)
        return self._rec

    def log_camera(self, scene: str, camera: str, frames: np.ndarray, intrinsics: np.ndarray,
                   extrinsics: np.ndarray | None = None, depth: np.ndarray | None = None,
                   tracks: dict[str, Tracks] | None = None, fps: float = 30.0) -> None:
        """Log one camera of `scene`: frames `(T, H, W, 3)` uint8, intrinsics `(T, 3, 3)` (OpenCV
        pixel-centre), extrinsics `(T, 3, 4)` world-to-camera (None: the camera frame is the
        world frame), depth `(T, H, W)` metres (0 = invalid) or None, and tracks by source name
        ("gt" is drawn as ground truth) with 2D positions in this camera and optional `xyz`.
        """
        if self._closed:
            raise RuntimeError(f"{self.path}: recording is closed")
        owner = f"scene '{scene}', camera '{camera}'"
        validate_frames(frames, owner)
        n_frames, height, width = frames.shape[:3]
        intrinsics = np.asarray(intrinsics, np.float64)
        if intrinsics.shape != (n_frames, 3, 3):
            raise ValueError(f"{owner}: 'intrinsics' must have shape ({n_frames}, 3, 3); got {intrinsics.shape}")
        extrinsics = (np.broadcast_to(np.eye(3, 4), (n_frames, 3, 4)) if extrinsics is None
                      else np.asarray(extrinsics, np.float64))
        if extrinsics.shape != (n_frames, 3, 4):
            raise ValueError(f"{owner}: 'extrinsics' must have shape ({n_frames}, 3, 4); got {extrinsics.shape}")
        if depth is not None and np.shape(depth) != (n_frames, height, width):
            raise ValueError(f"{owner}: 'depth' must have shape {(n_frames, height, width)}; got {np.shape(depth)}")
        tracks = {k: v for k, v in (tracks or {}).items() if v is not None}
        counts = {len(v) for v in tracks.values()}
        if len(counts) > 1 or any(v.n_frames != n_frames for v in tracks.values()):
            raise ValueError(f"{owner}: tracks must share one (N, T={n_frames}); got "
                             f"{ {k: v.xy.shape[:2] for k, v in tracks.items()} }")

        rec = self._stream()
        state = self._scenes.setdefault(scene, _Scene(f"world/{rr.escape_entity_path_part(scene)}", scene))
        part = rr.escape_entity_path_part(camera)
        if part in state.cameras.values():
            raise ValueError(f"{owner}: already logged to {self.path}")
        state.cameras[camera] = part
        cam_path, track_path = f"{state.path}/cameras/{part}", f"{state.path}/tracks/{part}"
        index = [rr.TimeColumn("frame", sequence=np.arange(n_frames))]

        rotation, translation = extrinsics[:, :, :3], extrinsics[:, :, 3]
        rec.send_columns(cam_path, index, rr.Transform3D.columns(
            translation=-np.einsum("tji,tj->ti", rotation, translation), mat3x3=rotation.transpose(0, 2, 1)))
        image_from_camera = intrinsics.copy()
        image_from_camera[:, :2, 2] += RASTER_OFFSET * image_from_camera[:, 2:, 2]
        if self.image_plane_distance is not None:
            rec.log(f"{cam_path}/image", rr.Pinhole.from_fields(image_plane_distance=self.image_plane_distance),
                    static=True)
        pinhole = rr.Pinhole.columns(image_from_camera=image_from_camera,
                                     resolution=np.tile([width, height], (n_frames, 1)))
        jpegs = jpeg_blobs(frames, self.jpeg_quality)
        images = rr.EncodedImage.columns(blob=jpegs, media_type=["image/jpeg"] * n_frames)
        rec.send_columns(f"{cam_path}/image", index, [*pinhole, *images])  # one row per frame
        if depth is not None and self.depth_stride:
            positions, colors, cloud_counts = depth_cloud(np.asarray(depth), intrinsics, frames, self.depth_stride)
            rec.log(f"{cam_path}/depth", rr.Points3D.from_fields(radii=rr.Radius.ui_points(_CLOUD_POINTS)),
                    static=True)
            rec.send_columns(f"{cam_path}/depth", index,
                             rr.Points3D.columns(positions=positions, colors=colors).partition(cloud_counts))

        keep = subsample(counts.pop() if counts else 0, self.max_points)
        rec.log(cam_path, palette_context(keep, track_colors(keep[-1] + 1 if len(keep) else 0)[keep]), static=True)
        sources = []
        for name, source in tracks.items():
            source = source[keep] if len(keep) < len(source) else source
            gt_style = name == "gt"
            ids = keep.astype(np.uint16)
            self._send_points2d(f"{cam_path}/image/{rr.escape_entity_path_part(name)}", index, source, ids,
                                _GT_POINTS if gt_style else _PRED_POINTS)
            world = self._world(source, extrinsics, depth, intrinsics)
            if world is None:
                continue
            drawn = source.visible & np.isfinite(world).all(axis=-1)
            path = f"{track_path}/{rr.escape_entity_path_part(name)}"
            self._send_points3d(f"{path}/points", index, world, drawn, ids, _GT_POINTS if gt_style else _PRED_POINTS)
            self._send_paths(f"{path}/paths", index, world, drawn, ids, _GT_PATHS if gt_style else _PRED_PATHS)
            sources.append(name)
        state.sources[part], state.tracks[part] = sources, keep
        self._fps = self._fps or fps

    @staticmethod
    def _world(tracks: Tracks, extrinsics, depth, intrinsics) -> np.ndarray | None:
        """World positions `(N, T, 3)` (NaN where unknown), or None without 3D or depth to lift with."""
        if tracks.xyz is not None:
            return tracks.xyz if tracks.xyz_frame == "world" else camera_to_world(tracks.xyz, extrinsics)
        if depth is None:
            return None
        return lift(tracks.xy, tracks.visible, np.asarray(depth), intrinsics, extrinsics)[1]

    def _send_points2d(self, path: str, index: list, tracks: Tracks, ids: np.ndarray, style: tuple) -> None:
        t, i = np.nonzero(tracks.visible.T)
        self._rec.log(path, rr.Points2D.from_fields(radii=rr.Radius.ui_points(style[0]), draw_order=style[1]),
                      static=True)
        columns = rr.Points2D.columns(positions=tracks.xy[i, t], class_ids=ids[i])
        self._rec.send_columns(path, index, columns.partition(np.bincount(t, minlength=tracks.n_frames)))

    def _send_points3d(self, path: str, index: list, world: np.ndarray, drawn: np.ndarray, ids: np.ndarray,
                       style: tuple) -> None:
        t, i = np.nonzero(drawn.T)
        self._rec.log(path, rr.Points3D.from_fields(radii=rr.Radius.ui_points(style[0])), static=True)
        columns = rr.Points3D.columns(positions=world[i, t], class_ids=ids[i])
        self._rec.send_columns(path, index, columns.partition(np.bincount(t, minlength=drawn.shape[1])))

    def _send_paths(self, path: str, index: list, world: np.ndarray, drawn: np.ndarray, ids: np.ndarray,
                    style: tuple) -> None:
        both = np.zeros_like(drawn)
        both[:, 1:] = drawn[:, 1:] & drawn[:, :-1]
        t, i = np.nonzero(both.T)
        self._rec.log(path, rr.LineStrips3D.from_fields(radii=rr.Radius.ui_points(style[0])), static=True)
        columns = rr.LineStrips3D.columns(strips=_strips3d(world[i, t - 1], world[i, t]), class_ids=ids[i])
        self._rec.send_columns(path, index, columns.partition(np.bincount(t, minlength=drawn.shape[1])))

    def _scene_views(self, scene: _Scene) -> rrb.Container:
        start = (rrb.TimeRangeBoundary.infinite() if self.trail_length is None
                 else rrb.TimeRangeBoundary.cursor_relative(seq=1 - self.trail_length))
        trail = rrb.VisibleTimeRanges(timeline="frame", start=start, end=rrb.TimeRangeBoundary.cursor_relative())
        overrides = {f"{scene.path}/tracks/{part}/{rr.escape_entity_path_part(k)}/paths": trail
                     for part, sources in scene.sources.items() for k in sources}
        world = rrb.Spatial3DView(origin=scene.path, name=f"{scene.name} (3D)", overrides=overrides)
        images = [rrb.Spatial2DView(origin=f"{scene.path}/cameras/{part}/image", name=camera)
                  for camera, part in scene.cameras.items()]
        return rrb.Horizontal(world, rrb.Grid(*images), column_shares=[2, 1], name=scene.name)

    def _colors_3d(self) -> None:
        """The 3D tracks' AnnotationContexts: per track, or one colour per camera of a scene."""
        for scene in self._scenes.values():
            by_camera = self.colors_3d == "camera" or (self.colors_3d == "auto" and len(scene.cameras) > 1)
            camera_colors = track_colors(len(scene.cameras))
            for n, part in enumerate(scene.cameras.values()):
                keep = scene.tracks[part]
                colors = (np.broadcast_to(camera_colors[n], (len(keep), 3)) if by_camera
                          else track_colors(keep[-1] + 1 if len(keep) else 0)[keep])
                self._rec.log(f"{scene.path}/tracks/{part}", palette_context(keep, colors), static=True)

    def close(self) -> None:
        """Send the colours and the blueprint, finish the file and move it to `path` (idempotent).
        Nothing is written when nothing was logged."""
        if self._closed:
            return
        if self._rec is not None:
            self._colors_3d()
            tabs = [self._scene_views(scene) for scene in self._scenes.values()]
            layout = tabs[0] if len(tabs) == 1 else rrb.Tabs(*tabs)
            self._rec.send_blueprint(rrb.Blueprint(layout, rrb.TimePanel(timeline="frame", fps=self._fps,
                                                                         state="collapsed")))
        self._finish(None, None, None)

    def _finish(self, exc_type, exc, tb) -> None:
        """Close the stream; rename the file into place (no exception) or remove it."""
        if self._closed:
            return
        self._closed = True
        if self._rec is not None:
            self._rec.flush()
            self._rec.disconnect()
        self._stack.__exit__(exc_type, exc, tb)


def log_3d_video(rec: Recording3D, name: str, sample: Sample, gt: Tracks | None, predictions: dict[str, Tracks],
                 scene: str | None = None) -> bool:
    """Log video `name` as one camera of `scene` (default: a scene of its own) if it has 3D to show.

    It has when the sample has intrinsics and a depth map, or a 3D track (`gt` or a prediction
    with `xyz`). Missing extrinsics make the camera frame the world frame. Inside a scene, the
    camera is named by what follows `<scene>/` in `name` (else by `name`). Returns whether it logged.
    """
    tracks = {"gt": gt, **predictions} if gt is not None else dict(predictions)
    if sample.intrinsics is None or (sample.depth is None and all(t.xyz is None for t in tracks.values())):
        return False
    scene = name if scene is None else scene
    camera = name[len(scene) + 1:] if name.startswith(f"{scene}/") else ("camera" if name == scene else name)
    rec.log_camera(scene, camera, sample.frames, sample.intrinsics, sample.extrinsics, sample.depth, tracks,
                   fps=sample.fps)
    return True
