"""Pose recordings: keypoints drawn as skeletons, as in Rerun's human-pose example.

Per logged video `v` (its `video_key`), on the `frame` sequence timeline:

    pose/v                          AnnotationContext: class 0 "gt" and class k "<tracker k>", each with the
                                    skeleton's keypoint names and connections (Rerun draws the bones)
    pose/v/frames                   JPEG frames
    pose/v/gt/keypoints             the ground-truth keypoints visible at each frame (class 0)
    pose/v/<tracker>/keypoints      each tracker's keypoints predicted visible (class k)
    pose/v/<tracker>/mask           the person's segmentation (SegmentationImage, 1 = person), where the
                                    tracker's model gives one (MediaPipe)
    pose/v/<tracker>/world          MediaPipe's 3D world landmarks (metres, origin between the hips) under
                                    their own AnnotationContext (BlazePose's 33 landmarks and bones)

The blueprint has a tab per video: one 2D view per tracker showing the frames, the ground-truth
skeleton and that tracker's (side by side across trackers), and a 3D view of each tracker's world
landmarks. Keypoints are logged as is: Rerun's 2D space puts pixel (i, j) over [j, j+1) × [i, i+1),
the TAP-Vid raster convention.

The recording is written to a unique temporary file beside `path` and renamed into place when it
closes cleanly (on an exception no file is left), like `RunRecording`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import rerun as rr
import rerun.blueprint as rrb

from pointbench.identity import printable, video_key
from pointbench.io import temporary_prefix
from pointbench.pose import MEDIAPIPE_CONNECTIONS, MEDIAPIPE_LANDMARKS
from pointbench.types import Skeleton, Tracks, validate_frames
from pointbench.viz.rerun_log import jpeg_blobs, track_colors

__all__ = ["PoseRecording", "pose_context", "GT_COLOR"]

#: Ground truth is drawn white, thin; each tracker in its own colour, wider.
GT_COLOR = (255, 255, 255)
_GT_RADIUS, _PRED_RADIUS = 3.0, 5.0  # UI points
_PERSON_COLOR = (255, 64, 160)
_MASK_OPACITY = 0.35
# The 3D view looks at the person (origin between the hips, y down, z away from the camera) from the front.
_FRONT_EYE = rrb.EyeControls3D(kind=rrb.Eye3DKind.Orbital, position=(0.5, -0.5, -1.7), look_target=(0.0, -0.2, 0.0),
                               eye_up=(0.0, -1.0, 0.0))


def pose_context(skeleton_names, connections, classes: list[tuple[int, str, tuple]]) -> rr.AnnotationContext:
    """One class per (id, label, RGB) in `classes`, each naming the keypoints and their connections."""
    keypoints = [rr.AnnotationInfo(id=i, label=name) for i, name in enumerate(skeleton_names)]
    bones = [(int(a), int(b)) for a, b in connections]
    return rr.AnnotationContext([
        rr.ClassDescription(info=rr.AnnotationInfo(id=k, label=label, color=color),
                            keypoint_annotations=keypoints, keypoint_connections=bones)
        for k, label, color in classes])


def _mask_context() -> rr.AnnotationContext:
    return rr.AnnotationContext([rr.AnnotationInfo(id=0, label="background", color=(0, 0, 0, 0)),
                                 rr.AnnotationInfo(id=1, label="person", color=_PERSON_COLOR)])


class PoseRecording:
    """Writes a pose recording of videos with keypoint skeletons; use as a context manager.

    >>> with PoseRecording(run_dir / "pose.rrd") as rec:       # doctest: +SKIP
    ...     rec.log_video("walk/clip", frames, sample.skeleton, sample.gt, {"mediapipe_pose": tracks},
    ...                   pose={"mediapipe_pose": tracker.last_output})
    """

    def __init__(self, path: Path, application_id: str = "pointbench-pose", jpeg_quality: int = 85) -> None:
        self.path = Path(path)
        self.jpeg_quality = jpeg_quality
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(self.path), suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._tabs: list[rrb.Container] = []
        self._roots: set[str] = set()
        self._fps: float | None = None
        self._closed = False
        self._rec = rr.RecordingStream(application_id)
        self._rec.save(self._tmp)
        self._rec.log("pose", rr.ViewCoordinates.RDF, static=True)

    def __enter__(self) -> PoseRecording:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        elif not self._closed:
            self._finish()
            self._tmp.unlink(missing_ok=True)

    def log_video(self, video: str, frames: np.ndarray, skeleton: Skeleton, gt: Tracks | None,
                  predictions: dict[str, Tracks], pose: dict | None = None, fps: float = 30.0) -> None:
        """Log one video: frames uint8 (T, H, W, 3), its `skeleton` (query i is keypoint
        `skeleton.keypoint_ids[i]`), the ground truth (or None) and each tracker's tracks.

        `pose[tracker]`, where given, is the model's `pointbench.pose.PoseOutput` for these frames:
        its `mask` (T, H, W) becomes the segmentation and its `world` (T, 33, 3) the 3D landmarks.
        """
        if self._closed:
            raise RuntimeError(f"{self.path}: recording is closed")
        owner = f"video '{video}'"
        validate_frames(frames, owner)
        if not isinstance(skeleton, Skeleton):
            raise TypeError(f"{owner}: a pose recording needs the video's skeleton; got {type(skeleton).__name__}")
        root = f"pose/{rr.escape_entity_path_part(video_key(video))}"
        if root in self._roots:
            raise ValueError(f"{owner}: already logged to {self.path}")
        if "gt" in predictions or "frames" in predictions:
            raise ValueError(f"{owner}: tracker names 'gt' and 'frames' are reserved")
        n_frames, n = len(frames), len(skeleton.keypoint_ids)
        named = ({"gt": gt} if gt is not None else {}) | dict(predictions)
        for name, tracks in named.items():
            if tracks.xy.shape[:2] != (n, n_frames):
                raise ValueError(f"{owner}: '{name}' tracks are {tracks.xy.shape[:2]}; expected (N={n} keypoints, "
                                 f"T={n_frames} frames)")
        index = [rr.TimeColumn("frame", sequence=np.arange(n_frames))]
        jpegs = jpeg_blobs(frames, self.jpeg_quality)
        self._rec.send_columns(f"{root}/frames", index,
                               rr.EncodedImage.columns(blob=jpegs, media_type=["image/jpeg"] * n_frames))

        trackers = list(predictions)
        palette = track_colors(len(trackers) + 1)[1:]
        classes = [(0, "gt", GT_COLOR)] + [(k + 1, t, tuple(int(c) for c in palette[k])) for k, t in enumerate(trackers)]
        self._rec.log(root, pose_context(skeleton.names, skeleton.connections, classes), static=True)
        ids = np.asarray(skeleton.keypoint_ids)
        drawn = ([(0, "gt")] if gt is not None else []) + [(k + 1, t) for k, t in enumerate(trackers)]
        for class_id, name in drawn:
            path = f"{root}/{rr.escape_entity_path_part(name)}/keypoints"
            self._send_keypoints(path, index, named[name], ids, class_id, _GT_RADIUS if name == "gt" else _PRED_RADIUS)

        views_2d, views_3d = [], []
        for tracker in trackers:
            own = f"{root}/{rr.escape_entity_path_part(tracker)}"
            output = (pose or {}).get(tracker)
            if output is not None and getattr(output, "mask", None) is not None:
                self._send_mask(f"{own}/mask", output.mask, n_frames, owner)
            if output is not None and getattr(output, "world", None) is not None:
                self._send_world(f"{own}/world", index, output.world, n_frames, owner)
                views_3d.append(rrb.Spatial3DView(origin=f"{own}/world", name=f"{tracker} 3D", eye_controls=_FRONT_EYE))
            contents = [f"{root}/frames", f"{root}/gt/**", f"{own}/keypoints", f"{own}/mask"]
            views_2d.append(rrb.Spatial2DView(origin=root, name=tracker, contents=contents))
        if not trackers:
            views_2d.append(rrb.Spatial2DView(origin=root, name="gt", contents=[f"{root}/frames", f"{root}/gt/**"]))
        grid = rrb.Grid(*views_2d)
        if views_3d:
            tab = rrb.Horizontal(grid, *views_3d, column_shares=[len(views_2d), *[1] * len(views_3d)],
                                 name=printable(video))
        else:
            tab = rrb.Grid(*views_2d, name=printable(video))
        self._tabs.append(tab)
        self._roots.add(root)
        self._fps = self._fps or fps

    def _send_keypoints(self, path: str, index: list, tracks: Tracks, ids: np.ndarray, class_id: int,
                        radius: float) -> None:
        t, i = np.nonzero(tracks.visible.T)
        counts = np.bincount(t, minlength=tracks.n_frames)
        self._rec.log(path, rr.Points2D.from_fields(radii=rr.Radius.ui_points(radius), show_labels=False), static=True)
        columns = rr.Points2D.columns(positions=tracks.xy[i, t], keypoint_ids=ids[i].astype(np.uint16),
                                      class_ids=np.full(len(i), class_id, np.uint16))
        self._rec.send_columns(path, index, columns.partition(counts))

    def _send_mask(self, path: str, mask: np.ndarray, n_frames: int, owner: str) -> None:
        mask = np.asarray(mask)
        if mask.ndim != 3 or len(mask) != n_frames:
            raise ValueError(f"{owner}: the segmentation mask must be (T={n_frames}, H, W); got {mask.shape}")
        self._rec.log(path, _mask_context(), static=True)
        for t in range(n_frames):
            self._rec.set_time("frame", sequence=t)
            self._rec.log(path, rr.SegmentationImage((mask[t] > 0).astype(np.uint8), opacity=_MASK_OPACITY,
                                                       draw_order=5.0))
        self._rec.reset_time()

    def _send_world(self, path: str, index: list, world: np.ndarray, n_frames: int, owner: str) -> None:
        world = np.asarray(world, np.float32)
        if world.shape != (n_frames, len(MEDIAPIPE_LANDMARKS), 3):
            raise ValueError(f"{owner}: world landmarks must be (T={n_frames}, 33, 3); got {world.shape}")
        self._rec.log(path, pose_context(MEDIAPIPE_LANDMARKS, MEDIAPIPE_CONNECTIONS, [(1, "person", _PERSON_COLOR)]),
                      static=True)
        self._rec.log(path, rr.ViewCoordinates.RDF, static=True)  # MediaPipe's world: x right, y down, z forward
        found = np.isfinite(world).all(axis=-1)  # (T, 33)
        t, k = np.nonzero(found)
        counts = np.bincount(t, minlength=n_frames)
        columns = rr.Points3D.columns(positions=world[t, k], keypoint_ids=k.astype(np.uint16),
                                      class_ids=np.ones(len(k), np.uint16))
        self._rec.send_columns(f"{path}/landmarks", index, columns.partition(counts))

    def close(self) -> None:
        """Send the blueprint, finish the file and move it to `path` (idempotent)."""
        if self._closed:
            return
        try:
            time_panel = rrb.TimePanel(timeline="frame", fps=self._fps, state="collapsed")
            body = rrb.Tabs(*self._tabs) if self._tabs else rrb.Grid()
            self._rec.send_blueprint(rrb.Blueprint(body, time_panel, rrb.BlueprintPanel(state="collapsed"),
                                                   rrb.SelectionPanel(state="collapsed")))
            self._finish()
            os.replace(self._tmp, self.path)
        except BaseException:
            self._closed = True
            self._tmp.unlink(missing_ok=True)
            raise

    def _finish(self) -> None:
        self._closed = True
        self._rec.flush()
        self._rec.disconnect()
