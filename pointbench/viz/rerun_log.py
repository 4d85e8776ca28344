"""Rerun recording of one run: per video, the frames, the ground truth and each tracker's points.

Everything is sent column-wise (one `send_columns` call per entity) on a `frame` sequence
timeline, into a private `RecordingStream` that writes `<path>.tmp` and is renamed to `path`
only when the recording closes cleanly. Entities, for each logged video `v`:

    videos/v/frames                 JPEG frames
    videos/v/{gt,<tracker>}/points  the points visible at each frame, one colour per track
    videos/v/{gt,<tracker>}/trails  each visible track's last `trail_length` visible positions
    videos/v/gt/ring                white rings under the ground-truth points
    videos/v/<tracker>/occluded     points predicted occluded (grey; only with `show_occluded`)
    videos/v/<tracker>/errors       segments from prediction to ground truth (only with `error_lines`)
    videos/v/scores/<score>/<tracker>  per-frame scores (scalars), when given

Two layouts: `videos` (one 2D view per video showing every tracker: a run's `tracks.rrd`) and
`trackers` (a tab per video holding one 2D view per tracker and a time series of the per-frame
scores: the side-by-side `comparison.rrd` of a sweep).

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

from pointbench.types import Skeleton, Tracks, validate_frames

__all__ = ["RunRecording", "track_colors"]

_GOLDEN = 0.618033988749895
# (radius in UI points, draw order). Predictions are large discs with wide trails; ground truth
# is a small disc in a white ring with a thin trail, drawn on top, so both show where they meet.
_PRED_POINTS, _PRED_TRAILS = (5.0, 30.0), (2.0, 20.0)
_GT_RING, _GT_POINTS, _GT_TRAILS = (3.5, 31.0), (2.0, 32.0), (1.0, 21.0)
_OCCLUDED_POINTS, _ERROR_LINES = (2.5, 29.0), (1.0, 22.0)


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
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    step = np.arange(offsets[-1]) - np.repeat(offsets[:-1], sizes)  # 0..k-1 within each strip
    frame = np.repeat(t - sizes + 1, sizes) + step
    points = tracks.xy[np.repeat(i, sizes), frame]
    return _strips(points, sizes), i, np.bincount(t, minlength=tracks.n_frames)


def _error_segments(pred: Tracks, gt: Tracks) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Segments prediction -> ground truth where both are visible, ordered by frame: strips, track ids, counts."""
    t, i = np.nonzero((pred.visible & gt.visible).T)
    points = np.stack([pred.xy[i, t], gt.xy[i, t]], axis=1).reshape(-1, 2)
    return _strips(points, np.full(len(i), 2)), i, np.bincount(t, minlength=pred.n_frames)


def _strips(points: np.ndarray, sizes: np.ndarray) -> pa.Array:
    """Consecutive runs of `points` `(P, 2)` of the given `sizes` as an Arrow LineStrip2D list array."""
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    strip_type = rr.components.LineStrip2D.arrow_type()
    vertices = pa.FixedSizeListArray.from_arrays(pa.array(points.astype(np.float32).reshape(-1)),
                                                 type=strip_type.value_type)
    return pa.ListArray.from_arrays(pa.array(offsets), vertices, type=strip_type)


def _annotation_context(skeleton: Skeleton) -> rr.AnnotationContext:
    """Names the keypoints (class 0) and the connections Rerun draws between them."""
    return rr.AnnotationContext(rr.ClassDescription(
        info=rr.AnnotationInfo(id=0, label="skeleton"),
        keypoint_annotations=[rr.AnnotationInfo(id=i, label=name) for i, name in enumerate(skeleton.names)],
        keypoint_connections=[(int(a), int(b)) for a, b in skeleton.connections],
    ))


def subsample(n: int, max_points: int | None) -> np.ndarray:
    """Indices of at most `max_points` of `n` tracks, evenly spread (all of them when None)."""
    if max_points is None or n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


