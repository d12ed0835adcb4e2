"""Quantised optical flow of one video as one container file: a stored zip, one member per flow.

Flow (u, v) in pixels is clipped to +-bound and stored as uint8 on 255 levels centred on zero,
``q = 127 + round(f * 127 / bound)`` (0 .. 254): zero flow is stored exactly (byte 127), so a
still background stays exactly still after dequantisation and per-frame max normalisation, and
dequantised values are within half a step (``bound / 254`` px) of the clipped original. Two storages (``flow.storage``), both lossless
on the quantised values, unlike the JPEG flow images common in the field:

* ``raw`` (default): member ``{j:06d}_uv.raw`` holds flow j as its (H, W, 2) uint8 bytes; reading
  it is a copy out of the zip, ~17x faster than two PNG decodes at 340 x 256 for ~4x the bytes
  (``benchmarks/flow_storage.py``): the loader decodes 16 flows per sample;
* ``png``: members ``{j:06d}_u.png`` / ``{j:06d}_v.png``, one 8-bit PNG per component (the
  smaller files).

``meta.json`` records the storage, the quantisation (:data:`QUANTIZATION`; a container of another
is refused with the command that rewrites it), bound, shape, the pairing (offset, step) and the
fingerprint of the work.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from mscl.io.frames import META, write_members


# the stored bytes' meaning, written to every container's meta: containers of the earlier
# 0..255 mapping (where 0 px read back as +bound/255) lack it and are refused by FlowReader
QUANTIZATION = "zero127"
ZERO = 127  # the byte of 0 px; 0 is -bound and 254 is +bound (255 is never written)


def quantize(flow: np.ndarray, bound: float) -> np.ndarray:
    """Float flow (any shape) -> uint8 with 0 px at 127 and +-``bound`` at 254 / 0 (values beyond clip)."""
    q = np.round(np.clip(flow, -bound, bound) * (ZERO / bound)) + ZERO
    return q.astype(np.uint8)


def dequantize(q, bound: float):
    """uint8 flow -> float32 pixels (inverse of :func:`quantize` up to half a step; byte 127 is
    exactly 0); ``q`` a numpy array or a torch tensor (the same float32 arithmetic, the same values)."""
    f = q.astype(np.float32) if isinstance(q, np.ndarray) else q.float()
    return (f - np.float32(ZERO)) * np.float32(bound / ZERO)


# squared length, in (bound / 127)^2 units, of the vector stored as the byte pair (u, v), indexed
# by the pair read as one little-endian uint16 (u + 256 v)
_SQ = (np.arange(256, dtype=np.int32) - ZERO) ** 2
_PAIR_SQ = _SQ[np.arange(65536) & 255] + _SQ[np.arange(65536) >> 8]


def max_lengths(q: np.ndarray | Sequence[np.ndarray], bound: float) -> np.ndarray:
    """Longest dequantised vector of every frame of uint8 flow ``q`` (N frames (H, W, 2)): (N,)
    float32 pixels, exact (integer squared lengths looked up per stored byte pair: about 6x
    cheaper than dequantising the frames first, which matters because it reads every pixel).
    A still frame's is exactly 0."""
    sq = [_PAIR_SQ[np.ascontiguousarray(f).view("<u2")].max() for f in q]
    return (np.sqrt(np.array(sq, np.float64)) * (bound / ZERO)).astype(np.float32)


def clipped_fraction(flow: np.ndarray, bound: float) -> float:
    """Fraction of flow vectors ``(..., 2)`` with a component beyond +-``bound``."""
    return float((np.abs(flow) > bound).any(-1).mean()) if flow.size else 0.0


def _png(gray: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", gray, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


STORAGES = ("raw", "png")


def flow_members(j: int, storage: str) -> tuple[str, ...]:
    """Member names of flow ``j`` in ``storage``: one raw member, or the u and v PNGs."""
    return (f"{j:06d}_uv.raw",) if storage == "raw" else (f"{j:06d}_u.png", f"{j:06d}_v.png")


def write_flow(path: str | Path, flow: np.ndarray, *, bound: float, meta: dict, storage: str = "raw") -> dict:
    """Quantise ``flow`` ``(N, H, W, 2)`` float and write it in ``storage`` (see the module
    docstring); returns the stored ``meta.json``: ``meta`` plus storage, shape, bound and the
    clipped fraction."""
    if storage not in STORAGES:
        raise ValueError(f"flow storage must be one of {STORAGES}, got {storage!r}")
    n, h, w, _ = flow.shape
    q = quantize(flow, bound)
    members = {}
    for j in range(n):
        data = [np.ascontiguousarray(q[j]).tobytes()] if storage == "raw" else [_png(q[j, ..., 0]), _png(q[j, ..., 1])]
        members |= dict(zip(flow_members(j, storage), data))
    meta = {**meta, "storage": storage, "quantization": QUANTIZATION, "num_flows": n, "height": h, "width": w, "bound": bound,
            "clipped": clipped_fraction(flow, bound)}
    write_members(path, members, meta)
    return meta


class FlowReader:
    """Random access to the quantised flows of one container."""

    def __init__(self, path: str | Path):
        self._zip = zipfile.ZipFile(path)
        self.meta = json.loads(self._zip.read(META))
        self.bound = float(self.meta["bound"])
        if self.meta.get("quantization") != QUANTIZATION:
            raise ValueError(f"{path}: flow written with an earlier quantisation (0 px was not exact); rerun the "
                             f"flow stage (dvc repro -f flow) to rewrite it")
        self.storage = self.meta.get("storage")
        if self.storage not in STORAGES:
            raise ValueError(f"{path}: unknown flow storage {self.storage!r}; rerun the flow stage "
                             f"(dvc repro -f flow) to rewrite it")
        self._shape = (int(self.meta["height"]), int(self.meta["width"]), 2)

    def __len__(self) -> int:
        return int(self.meta["num_flows"])

    def member_bytes(self, j: int) -> list[bytes]:
        """The stored bytes of flow ``j`` (one raw member, or the u and v PNGs), undecoded."""
        return [self._zip.read(n) for n in flow_members(j, self.storage)]

    def decode(self, j: int, data: list[bytes]) -> np.ndarray:
        """Flow ``j`` as ``(H, W, 2)`` uint8 from its :meth:`member_bytes`."""
        names = flow_members(j, self.storage)
        if self.storage == "raw":
            if len(data[0]) != np.prod(self._shape):
                raise ValueError(f"corrupt flow member {names[0]}: {len(data[0])} bytes for shape {self._shape}")
            return np.frombuffer(data[0], np.uint8).reshape(self._shape)
        import cv2

        planes = [cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_UNCHANGED) for d in data]
        for name, plane in zip(names, planes):
            if plane is None:
                raise ValueError(f"corrupt flow member {name}")
        return np.stack(planes, -1)

    def read_quantized_each(self, indices: Sequence[int]) -> list[np.ndarray]:
        """Flows ``indices``, each ``(H, W, 2)`` uint8 as decoded (not stacked)."""
        return [self.decode(int(j), self.member_bytes(int(j))) for j in indices]

    def read_quantized(self, indices: Sequence[int]) -> np.ndarray:
        """Flows ``indices`` as ``(len(indices), H, W, 2)`` uint8."""
        return np.stack(self.read_quantized_each(indices))

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Flows ``indices`` as ``(len(indices), H, W, 2)`` float32 pixels."""
        return dequantize(self.read_quantized(indices), self.bound)

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> "FlowReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
