"""Rerun recording of one run: per video, the frames, the ground truth and each tracker's points.

Everything is sent column-wise (one `send_columns` call per entity) on a `frame` sequence
timeline, into a private `RecordingStream` that writes a unique temporary file beside `path`,
renamed to `path`
only when the recording closes cleanly. Entities, for each logged video `v` (its `video_key`):

    videos/v/frames                 JPEG frames
    videos/v/{gt,<tracker>}/points  the points visible at each frame, one colour per track
    videos/v/{gt,<tracker>}/trails  per frame, a segment from the previous position of each track
                                    visible at both; the blueprint shows the last `trail_length`
                                    frames of them (a visible time range on that entity)
    videos/v/<tracker>/occluded     points predicted occluded (grey; only with `show_occluded`)
    videos/v/<tracker>/errors       segments from prediction to ground truth (only with `error_lines`)
    videos/v/scores/<score>/<tracker>  per-frame scores (scalars), when given

Two layouts: `videos` (one 2D view per video showing every tracker: a run's `tracks.rrd`) and
`trackers` (a tab per video holding one 2D view per tracker and a time series of the per-frame
scores: the side-by-side `comparison.rrd` of a sweep).

Colours: each track's query index is its class id, and an AnnotationContext at `videos/v` gives
class i the colour of track i (2 bytes a point instead of 4); with a keypoint skeleton, the
skeleton's class and keypoint ids are logged instead, with explicit colours.

Coordinates are logged as is: Rerun's 2D space puts pixel (i, j) over [j, j+1) x [i, i+1),
the TAP-Vid raster convention.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import rerun as rr
import rerun.blueprint as rrb

from pointbench.identity import printable, video_key
from pointbench.io import temporary_prefix
from pointbench.types import Skeleton, Tracks, validate_frames
from pointbench.viz.video import CODECS, encode_mp4

__all__ = ["RunRecording", "track_colors", "palette_context", "jpeg_blobs", "subsample"]

_GOLDEN = 0.618033988749895
# (radius in UI points, draw order). Predictions are large discs with wide trails; ground truth
# is a small disc of the same colour with a thin trail, drawn on top: a correct prediction looks
# like one solid disc, a wrong one like a disc and a dot apart.
_PRED_POINTS, _PRED_TRAILS = (5.0, 30.0), (2.0, 20.0)
_GT_POINTS, _GT_TRAILS = (2.0, 32.0), (1.0, 21.0)
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


def _trail_segments(tracks: Tracks) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """At each frame t, a segment from t-1 to t for every track visible at both, ordered by frame:
    strips, track ids, count per frame. The view's visible time range turns them into trails."""
    both = np.zeros(tracks.visible.shape, bool)
    both[:, 1:] = tracks.visible[:, 1:] & tracks.visible[:, :-1]
    t, i = np.nonzero(both.T)
    points = np.stack([tracks.xy[i, t - 1], tracks.xy[i, t]], axis=1).reshape(-1, 2)
    return _strips(points, np.full(len(i), 2)), i, np.bincount(t, minlength=tracks.n_frames)


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


def palette_context(class_ids: np.ndarray, colors: np.ndarray) -> rr.AnnotationContext:
    """Class i drawn in colour `colors[i]` (RGB uint8), passed packed as 0xRRGGBBAA (fast for many classes)."""
    packed = (colors.astype(np.uint32) << np.array([24, 16, 8], np.uint32)).sum(axis=1) | 0xFF
    return rr.AnnotationContext([(int(k), None, int(c)) for k, c in zip(class_ids, packed)])


