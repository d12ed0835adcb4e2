import numpy as np
import pytest

from mscl.sampling.clips import (
    clip_indices,
    num_flows,
    rgb_index,
    sample_key_start,
    sample_query_start,
    sample_two_starts,
)

# ----------------------------------------------------------------------------- alignment


def test_mscl_alignment_offset_8_step_2():
    # 48 frames: pairs (0, 8), (2, 10), ..., (38, 46); (40, 48) would need a 49th frame.
    L = num_flows(48, offset=8, step=2)
    assert L == 20
    last = L - 1
    assert rgb_index(last, step=2) == 38
    assert rgb_index(last, step=2) + 8 == 46 < 48
    np.testing.assert_array_equal(rgb_index(np.arange(3), step=2), [0, 2, 4])


@pytest.mark.parametrize(
    "num_frames, offset, step, expected",
    [
        (9, 8, 2, 1),     # one pair (0, 8)
        (10, 8, 2, 1),    # (2, 10) needs frame 10
        (11, 8, 2, 2),
        (8, 8, 2, 0),     # no frame 8 to pair with frame 0
        (3, 8, 2, 0),     # shorter than the offset
        (0, 8, 2, 0),
        (5, 1, 1, 4),     # classic consecutive-frame flow: T - 1 fields
    ],
)
def test_num_flows_edges(num_frames, offset, step, expected):
    assert num_flows(num_frames, offset, step) == expected
    # every flow's second frame exists
    for j in range(expected):
        assert rgb_index(j, step) + offset < num_frames


# ----------------------------------------------------------------------------- clip indices


def test_clip_indices_inside_video():
    np.testing.assert_array_equal(clip_indices(3, clip_len=4, interval=2, L=20), [3, 5, 7, 9])


@pytest.mark.parametrize("L", [63, 64, 65])
def test_clip_indices_at_the_video_end(L):
    # MSCL clip: 8 indices 8 apart. The sampler treats it as 64 long (clip_len*interval), so
    # its last start is L - 64 (0 when L < 64); from there the clip still ends inside the video.
    start = max(L - 64, 0)
    idx = clip_indices(start, clip_len=8, interval=8, L=L)
    assert idx.shape == (8,) and idx.dtype == np.int64
    assert idx.min() >= 0 and idx.max() < L
    np.testing.assert_array_equal(idx, start + 8 * np.arange(8))   # no wrap needed yet


def test_clip_indices_wrap_around_short_video():
    idx = clip_indices(2, clip_len=8, interval=8, L=20)
    np.testing.assert_array_equal(idx, [2, 10, 18, 6, 14, 2, 10, 18])
    np.testing.assert_array_equal(clip_indices(0, clip_len=4, interval=8, L=1), [0, 0, 0, 0])
    with pytest.raises(ValueError):
        clip_indices(0, clip_len=4, interval=8, L=0)


# ----------------------------------------------------------------------------- query start


def test_query_start_range_with_everything_kept():
    rng = np.random.default_rng(0)
    for L, high in [(64, 0), (65, 1), (100, 36)]:
        kept = np.arange(L)
        starts = {sample_query_start(rng, L, 8, 8, kept) for _ in range(400)}
        assert starts == set(range(high + 1))   # uniform on [0, L - 64], both ends reached


def test_query_start_when_clip_does_not_fit_is_zero_or_first_kept():
    rng = np.random.default_rng(1)
    assert sample_query_start(rng, 63, 8, 8, kept=[0, 5]) == 0     # draw 0 is kept
    assert sample_query_start(rng, 63, 8, 8, kept=[5, 9]) == 5     # fallback kept[0]
    assert sample_query_start(rng, 1, 8, 8, kept=[]) == 0
    assert sample_query_start(rng, 0, 8, 8, kept=[]) == 0


def test_query_start_always_kept_with_many_retries():
    rng = np.random.default_rng(2)
    kept = [3, 17, 30]
    starts = [sample_query_start(rng, 100, 8, 8, kept, retries=500) for _ in range(200)]
    assert set(starts) == set(kept)


def test_query_start_falls_back_after_retries():
    # With no retries, a kept set that the draw cannot hit (beyond the last start 36) falls
    # back to kept[0]; an empty kept set falls back to 0.
    rng = np.random.default_rng(3)
    assert {sample_query_start(rng, 100, 8, 8, [50, 60], retries=0) for _ in range(50)} == {50}
    assert {sample_query_start(rng, 100, 8, 8, [], retries=3) for _ in range(50)} == {0}


def test_query_start_deterministic_for_a_seed():
    def draws(seed: int) -> list[int]:
        rng = np.random.default_rng(seed)
        return [sample_query_start(rng, 200, 8, 8, range(0, 200, 3)) for _ in range(20)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)