class RunRecording:
    """Writes a recording of tracks over videos; use as a context manager.

    >>> with RunRecording(run_dir / "tracks.rrd") as rec:  # doctest: +SKIP
    ...     rec.log_video("bear", frames, gt, {"lk": predicted})

    Args:
        layout: "videos" (a grid of one view per video) or "trackers" (a tab per video with a
            grid of one view per tracker, plus the per-frame scores).
        max_points: draw at most this many tracks per video (evenly spread; colours keep their
            track's colour); None draws all.
        show_occluded: draw points predicted occluded, in grey, instead of leaving them out.
        error_lines: draw a segment from each visible prediction to its visible ground truth.

    On a clean exit (or `close()`) the blueprint is sent and the file appears at `path`; on an
    exception no file is left.
    """

    def __init__(
        self, path: Path, application_id: str = "pointbench", jpeg_quality: int = 85, trail_length: int = 8,
        layout: str = "videos", max_points: int | None = None, show_occluded: bool = False,
        error_lines: bool = False,
    ) -> None:
        if layout not in ("videos", "trackers"):
            raise ValueError(f"{path}: layout must be 'videos' or 'trackers'; got {layout!r}")
        self.path = Path(path)
        self.jpeg_quality = jpeg_quality
        self.trail_length = trail_length
        self.layout, self.max_points = layout, max_points
        self.show_occluded, self.error_lines = show_occluded, error_lines
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._videos: list[tuple[str, str, list[str], bool]] = []  # (name, entity path, trackers, has scores)
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
        scores: dict[str, dict[str, np.ndarray]] | None = None,
        skeleton: Skeleton | None = None,
    ) -> None:
        """Log one video's frames `(T, H, W, 3)` uint8 RGB, its ground truth and each tracker's tracks.

        `scores[tracker][name]` is a `(T,)` series (NaN where undefined) shown in the time series
        view of the "trackers" layout. With a `skeleton`, points carry its keypoint ids so that
        Rerun draws the connections and labels. `fps` of the first video sets the playback rate.
        """
        if self._closed:
            raise RuntimeError(f"{self.path}: recording is closed")
        validate_frames(frames, f"video '{video}'")
        root = f"videos/{rr.escape_entity_path_part(video)}"
        if any(root == r for _, r, _, _ in self._videos):
            raise ValueError(f"video '{video}': already logged to {self.path}")
        if reserved := {"gt", "frames", "scores"} & predictions.keys():
            raise ValueError(f"video '{video}': tracker names {sorted(reserved)} are reserved")
        n_frames = len(frames)
        named = dict(predictions) if gt is None else {"gt": gt, **predictions}
        n_tracks = {len(t) for t in named.values()}
        if len(n_tracks) > 1:
            raise ValueError(f"video '{video}': tracks differ in their number of queries {sorted(n_tracks)}")
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

        keep = subsample(n_tracks.pop() if n_tracks else 0, self.max_points)
        colors = track_colors(keep[-1] + 1 if len(keep) else 0)[keep]
        keypoints = None
        if skeleton is not None:
            self._rec.log(root, _annotation_context(skeleton), static=True)
            keypoints = np.asarray(skeleton.keypoint_ids)[keep]
        named = {name: tracks[keep] for name, tracks in named.items()}
        if gt is not None:
            self._send_points(f"{root}/gt/ring", index, named["gt"], np.full_like(colors, 255), _GT_RING)
        for name, tracks in named.items():
            path = f"{root}/{rr.escape_entity_path_part(name)}"
            gt_style = name == "gt"
            self._send_points(f"{path}/points", index, tracks, colors, _GT_POINTS if gt_style else _PRED_POINTS,
                              keypoints)
            if self.trail_length > 1:
                self._send_trails(f"{path}/trails", index, tracks, colors, _GT_TRAILS if gt_style else _PRED_TRAILS)
            if gt_style:
                continue
            if self.show_occluded:
                hidden = Tracks(xy=tracks.xy, visible=~tracks.visible & np.isfinite(tracks.xy).all(-1))
                self._send_points(f"{path}/occluded", index, hidden, np.full_like(colors, 128), _OCCLUDED_POINTS)
            if self.error_lines and gt is not None:
                strips, track, counts = _error_segments(tracks, named["gt"])
                self._send_lines(f"{path}/errors", index, strips, colors[track], counts, _ERROR_LINES)

        for tracker, series in (scores or {}).items():
            for score, values in series.items():
                self._send_scalars(f"{root}/scores/{rr.escape_entity_path_part(score)}/"
                                   f"{rr.escape_entity_path_part(tracker)}", np.asarray(values, np.float64))
        self._videos.append((video, root, list(predictions), bool(scores)))
        self._fps = self._fps or fps

    def _send_points(self, path: str, index: list, tracks: Tracks, colors: np.ndarray, style: tuple,
                     keypoint_ids: np.ndarray | None = None) -> None:
        positions, track, counts = _visible_points(tracks)
        radius, draw_order = style
        static = rr.Points2D.from_fields(radii=rr.Radius.ui_points(radius), draw_order=draw_order)
        self._rec.log(path, static, static=True)
        fields = dict(positions=positions, colors=colors[track])
        if keypoint_ids is not None:
            fields.update(keypoint_ids=keypoint_ids[track], class_ids=np.zeros(len(track), np.uint16))
        self._rec.send_columns(path, index, rr.Points2D.columns(**fields).partition(counts))

    def _send_trails(self, path: str, index: list, tracks: Tracks, colors: np.ndarray, style: tuple) -> None:
        strips, track, counts = _trails(tracks, self.trail_length)
        self._send_lines(path, index, strips, colors[track], counts, style)

    def _send_lines(self, path, index, strips, colors, counts, style) -> None:
        radius, draw_order = style
        static = rr.LineStrips2D.from_fields(radii=rr.Radius.ui_points(radius), draw_order=draw_order)
        self._rec.log(path, static, static=True)
        self._rec.send_columns(path, index, rr.LineStrips2D.columns(strips=strips, colors=colors).partition(counts))

    def _send_scalars(self, path: str, values: np.ndarray) -> None:
        frames = np.flatnonzero(np.isfinite(values))
        self._rec.send_columns(path, [rr.TimeColumn("frame", sequence=frames)],
                               rr.Scalars.columns(scalars=values[frames]))

    def _blueprint(self) -> rrb.Blueprint:
        time_panel = rrb.TimePanel(timeline="frame", fps=self._fps)
        if self.layout == "videos":
            views = [rrb.Spatial2DView(origin=root, name=name) for name, root, _, _ in self._videos]
            return rrb.Blueprint(rrb.Grid(*views), time_panel)
        tabs = []
        for name, root, trackers, has_scores in self._videos:
            views = []
            for tracker in trackers:
                own = f"{root}/{rr.escape_entity_path_part(tracker)}"
                views.append(rrb.Spatial2DView(origin=root, name=tracker,
                                               contents=[f"{root}/frames", f"{root}/gt/**", f"{own}/**"]))
            if has_scores:
                scores = rrb.TimeSeriesView(origin=f"{root}/scores", name="per-frame scores")
                tabs.append(rrb.Vertical(rrb.Grid(*views), scores, row_shares=[3, 1], name=name))
            else:
                tabs.append(rrb.Grid(*views, name=name))
        return rrb.Blueprint(rrb.Tabs(*tabs), time_panel, collapse_panels=False)

    def close(self) -> None:
        """Send the blueprint, finish the file and move it to `path` (idempotent)."""
        if self._closed:
            return
        self._rec.send_blueprint(self._blueprint())
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
