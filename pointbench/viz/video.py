"""Frames as an encoded video (AV1 or H.264 in MP4) through PyAV: the optional `pointbench[video]` extra."""

from __future__ import annotations

import io
import os

import numpy as np

CODECS = {"av1": "libsvtav1", "h264": "libx264"}


def require_pyav(what: str) -> None:
    """ImportError naming `what` and the install command unless PyAV is installed."""
    import importlib.util

    if importlib.util.find_spec("av") is None:
        raise ImportError(f"{what} needs PyAV, which is not installed: pip install \"pointbench[video]\" "
                          "(or use output.frame_format=jpeg)")


def encode_mp4(frames: np.ndarray, fps: float, codec: str = "av1", crf: int = 30) -> bytes:
    """Encode uint8 RGB `(T, H, W, 3)` frames as MP4 bytes; odd sizes are padded (bottom, right) to even.

    H.264 is written without B-frames, which Rerun's decoder needs; AV1 decodes in the viewer with
    no extra software, H.264 needs ffmpeg on the viewing machine.
    """
    try:
        import av
    except ImportError as error:
        raise ImportError("encoded video frames need PyAV: pip install 'pointbench[video]'") from error
    if codec not in CODECS:
        raise ValueError(f"frame codec must be one of {sorted(CODECS)}; got {codec!r}")
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1: errors only
    _, height, width, _ = frames.shape
    pad = ((0, 0), (0, height % 2), (0, width % 2), (0, 0))
    frames = np.pad(frames, pad, mode="edge") if any(p[1] for p in pad) else frames
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream(CODECS[codec], rate=max(1, int(round(fps))))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": str(crf), **({"bf": "0"} if codec == "h264" else {})}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()
