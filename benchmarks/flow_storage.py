"""Flow storage formats side by side: bytes per flow frame, decode time, round-trip error.

The same TV-L1 flows (OpenCV, default params) of a panned photograph at the field's 340 x 256
are stored every way below, each as one container per video (a stored zip, as the pipeline
writes them), and read back by random access the way the pretraining loader reads a clip. Error
is measured against the float flow, after clipping to +-bound (clipping is the same for all).

- ``png2``: two 8-bit grayscale PNGs per flow frame, u and v (the pipeline's format today);
- ``png3``: one 3-channel PNG per frame holding u, v and a zero plane;
- ``raw``: the frame's uint8 (H, W, 2) array as an uncompressed member (decode = a view);
- ``deflate``: the same array, zlib level 1;
- ``jpeg``: u and v as 8-bit JPEGs at quality 95 (what denseflow-style tools store; lossy).

    python benchmarks/flow_storage.py --frames 24 --reads 200
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from flow import panning_frames  # noqa: E402  (the benchmark's virtual camera)

from mscl.flow.tvl1 import tvl1_pairs_opencv  # noqa: E402
from mscl.io.flow_files import dequantize, quantize  # noqa: E402
from mscl.params import FlowParams, default  # noqa: E402

BOUND = 20.0


def _cv2():
    import cv2

    return cv2


def encode(fmt: str, q: np.ndarray) -> dict[str, bytes]:
    """Members of one flow frame ``q`` (H, W, 2) uint8 in format ``fmt``."""
    cv2 = _cv2()
    if fmt == "png2":
        return {c: cv2.imencode(".png", q[..., i], [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()
                for i, c in enumerate("uv")}
    if fmt == "png3":
        three = np.dstack([q, np.zeros(q.shape[:2], np.uint8)])
        return {"uv": cv2.imencode(".png", three, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()}
    if fmt == "raw":
        return {"uv": q.tobytes()}
    if fmt == "deflate":
        return {"uv": zlib.compress(q.tobytes(), 1)}
    if fmt == "jpeg":
        return {c: cv2.imencode(".jpg", q[..., i], [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
                for i, c in enumerate("uv")}
    raise ValueError(fmt)


def decode(fmt: str, zf: zipfile.ZipFile, j: int, shape: tuple[int, int]) -> np.ndarray:
    """Flow frame ``j`` of an open container as (H, W, 2) uint8."""
    cv2 = _cv2()
    read = lambda c: zf.read(f"{j:06d}_{c}")  # noqa: E731
    if fmt in ("png2", "jpeg"):
        return np.stack([cv2.imdecode(np.frombuffer(read(c), np.uint8), cv2.IMREAD_UNCHANGED) for c in "uv"], -1)
    if fmt == "png3":
        return cv2.imdecode(np.frombuffer(read("uv"), np.uint8), cv2.IMREAD_UNCHANGED)[..., :2]
    data = read("uv") if fmt == "raw" else zlib.decompress(read("uv"))
    return np.frombuffer(data, np.uint8).reshape(*shape, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=24, help="flow frames per video")
    ap.add_argument("--reads", type=int, default=200, help="random frame reads timed per format")
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--width", type=int, default=340)
    args = ap.parse_args()
    gray = panning_frames(args.frames + 8, args.height, args.width)
    t = time.perf_counter()
    flow = tvl1_pairs_opencv(gray, [(i, i + 8) for i in range(args.frames)], default(FlowParams))  # MSCL's pairing
    print(f"{args.frames} TV-L1 flows at {args.width}x{args.height} in {time.perf_counter() - t:.0f} s; "
          f"|flow| mean {np.abs(flow).mean():.2f} px, max {np.abs(flow).max():.1f} px")
    clipped = np.clip(flow, -BOUND, BOUND)
    q = quantize(flow, BOUND)
    rng = np.random.default_rng(0)
    order = rng.integers(0, args.frames, args.reads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("png2", "png3", "raw", "deflate", "jpeg"):
            path = Path(tmp) / f"{fmt}.zip"
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
                for j in range(args.frames):
                    for c, data in encode(fmt, q[j]).items():
                        zf.writestr(f"{j:06d}_{c}", data)
            with zipfile.ZipFile(path) as zf:
                back = np.stack([decode(fmt, zf, j, q.shape[1:3]) for j in range(args.frames)])
                t = time.perf_counter()
                for j in order:
                    decode(fmt, zf, int(j), q.shape[1:3])
                ms = 1000 * (time.perf_counter() - t) / args.reads
            err = np.abs(dequantize(back, BOUND) - clipped)
            rows.append((fmt, path.stat().st_size / args.frames / 1024, ms, err.mean(), err.max()))
    print(f"{'format':8} {'KiB/frame':>10} {'decode ms':>10} {'x png2':>7} {'mean err px':>12} {'max err px':>11}")
    base = rows[0][2]
    for fmt, kib, ms, mean, worst in rows:
        print(f"{fmt:8} {kib:10.1f} {ms:10.3f} {base / ms:7.1f} {mean:12.4f} {worst:11.3f}")


if __name__ == "__main__":
    main()
