"""Rerun recording of one run: per video, the frames, the ground truth and each tracker's points.

Everything is sent column-wise (one `send_columns` call per entity) on a `frame` sequence
timeline, into a private `RecordingStream` that writes `<path>.tmp` and is renamed to `path`
only when the recording closes cleanly. Entities, for each logged video `v`:

    videos/v/frames                 JPEG frames
    videos/v/{gt,<tracker>}/points  the points visible at each frame, one colour per track
    videos/v/{gt,<tracker>}/trails  each visible track's last `trail_length` visible positions
    videos/v/gt/ring                white rings under the ground-truth points

Coordinates are logged as is: Rerun's 2D space puts pixel (i, j) over [j, j+1) x [i, i+1),
the TAP-Vid raster convention.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import rerun as rr
import rerun.blueprint as rrb

from pointbench.types import Tracks, validate_frames

__all__ = ["RunRecording", "track_colors"]

_GOLDEN = 0.618033988749895
# (radius in UI points, draw order). Predictions are large discs with wide trails; ground truth
# is a small disc in a white ring with a thin trail, drawn on top, so both show where they meet.
_PRED_POINTS, _PRED_TRAILS = (5.0, 30.0), (2.0, 20.0)
_GT_RING, _GT_POINTS, _GT_TRAILS = (3.5, 31.0), (2.0, 32.0), (1.0, 21.0)


def track_colors(n: int) -> np.ndarray:
    """Colour of tracks 0..n-1 as uint8 `(n, 3)` RGB: golden-ratio HSV hues, so neighbours differ."""
    hue = np.arange(n) * _GOLDEN % 1.0
    k = (np.array([5.0, 3.0, 1.0]) + 6 * hue[:, None]) % 6  # HSV -> RGB, saturation 0.85, value 0.95
    return np.round(255 * 0.95 * (1 - 0.85 * np.clip(np.minimum(k, 4 - k), 0, 1))).astype(np.uint8)


def _visible_points(tracks: Tracks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions `(P, 2)` and track ids `(P,)` of visible points ordered by frame, and the count per frame."""
    t, i = np.nonzero(tracks.visible.T)
    return tracks.xy[i, t], i, np.bincount(t, minlength=tracks.n_frames)