# ----------------------------------------------------------------------------- key start


class FixedShift:
    """Stands in for np.random.Generator.integers and returns a chosen shift."""

    def __init__(self, shift: int):
        self.shift = shift

    def integers(self, low: int, high: int) -> int:
        assert low <= self.shift < high
        return self.shift


# Answers of the reference loop (best = 0; for c in kept: if |c - t| < |c - best|: best = c),
# worked by hand for each target t.
@pytest.mark.parametrize(
    "kept, q, shift, released, nearest",
    [
        ([10, 20, 40], 12, 5, 20, 20),     # t = 17: 0 -> 10 -> 20, 40 is 23 away from 17 but 20 from 20
        ([10, 20, 40], 40, -3, 40, 40),    # t = 37: 10 loses to 0 (27 vs 10), then 20, then 40
        ([10, 20, 40], 30, -2, 40, 20),    # t = 28: 40 is 12 from t and 20 from best 20, so 40 wins
        ([3, 5, 10], 4, 0, 5, 3),          # t = 4: 3 and 5 both 1 away; the loop ends on 5
        ([10, 20, 40], 40, 64, 0, 40),     # t = 104 > 2 * 40: no kept start beats 0
        ([10, 20], 32, -30, 10, 0),        # t = 2: nearest is 0; the loop takes 10 (8 < 10 from 0)
        ([], 30, 0, 0, 0),                 # nothing kept
        ([10, 20], 15, 0, 20, 10),         # t = 15: a tie; nearest takes the earlier candidate
        ([10], 5, 0, 10, 0),               # t = 5: 0 and 10 both 5 away; the loop compares 5 < 10
    ],
)
def test_key_start_rules_give_the_reference_answers(kept, q, shift, released, nearest):
    assert sample_key_start(FixedShift(shift), q, kept, shift=64) == released  # released is the default
    assert sample_key_start(FixedShift(shift), q, kept, shift=64, rule="released") == released
    assert sample_key_start(FixedShift(shift), q, kept, shift=64, rule="nearest") == nearest


def test_key_start_rules_differ_often_on_mds_like_kept_sets():
    rng = np.random.default_rng(0)
    differ = 0
    for _ in range(400):
        kept = np.flatnonzero(rng.random(120) > 0.5)  # about half the starts kept, as MDS keeps
        q = int(rng.choice(kept))
        shift = int(rng.integers(-64, 65))
        differ += sample_key_start(FixedShift(shift), q, kept, shift=64) != \
            sample_key_start(FixedShift(shift), q, kept, shift=64, rule="nearest")
    assert 0.1 < differ / 400 < 0.6


def test_key_start_rejects_an_unknown_rule():
    with pytest.raises(ValueError, match="nearest"):
        sample_key_start(FixedShift(0), 5, [10], shift=64, rule="closest")


def test_key_start_is_kept_or_zero_and_within_shift_reach():
    rng = np.random.default_rng(4)
    kept = np.arange(20, 80, 3)
    for _ in range(300):
        q = sample_query_start(rng, 120, 8, 8, kept)
        k = sample_key_start(rng, q, kept, shift=64)
        assert k == 0 or k in kept
        assert 0 <= k < 120


def test_key_shift_range_is_symmetric_and_inclusive():
    # With every start a candidate, the key equals the clamped target, so it shows the shift.
    rng = np.random.default_rng(5)
    kept = np.arange(1, 200)
    shifts = {sample_key_start(rng, 100, kept, shift=3) - 100 for _ in range(500)}
    assert shifts == {-3, -2, -1, 0, 1, 2, 3}


# ----------------------------------------------------------------------------- two independent clips (DCLR)


def test_two_starts_differ_and_cover_every_start_whose_clip_fits():
    rng = np.random.default_rng(0)
    # 40 frames, 16-frame clips every 2nd frame: a clip takes 32 consecutive frames, starts 0..8
    draws = [sample_two_starts(rng, 40, 16, 2) for _ in range(2000)]
    assert all(q != k for q, k in draws)
    assert {q for q, _ in draws} == {k for _, k in draws} == set(range(9))
    # independent: the key is as often before the query as after it, and often far from it
    assert 0.45 < np.mean([k > q for q, k in draws]) < 0.55
    assert np.mean([abs(k - q) >= 4 for q, k in draws]) > 0.2


@pytest.mark.parametrize("L", [32, 20, 1])
def test_two_starts_of_a_video_with_one_clip_or_less_are_both_zero(L):
    assert sample_two_starts(np.random.default_rng(0), L, 16, 2) == (0, 0)
