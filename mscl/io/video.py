"""Decode a video file to uint8 ``(T, H, W, 3)`` RGB frames, and encode frames to a video file.

The only module that imports the decoder (PyAV); it is imported lazily so GPU-only code paths
import without it.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mscl.io.atomic import atomic_path


class VideoError(Exception):
    """A video that cannot be used; ``status`` is a short machine-readable kind of failure."""

    def __init__(self, status: str, reason: str):
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class DecodedVideo:
    """Frames ``(T, H, W, 3)`` uint8 RGB, their frame rate, and a note if decoding stopped early."""

    frames: np.ndarray
    fps: float
    error: str = ""


def resized_shape(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(H, W) with the short side scaled to ``short_side`` (0 keeps the size), aspect kept."""
    if short_side <= 0:
        return height, width
    scale = short_side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _keep_times(times: list[float], fps: float) -> list[int]:
    """Indices of the frames kept when resampling timestamps ``times`` (s) to ``fps``."""
    kept, next_t = [], None
    for i, t in enumerate(times):
        if next_t is None or t >= next_t - 1e-6:
            kept.append(i)
            next_t = (t if next_t is None else next_t) + 1.0 / fps
    return kept


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoError("missing", f"no such file: {path}")
    if not path.is_file():
        raise VideoError("unreadable", f"not a regular file: {path}")
    if path.stat().st_size == 0:
        raise VideoError("empty", "zero-byte file")


def decode_video(path: str | Path, *, short_side: int = 0, fps: float = 0.0, max_frames: int = 0) -> DecodedVideo:
    """Decode every frame of ``path`` (resampled to ``fps`` if > 0), resized to ``short_side``.

    Returns:
        DecodedVideo with frames ``(T, H, W, 3)`` uint8. If the stream breaks after some frames
        were decoded, those frames are returned and ``error`` says what happened.
    Raises:
        VideoError: missing, empty, unreadable (not a video / no video stream) or decode_error
            (nothing decodable).
    """
    import av

    path = Path(path)
    _check_file(path)
    av.logging.set_level(av.logging.PANIC)  # failures are reported through VideoError instead
    try:
        container = av.open(str(path))
    except (av.FFmpegError, PermissionError, OSError) as e:
        raise VideoError("unreadable", f"cannot open: {e}") from None
    with container:
        if not container.streams.video:
            raise VideoError("unreadable", "no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        native_fps = float(stream.average_rate or stream.guessed_rate or 25.0)
        frames, times, error = [], [], ""
        try:
            for frame in container.decode(stream):
                h, w = resized_shape(frame.height, frame.width, short_side)
                frames.append(frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="AREA"))
                times.append(frame.time if frame.time is not None else len(times) / native_fps)
                if max_frames and fps <= 0 and len(frames) >= max_frames:
                    break
        except (av.FFmpegError, ValueError) as e:
            error = f"decoding stopped after {len(frames)} frames: {e}"
    if not frames:
        raise VideoError("decode_error", error or "no decodable frame")
    if fps > 0:
        frames = [frames[i] for i in _keep_times(times, fps)]
    if max_frames:
        frames = frames[:max_frames]
    return DecodedVideo(np.stack(frames), fps if fps > 0 else native_fps, error)


def encode_video(path: str | Path, frames: np.ndarray, *, fps: int = 25, codec: str = "libx264", crf: int = 18) -> None:
    """Encode ``frames`` ``(T, H, W, 3)`` uint8 RGB to ``path`` (container from the suffix), atomically.

    H and W must be even for the yuv420p pixel format most players expect. The same frames give
    the same bytes on every call.
    """
    import av

    t, h, w, _ = frames.shape
    with atomic_path(path) as tmp:
        fmt = Path(path).suffix.lstrip(".").lower()
        with av.open(str(tmp), mode="w", format={"mkv": "matroska", "m4v": "mp4"}.get(fmt, fmt)) as out:
            stream = out.add_stream(codec, rate=fps)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            if codec == "libx264":
                # mbtree off: with it, libx264 encodes the same frames to different bytes from one
                # call to the next (some videos of every synthetic family, even with one thread),
                # so a regenerated dataset would not match its DVC hashes (tests/io/test_video.py)
                stream.options = {"crf": str(crf), "preset": "veryfast", "x264-params": "mbtree=0"}
            for rgb in frames:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")))
            out.mux(stream.encode(None))
