"""Pictures of computed flow next to its frames, so a person can see what was extracted."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mscl.flow.colorwheel import flow_to_color
from mscl.io.atomic import write_bytes
from mscl.io.flow_files import FlowReader
from mscl.io.frames import FrameReader
from mscl.io.tables import USABLE


def wheel_legend(size: int) -> np.ndarray:
    """``(size, size, 3)`` uint8 key of the colour coding: the flow at each pixel points from the
    centre to that pixel (hue = direction, saturation = magnitude), white outside the disc."""
    r = (size - 1) / 2
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    flow = torch.from_numpy(np.stack([(x - r) / r, (y - r) / r]))  # (2, H, W), |f| = 1 on the rim
    img = (255 * flow_to_color(flow)).permute(1, 2, 0).numpy()
    img[np.hypot(x - r, y - r) > r] = 255
    return img.astype(np.uint8)


def flow_picture(first: np.ndarray, second: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """One row ``[frame i | frame i + offset | colour-coded flow | legend]`` as ``(H, 3W + H, 3)`` uint8.

    Args:
        first, second: ``(H, W, 3)`` uint8 RGB frames.
        flow: ``(H, W, 2)`` float flow in pixels, max-normalised per picture for display.
    """
    mag = float(np.hypot(flow[..., 0], flow[..., 1]).max())
    coded = flow_to_color(torch.from_numpy(flow).permute(2, 0, 1) / (mag + 1e-5))
    coded = (255 * coded).permute(1, 2, 0).numpy().astype(np.uint8)
    return np.concatenate([first, second, coded, wheel_legend(first.shape[0])], 1)


def render_flow_pictures(manifest: pd.DataFrame, frames_dir: str | Path, flow_dir: str | Path, out_dir: str | Path,
                         *, count: int, step: int) -> list[Path]:
    """Write pictures of the middle flow of ``count`` videos spread over the manifest.

    Args:
        manifest: the flow manifest (video_id, flow, status ...), with the frames manifest's
            ``frames`` column joined in.
        step: ``flow.step`` (flow j starts at stored frame j * step).
    Returns:
        the written PNG paths.
    """
    import cv2

    usable = manifest[manifest["status"].isin(USABLE)]
    picks = usable.iloc[np.linspace(0, len(usable) - 1, min(count, len(usable))).round().astype(int)] if len(usable) else usable
    written = []
    for r in picks.itertuples():
        with FlowReader(Path(flow_dir) / r.flow) as fr, FrameReader(Path(frames_dir) / r.frames) as vr:
            j = len(fr) // 2
            i = j * step
            frames = vr.read([i, i + int(fr.meta["offset"])])
            row = flow_picture(frames[0], frames[1], fr.read([j])[0])
        path = Path(out_dir) / f"{r.video_id.replace('/', '__')}.png"
        write_bytes(path, cv2.imencode(".png", row[..., ::-1])[1].tobytes())
        written.append(path)
    return written
