"""Flow over several frames chained from consecutive-frame flows (``flow.compose``).

TV-L1 finds motion of a few pixels between two frames; over MSCL's offset of 8 frames a moving
object travels farther than its coarse-to-fine pyramid recovers (docs/optical-flow.md). Chaining
follows each pixel through the consecutive flows instead: a pixel at x in frame i is at
x + F_i(x) in frame i + 1, at x + F_i(x) + F_{i+1}(x + F_i(x)) in frame i + 2, and so on, each
flow read at the point the pixel has reached (bilinear; a point that leaves the frame reads the
nearest border flow).
"""
from __future__ import annotations

import numpy as np


def consecutive_pairs(num_flows: int, offset: int, step: int) -> list[tuple[int, int]]:
    """The consecutive pairs ``(j, j + 1)`` that :func:`compose_consecutive` needs for the
    ``num_flows`` pairs ``(i, i + offset)``, ``i = 0, step, ...`` (``step <= offset``: every
    frame between 0 and the last pair's end is covered)."""
    if num_flows == 0:
        return []
    return [(j, j + 1) for j in range((num_flows - 1) * step + offset)]


def chain(flows: np.ndarray) -> np.ndarray:
    """Displacement ``(H, W, 2)`` float32 from the first frame over all ``flows`` ``(k, H, W, 2)``
    (consecutive forward flows, (u, v) pixels), each read where the pixel has got to."""
    import cv2

    h, w = flows.shape[1:3]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    total = flows[0].astype(np.float32).copy()
    for f in flows[1:]:
        at = cv2.remap(np.ascontiguousarray(f, np.float32), xs + total[..., 0], ys + total[..., 1],
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        total += at
    return total


def compose_consecutive(flows: np.ndarray, offset: int, step: int) -> np.ndarray:
    """Flows ``(i, i + offset)`` for ``i = 0, step, ...`` from the consecutive flows ``flows``
    ``(J, H, W, 2)`` of :func:`consecutive_pairs`: ``(N, H, W, 2)`` float32, N = (J - offset) // step + 1."""
    n = (len(flows) - offset) // step + 1
    if len(flows) < offset or (n - 1) * step + offset != len(flows):
        raise ValueError(f"{len(flows)} consecutive flows are not the chain of pairs (i, i + {offset}) every {step}")
    return np.stack([chain(flows[i * step : i * step + offset]) for i in range(n)])
