"""Mask videos through PyAV: frames as forged-pixel masks read from the luma plane (SPEC §1.3)."""

from __future__ import annotations

from collections.abc import Iterator

import av
import numpy as np

from raydeval.media import MediaError

# formats whose first plane is 8-bit luma: read it directly (swscale to gray is slower, same bits)
LUMA_FORMATS = {"gray", "yuv420p", "yuv422p", "yuv444p", "yuvj420p", "yuvj422p", "yuvj444p",
                "yuv410p", "yuv411p", "yuv440p", "nv12", "nv21"}
FRAME_THREADED = {"h264", "hevc", "png"}  # codecs that decode faster with threads; FFV1 does not


def luma_frames(file, max_pixels: int) -> Iterator[np.ndarray]:
    """The 8-bit luma of every frame of the first video stream, in order (forged iff > 127).

    Each array may be a view of the decoder's buffer: use it before asking for the next frame.
    """
    try:
        with av.open(file, "r") as container:
            if not container.streams.video:
                raise MediaError("no video stream")
            stream = container.streams.video[0]
            if stream.codec_context.name in FRAME_THREADED:
                stream.thread_type = "AUTO"
            if stream.width * stream.height > max_pixels:
                raise MediaError(f"frames of {stream.width * stream.height} pixels exceed --max-pixels")
            for frame in container.decode(stream):
                yield luma(frame)
    except av.FFmpegError as e:
        raise MediaError(f"cannot decode video: {e}") from None


def luma(frame: av.VideoFrame) -> np.ndarray:
    """A frame's 8-bit gray image (its Y plane when it has one)."""
    if frame.format.name in LUMA_FORMATS:
        plane = frame.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        return rows[: frame.height, : frame.width]
    return frame.to_ndarray(format="gray")