def jpeg_blobs(frames: np.ndarray, quality: int) -> list[bytes]:
    """RGB frames `(T, H, W, 3)` as JPEG bytes, encoded on all cores (OpenCV releases the GIL)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]

    def encode(frame: np.ndarray) -> bytes:
        return cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]), params)[1].tobytes()

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        return list(pool.map(encode, frames))


def subsample(n: int, max_points: int | None) -> np.ndarray:
    """Indices of at most `max_points` of `n` tracks, evenly spread (all of them when None)."""
    if max_points is None or n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


@dataclass
class _LoggedVideo:
    name: str
    root: str  # entity path
    shown: list[str]  # "gt" (when given) and the trackers
    has_scores: bool

    @property
    def has_gt(self) -> bool:
        return self.shown[:1] == ["gt"]

    @property
    def trackers(self) -> list[str]:
        return self.shown[1:] if self.has_gt else self.shown


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
        frame_format: "jpeg" (each frame an image, `jpeg_quality`) or "av1" / "h264" (the frames
            as one encoded video, much smaller; needs PyAV).

    On a clean exit (or `close()`) the blueprint is sent and the file appears at `path`; on an
    exception no file is left.
    """

    def __init__(
        self, path: Path, application_id: str = "pointbench", jpeg_quality: int = 85, trail_length: int = 8,
        layout: str = "videos", max_points: int | None = None, show_occluded: bool = False,
        error_lines: bool = False, frame_format: str = "jpeg",
    ) -> None:
        if frame_format not in ("jpeg", *CODECS):
            raise ValueError(f"{path}: frame_format must be 'jpeg' or one of {sorted(CODECS)}; got {frame_format!r}")
        if layout not in ("videos", "trackers"):
            raise ValueError(f"{path}: layout must be 'videos' or 'trackers'; got {layout!r}")
        self.path = Path(path)
        self.jpeg_quality = jpeg_quality
        self.trail_length = trail_length
        self.layout, self.max_points = layout, max_points
        self.show_occluded, self.error_lines = show_occluded, error_lines
        self.frame_format = frame_format
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(self.path), suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)  # unique: two runs writing beside each other never share it
        self._videos: list[_LoggedVideo] = []
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
        root = f"videos/{rr.escape_entity_path_part(video_key(video))}"  # injective, and valid for any name
        if any(root == logged.root for logged in self._videos):
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
        self._send_frames(f"{root}/frames", index, frames, fps)

        keep = subsample(n_tracks.pop() if n_tracks else 0, self.max_points)
        palette = track_colors(keep[-1] + 1 if len(keep) else 0)[keep]
        if skeleton is not None:
            self._rec.log(root, _annotation_context(skeleton), static=True)
            ids = dict(keypoint_ids=np.asarray(skeleton.keypoint_ids)[keep], class_ids=np.zeros(len(keep), np.uint16))
        else:
            self._rec.log(root, palette_context(keep, palette), static=True)
            ids = dict(class_ids=keep.astype(np.uint16))
        if len(keep) < len(next(iter(named.values()), [])):
            named = {name: tracks[keep] for name, tracks in named.items()}
        for name, tracks in named.items():
            path = f"{root}/{rr.escape_entity_path_part(name)}"
            gt_style = name == "gt"
            self._send_points(f"{path}/points", index, tracks, _GT_POINTS if gt_style else _PRED_POINTS, ids,
                              palette if skeleton is not None else None)
            if self.trail_length > 1:
                strips, track, counts = _trail_segments(tracks)
                self._send_lines(f"{path}/trails", index, strips, keep[track], counts,
                                 _GT_TRAILS if gt_style else _PRED_TRAILS)
            if gt_style:
                continue
            if self.show_occluded:
                hidden = Tracks(xy=tracks.xy, visible=~tracks.visible & np.isfinite(tracks.xy).all(-1))
                self._send_points(f"{path}/occluded", index, hidden, _OCCLUDED_POINTS, {},
                                  np.full_like(palette, 128))
            if self.error_lines and gt is not None:
                strips, track, counts = _error_segments(tracks, named["gt"])
                self._send_lines(f"{path}/errors", index, strips, keep[track], counts, _ERROR_LINES)

        for tracker, series in (scores or {}).items():
            for score, values in series.items():
                self._send_scalars(f"{root}/scores/{rr.escape_entity_path_part(score)}/"
                                   f"{rr.escape_entity_path_part(tracker)}", np.asarray(values, np.float64))
        self._videos.append(_LoggedVideo(printable(video), root, list(named), bool(scores)))
        self._fps = self._fps or fps

    def _send_frames(self, path: str, index: list, frames: np.ndarray, fps: float) -> None:
        """All frames in one column: JPEG images, or one encoded video and a frame reference per frame."""
        if self.frame_format == "jpeg":
            jpegs = jpeg_blobs(frames, self.jpeg_quality)
            self._rec.send_columns(path, index, rr.EncodedImage.columns(blob=jpegs, media_type=["image/jpeg"] * len(jpegs)))
            return
        video = rr.AssetVideo(contents=encode_mp4(frames, fps, self.frame_format), media_type="video/mp4")
        self._rec.log(path, video, static=True)
        self._rec.send_columns(path, index, rr.VideoFrameReference.columns_nanos(video.read_frame_timestamps_nanos()))

    def _send_points(self, path: str, index: list, tracks: Tracks, style: tuple, ids: dict,
                     palette: np.ndarray | None = None) -> None:
        """The visible points of each frame; coloured through `ids` (per track) or `palette` (per track)."""
        positions, track, counts = _visible_points(tracks)
        radius, draw_order = style
        self._rec.log(path, rr.Points2D.from_fields(radii=rr.Radius.ui_points(radius), draw_order=draw_order),
                      static=True)
        fields = {key: value[track] for key, value in ids.items()}
        if palette is not None:
            fields["colors"] = palette[track]
        self._rec.send_columns(path, index, rr.Points2D.columns(positions=positions, **fields).partition(counts))

    def _send_lines(self, path, index, strips, class_ids, counts, style) -> None:
        radius, draw_order = style
        static = rr.LineStrips2D.from_fields(radii=rr.Radius.ui_points(radius), draw_order=draw_order)
        self._rec.log(path, static, static=True)
        columns = rr.LineStrips2D.columns(strips=strips, class_ids=class_ids.astype(np.uint16))
        self._rec.send_columns(path, index, columns.partition(counts))

    def _send_scalars(self, path: str, values: np.ndarray) -> None:
        frames = np.flatnonzero(np.isfinite(values))
        self._rec.send_columns(path, [rr.TimeColumn("frame", sequence=frames)],
                               rr.Scalars.columns(scalars=values[frames]))

    def _view(self, video: _LoggedVideo, name: str, shown: list[str], **contents) -> rrb.Spatial2DView:
        """A 2D view of a video whose trails entities show the last `trail_length` frames."""
        trail_range = rrb.VisibleTimeRanges(timeline="frame",
                                            start=rrb.TimeRangeBoundary.cursor_relative(seq=1 - self.trail_length),
                                            end=rrb.TimeRangeBoundary.cursor_relative())
        overrides = {f"{video.root}/{rr.escape_entity_path_part(s)}/trails": trail_range for s in shown}
        return rrb.Spatial2DView(origin=video.root, name=name, overrides=overrides, **contents)

    def _blueprint(self) -> rrb.Blueprint:
        time_panel = rrb.TimePanel(timeline="frame", fps=self._fps, state="collapsed")  # just the scrubber
        if self.layout == "videos":
            views = [self._view(video, video.name, video.shown) for video in self._videos]
            return rrb.Blueprint(rrb.Grid(*views), time_panel)
        tabs = []
        for video in self._videos:
            views = []
            for tracker in video.trackers:
                shown = ["gt", tracker] if video.has_gt else [tracker]
                own = f"{video.root}/{rr.escape_entity_path_part(tracker)}"
                views.append(self._view(video, tracker, shown,
                                        contents=[f"{video.root}/frames", f"{video.root}/gt/**", f"{own}/**"]))
            if video.has_scores:
                scores = rrb.TimeSeriesView(origin=f"{video.root}/scores", name="per-frame scores")
                tabs.append(rrb.Vertical(rrb.Grid(*views), scores, row_shares=[3, 1], name=video.name))
            else:
                tabs.append(rrb.Grid(*views, name=video.name))
        # Tabs select the video: the blueprint and selection panels start collapsed to leave room.
        return rrb.Blueprint(rrb.Tabs(*tabs), time_panel, rrb.BlueprintPanel(state="collapsed"),
                             rrb.SelectionPanel(state="collapsed"))

    def close(self) -> None:
        """Send the blueprint, finish the file and move it to `path` (idempotent)."""
        if self._closed:
            return
        try:
            self._rec.send_blueprint(self._blueprint())
            self._finish()
            os.replace(self._tmp, self.path)
        except BaseException:  # e.g. a full disk: leave no temporary file behind
            self._closed = True
            self._tmp.unlink(missing_ok=True)
            raise

    def _abort(self) -> None:
        if not self._closed:
            self._finish()
            self._tmp.unlink(missing_ok=True)

    def _finish(self) -> None:
        self._closed = True
        self._rec.flush()
        self._rec.disconnect()
