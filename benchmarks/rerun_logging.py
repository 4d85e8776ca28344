"""Rerun logging at scale: 1000 tracks x 250 frames at 256x256 (frames + ground truth + predictions).

Ours: `RunRecording.log_video` (column-wise `send_columns`, JPEG frames). Baseline: the per-frame
`rr.log` loop of Rerun's "Point Tracks" recipe doing the same: per frame `rr.set_time`, the frame
(the same JPEG), and for ground truth and predictions a `Clear` then the visible points and the
segments from the previous frame, coloured by class id through an AnnotationContext (trails come
from the view's visible time range, as in ours). Target: ours at least 2x faster, file no larger.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import rerun as rr

from _common import header, interleaved_medians, temp_dir, verdict
from pointbench.types import Tracks
from pointbench.viz import RunRecording, track_colors

N, T, SIZE, QUALITY = 1000, 250, 256, 85


def make_inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 255, (T, SIZE, SIZE, 3), dtype=np.uint8)
    frames = np.stack([cv2.GaussianBlur(f, (0, 0), 2) for f in frames])  # compressible, like video
    walk = np.cumsum(rng.normal(0, 1, (N, T, 2)), axis=1) + rng.uniform(0, SIZE, (N, 1, 2))
    gt = Tracks(xy=walk.astype(np.float32), visible=rng.random((N, T)) > 0.2)
    pred = Tracks(xy=(walk + rng.normal(0, 2, walk.shape)).astype(np.float32), visible=rng.random((N, T)) > 0.2)
    return frames, gt, pred


def ours(path: Path, frames, gt, pred) -> None:
    with RunRecording(path, jpeg_quality=QUALITY, trail_length=8) as rec:
        rec.log_video("video", frames, gt, {"tracker": pred})


def per_frame_loop(path: Path, frames, gt, pred) -> None:
    rec = rr.RecordingStream("pointbench-baseline")
    rec.save(path)
    ids = np.arange(N)
    context = rr.AnnotationContext([rr.AnnotationInfo(id=i, color=c.tolist()) for i, c in enumerate(track_colors(N))])
    rec.log("videos/video", context, static=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, QUALITY]
    for t in range(T):
        rec.set_time("frame", sequence=t)
        jpeg = cv2.imencode(".jpg", np.ascontiguousarray(frames[t][..., ::-1]), params)[1].tobytes()
        rec.log("videos/video/frames", rr.EncodedImage(contents=jpeg, media_type="image/jpeg"))
        for name, tracks in (("gt", gt), ("tracker", pred)):
            seen = tracks.visible[:, t]
            rec.log(f"videos/video/{name}/points", rr.Clear(recursive=False))
            rec.log(f"videos/video/{name}/points", rr.Points2D(tracks.xy[seen, t], class_ids=ids[seen]))
            if t >= 1:
                both = seen & tracks.visible[:, t - 1]
                segments = np.stack([tracks.xy[both, t - 1], tracks.xy[both, t]], axis=1)
                rec.log(f"videos/video/{name}/trails", rr.Clear(recursive=False))
                rec.log(f"videos/video/{name}/trails", rr.LineStrips2D(segments, class_ids=ids[both]))
    rec.flush()
    rec.disconnect()


def main() -> None:
    header(f"Rerun logging: {N} tracks x {T} frames at {SIZE}x{SIZE}, ours (send_columns) vs per-frame rr.log loop")
    frames, gt, pred = make_inputs()
    with temp_dir() as root:
        paths = {"ours": root / "ours.rrd", "loop": root / "loop.rrd"}
        medians = interleaved_medians({
            "ours (send_columns)": lambda: ours(paths["ours"], frames, gt, pred),
            "per-frame rr.log loop": lambda: per_frame_loop(paths["loop"], frames, gt, pred),
        }, repeats=5)
        sizes = {name: path.stat().st_size / 2**20 for name, path in paths.items()}
    for name, mib in sizes.items():
        print(f"   file {name}: {mib:.2f} MiB")
    verdict("speed-up, loop time / ours time", medians["per-frame rr.log loop"] / medians["ours (send_columns)"],
            2.0, higher_is_better=True)
    verdict("file size, ours / loop", sizes["ours"] / sizes["loop"], 1.0, higher_is_better=False)


if __name__ == "__main__":
    main()
