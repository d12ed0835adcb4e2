"""Chaining consecutive flows into flow over several frames, against exact motion."""
import numpy as np
import pytest
from scipy import ndimage

from mscl.flow.compose import chain, compose_consecutive, consecutive_pairs
from mscl.synthetic import draw_scene, true_flow


def test_a_uniform_translation_adds_up_exactly():
    f = np.broadcast_to(np.array([1.5, -0.75], np.float32), (8, 20, 24, 2))
    np.testing.assert_allclose(chain(f), np.broadcast_to([12.0, -6.0], (20, 24, 2)), atol=1e-5)


@pytest.mark.parametrize("label", [4, 6])  # rotate_cw, zoom_in: flow that varies across the object
def test_chained_exact_consecutive_flows_match_the_exact_flow_over_eight_frames(label):
    scene = draw_scene(np.random.default_rng(3), label, height=96, width=120, num_frames=12, speed=2.0)
    steps = np.stack([true_flow(scene, t)[0] for t in range(8)])
    truth, inside = true_flow(scene, 0, 8)
    inner = ndimage.binary_erosion(inside, iterations=3)  # away from the object's edge, where flow jumps to 0
    # and whose path stays on the object (a zooming texture leaves its still outline)
    ys, xs = np.nonzero(inner)
    ex, ey = np.rint(xs + truth[ys, xs, 0]).astype(int), np.rint(ys + truth[ys, xs, 1]).astype(int)
    ok = (ex >= 0) & (ex < inside.shape[1]) & (ey >= 0) & (ey < inside.shape[0])
    stays = np.zeros_like(inner)
    stays[ys[ok], xs[ok]] = inner[ey[ok], ex[ok]]
    inner &= stays
    err = np.hypot(*(chain(steps) - truth)[inner].T)
    assert inner.sum() > 50 and np.median(err) < 0.05 and np.percentile(err, 95) < 0.3
    assert np.median(np.hypot(*truth[inner].T)) > 1.5  # the chain carried a motion of pixels, not a still object


def test_pairs_and_composition_cover_every_pair_of_the_offset():
    assert consecutive_pairs(3, offset=4, step=2) == [(j, j + 1) for j in range(8)]
    assert consecutive_pairs(0, offset=8, step=2) == []
    f = np.zeros((8, 4, 5, 2), np.float32)
    f[:, ..., 0] = np.arange(8)[:, None, None]  # flow j moves j px right
    out = compose_consecutive(f, offset=4, step=2)  # pairs (0, 4), (2, 6), (4, 8)
    assert out.shape == (3, 4, 5, 2)
    np.testing.assert_allclose(out[:, 0, 0, 0], [0 + 1 + 2 + 3, 2 + 3 + 4 + 5, 4 + 5 + 6 + 7])
    with pytest.raises(ValueError, match="not the chain of pairs"):
        compose_consecutive(f[:7], offset=4, step=2)
