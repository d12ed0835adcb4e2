"""One video's frames as one container file: an uncompressed zip of JPEG members.

Member ``{i:06d}.jpg`` is stored frame i (RGB); member ``meta.json`` (written last) records the
frame count, size, fps and the fingerprint of the work that produced the file. Zip keeps random
access by frame index, is readable with any tool, and keeps file counts equal to video counts
(which DVC needs: it hashes every file).
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from mscl.io.atomic import atomic_path

META = "meta.json"
# every member's timestamp: the container's bytes then depend only on its content, so a rerun
# that reproduces the same frames leaves DVC's hash (and everything downstream) unchanged
_EPOCH = (1980, 1, 1, 0, 0, 0)


def member(i: int, ext: str = "jpg") -> str:
    """Zip member name of frame ``i``."""
    return f"{i:06d}.{ext}"


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of one ``(H, W, 3)`` uint8 RGB image."""
    import cv2

    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB image from JPEG bytes.

    OpenCV >= 4.11 decodes straight to RGB (a contiguous array: copying it later, e.g. stacking
    a clip, costs about half of what copying a channel-reversed BGR view does); older versions
    decode BGR and the channels are reversed in a view."""
    import cv2

    rgb_flag = getattr(cv2, "IMREAD_COLOR_RGB", None)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR if rgb_flag is None else rgb_flag)
    if img is None:
        raise ValueError("corrupt JPEG member")
    return img[..., ::-1] if rgb_flag is None else img


def write_members(path: str | Path, members: dict[str, bytes], meta: dict) -> None:
    """Atomically write a stored (uncompressed) zip with ``members`` and then ``meta.json``."""
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for name, data in {**members, META: json.dumps(meta).encode()}.items():
                zf.writestr(zipfile.ZipInfo(name, date_time=_EPOCH), data)


def read_meta(path: str | Path) -> dict | None:
    """The ``meta.json`` of a container, or None if the file is absent or unreadable."""
    try:
        with zipfile.ZipFile(path) as zf:
            return json.loads(zf.read(META))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def write_frames(path: str | Path, frames: np.ndarray, *, quality: int, meta: dict) -> None:
    """Write ``frames`` ``(T, H, W, 3)`` uint8 as JPEG members; ``meta`` gains shape fields."""
    t, h, w, _ = frames.shape
    members = {member(i): encode_jpeg(f, quality) for i, f in enumerate(frames)}
    write_members(path, members, {**meta, "num_frames": t, "height": h, "width": w})


class FrameReader:
    """Random access to the frames of one container; open once, read many clips."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._zip = zipfile.ZipFile(self.path)
        self.meta = json.loads(self._zip.read(META))

    def __len__(self) -> int:
        return int(self.meta["num_frames"])

    def read_bytes(self, indices: Sequence[int]) -> list[bytes]:
        """Raw JPEG bytes of frames ``indices`` (for decoding elsewhere, e.g. on a GPU)."""
        return [self._zip.read(member(int(i))) for i in indices]

    def read_each(self, indices: Sequence[int]) -> list[np.ndarray]:
        """Frames ``indices``, each ``(H, W, 3)`` uint8 RGB as decoded (not stacked)."""
        return [decode_jpeg(b) for b in self.read_bytes(indices)]

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Frames ``indices`` as ``(len(indices), H, W, 3)`` uint8 RGB."""
        return np.stack(self.read_each(indices))

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> "FrameReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