def _trails(tracks: Tracks, length: int) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Trail strips (an Arrow list array) ordered by frame, their track ids and the count per frame.

    At frame t a visible track's strip runs through its positions at frames t-k+1..t, where k is
    the number of consecutive visible frames ending at t, capped at `length`; strips of one point
    are left out.
    """
    visible = tracks.visible
    run = np.zeros(visible.shape, np.int64)  # consecutive visible frames ending at each frame
    run[:, 0] = visible[:, 0]
    for f in range(1, tracks.n_frames):
        run[:, f] = (run[:, f - 1] + 1) * visible[:, f]
    k = np.minimum(run, length)
    t, i = np.nonzero(k.T >= 2)
    sizes = k[i, t]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    step = np.arange(offsets[-1]) - np.repeat(offsets[:-1], sizes)  # 0..k-1 within each strip
    frame = np.repeat(t - sizes + 1, sizes) + step
    points = tracks.xy[np.repeat(i, sizes), frame].reshape(-1)
    strip_type = rr.components.LineStrip2D.arrow_type()
    vertices = pa.FixedSizeListArray.from_arrays(pa.array(points), type=strip_type.value_type)
    strips = pa.ListArray.from_arrays(pa.array(offsets), vertices, type=strip_type)
    return strips, i, np.bincount(t, minlength=tracks.n_frames)


class RunRecording:
    """Writes `tracks.rrd` for one run; use as a context manager.

    >>> with RunRecording(run_dir / "tracks.rrd") as rec:  # doctest: +SKIP
    ...     rec.log_video("bear", frames, gt, {"lk": predicted})

    On a clean exit (or `close()`) the blueprint, a grid of one 2D view per logged video, is
    sent and the file appears at `path`; on an exception no file is left.
    """

    def __init__(
        self, path: Path, application_id: str = "pointbench", jpeg_quality: int = 85, trail_length: int = 8
    ) -> None:
        self.path = Path(path)
        self.jpeg_quality = jpeg_quality
        self.trail_length = trail_length
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._videos: list[tuple[str, str]] = []  # (name, entity path)
        self._fps: float | None = None
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._rec = rr.RecordingStream(application_id)
        self._rec.save(self._tmp)
        self._rec.log("videos", rr.ViewCoordinates.RDF, static=True)

    def __enter__(self) -> RunRecording:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()

    def log_video(
        self,
        video: str,
        frames: np.ndarray,
        gt: Tracks | None,
        predictions: dict[str, Tracks],
        fps: float = 30.0,
    ) -> None:
        """Log one video's frames `(T, H, W, 3)` uint8 RGB, its ground truth and each tracker's tracks.

        `fps` of the first video sets the viewer's playback rate.
        """
        if self._closed:
            raise RuntimeError(f"{self.path}: recording is closed")
        validate_frames(frames, f"video '{video}'")
        root = f"videos/{rr.escape_entity_path_part(video)}"
        if any(root == r for _, r in self._videos):
            raise ValueError(f"video '{video}': already logged to {self.path}")
        if reserved := {"gt", "frames"} & predictions.keys():
            raise ValueError(f"video '{video}': tracker names {sorted(reserved)} are reserved")
        n_frames = len(frames)
        named = dict(predictions) if gt is None else {"gt": gt, **predictions}
        for name, tracks in named.items():
            if tracks.n_frames != n_frames:
                raise ValueError(
                    f"video '{video}': '{name}' tracks have {tracks.n_frames} frames, video has {n_frames}"
                )

        index = [rr.TimeColumn("frame", sequence=np.arange(n_frames))]
        params = [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]
        jpegs = [cv2.imencode(".jpg", np.ascontiguousarray(f[..., ::-1]), params)[1].tobytes() for f in frames]
        self._rec.send_columns(
            f"{root}/frames", index, rr.EncodedImage.columns(blob=jpegs, media_type=["image/jpeg"] * n_frames)
        )

        colors = track_colors(max((len(t) for t in named.values()), default=0))
        if gt is not None:
            self._send_points(f"{root}/gt/ring", index, gt, np.full_like(colors, 255), _GT_RING)
        for name, tracks in named.items():
            path = f"{root}/{rr.escape_entity_path_part(name)}"
            gt_style = name == "gt"
            self._send_points(f"{path}/points", index, tracks, colors, _GT_POINTS if gt_style else _PRED_POINTS)
            if self.trail_length > 1:
                self._send_trails(f"{path}/trails", index, tracks, colors, _GT_TRAILS if gt_style else _PRED_TRAILS)

        self._videos.append((video, root))
        self._fps = self._fps or fps

    def _send_points(self, path: str, index: list, tracks: Tracks, colors: np.ndarray, style: tuple) -> None:
        positions, track, counts = _visible_points(tracks)
        radius, draw_order = style
        static = rr.Points2D.from_fields(radii=rr.Radius.ui_points(radius), draw_order=draw_order)
        self._rec.log(path, static, static=True)
        columns = rr.Points2D.columns(positions=positions, colors=colors[track]).partition(counts)
        self._rec.send_columns(path, index, columns)

    def _send_trails(self, path: str, index: list, tracks: Tracks, colors: np.ndarray, style: tuple) -> None:
        strips, track, counts = _trails(tracks, self.trail_length)
        radius, draw_order = style
        static = rr.LineStrips2D.from_fields(radii=rr.Radius.ui_points(radius), draw_order=draw_order)
        self._rec.log(path, static, static=True)
        columns = rr.LineStrips2D.columns(strips=strips, colors=colors[track]).partition(counts)
        self._rec.send_columns(path, index, columns)

    def close(self) -> None:
        """Send the blueprint, finish the file and move it to `path` (idempotent)."""
        if self._closed:
            return
        views = [rrb.Spatial2DView(origin=root, name=name) for name, root in self._videos]
        time_panel = rrb.TimePanel(timeline="frame", fps=self._fps)
        self._rec.send_blueprint(rrb.Blueprint(rrb.Grid(*views), time_panel))
        self._finish()
        os.replace(self._tmp, self.path)

    def _abort(self) -> None:
        if not self._closed:
            self._finish()
            self._tmp.unlink(missing_ok=True)

    def _finish(self) -> None:
        self._closed = True
        self._rec.flush()
        self._rec.disconnect()
