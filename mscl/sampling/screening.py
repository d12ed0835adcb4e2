"""Motion Differential Sampling of one video's stored flow (docs/mscl.md §4).

The quantised flow is read back, dequantised and scored on a device
(:func:`mscl.flow.motion.frame_differential_scores`), every flow index becomes a candidate clip
start with its clip score, and the starts above the video's median are kept
(:func:`mscl.sampling.mds.motion_differential_sampling`). The ``screen`` stage
(:mod:`mscl.pipeline.screen`) runs this over every video.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mscl.flow.motion import frame_differential_scores
from mscl.io.flow_files import FlowReader
from mscl.params import ScreenParams
from mscl.sampling.mds import clip_scores, motion_differential_sampling

CHUNK = 64  # flows scored at once: bounds device memory on long videos


def read_flow_tensor(reader: FlowReader, indices: range, device: torch.device) -> torch.Tensor:
    """Dequantised flows ``indices`` of one container as ``(N, 2, H, W)`` float32 pixels."""
    flow = torch.from_numpy(reader.read(indices))             # (N, H, W, 2)
    return flow.to(device).permute(0, 3, 1, 2)


def video_frame_scores(reader: FlowReader, *, block: int, device: torch.device, chunk: int = CHUNK) -> np.ndarray:
    """Frame differential scores s_j of a whole video, ``chunk`` flows at a time.

    Consecutive chunks overlap by one flow so that s_j = d(W_j, W_{j+1}) is the same as when
    the whole video is scored at once (the last flow of a chunk is scored with the next one).

    Returns:
        (L,) float64, L = ``len(reader)``; s_{L-1} = 0.
    """
    L = len(reader)
    s = np.zeros(L)
    for a in range(0, max(L - 1, 0), chunk):
        b = min(a + chunk + 1, L)                              # flows a..b-1, one past the chunk
        flow = read_flow_tensor(reader, range(a, b), device)   # (b-a, 2, H, W)
        s[a : b - 1] = frame_differential_scores(flow, block)[:-1].double().cpu().numpy()
    return s


def kept_starts(c: np.ndarray, enabled: bool) -> np.ndarray:
    """MDS-kept clip starts, or every start when MDS is switched off (the ablation).

    Args:
        c: (L,) clip scores.
    Returns:
        (K,) int64 increasing starts.
    """
    return motion_differential_sampling(c) if enabled else np.arange(len(c), dtype=np.int64)


def screen_video(path: str | Path, p: ScreenParams, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Clip scores of every candidate start of one flow container and the kept starts.

    Returns:
        c (L,) clip scores (docs/mscl.md §4 step 5), kept (K,) int64 starts (step 6).
    """
    with FlowReader(path) as reader:
        s = video_frame_scores(reader, block=p.block, device=device)
    c = clip_scores(s, p.clip_len, p.stride)
    return c, kept_starts(c, p.enabled)
