import dataclasses
import logging

import numpy as np
import pandas as pd
import pytest
import torch

from mscl.io.flow_files import write_flow
from mscl.io.frames import write_frames
from mscl.params import PretrainParams, default
from mscl.sampling.clips import num_flows
from mscl.transforms.color import IMAGENET_MEAN, IMAGENET_STD
from mscl.data.pretrain import (METHOD_VIEWS, PretrainBatch, PretrainDataset, augment_generator, collate, make_loader,
                                prepare_batch, read_clip_frames)
from mscl.data.sampler import batches_from
from mscl.losses.dclr import dynamic_view

from helpers import CLIP_ROLES

OFFSET, STEP = 2, 2
H, W = 24, 32
ANGLE = 0.4  # flow j points at angle j * ANGLE (radians), which survives max-normalisation
P = default(PretrainParams, clip_len=4, interval=3, crop_size=16, batch_size=2, workers=0, seed=3)


def indexed_video(L: int, shade: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames whose red level is 10 * frame index (blue = ``shade`` names the video), and flows
    whose direction is j * ANGLE: (n, H, W, 3) uint8 with num_flows(n) == L, (L, H, W, 2)."""
    n = STEP * (L - 1) + OFFSET + 1
    assert num_flows(n, OFFSET, STEP) == L
    frames = np.zeros((n, H, W, 3), np.uint8)
    frames[..., 0] = (10 * np.arange(n))[:, None, None]
    frames[..., 1], frames[..., 2] = 128, shade
    a = ANGLE * np.arange(L)
    flow = np.broadcast_to(np.stack([10 * np.cos(a), 10 * np.sin(a)], -1)[:, None, None], (L, H, W, 2))
    return frames, np.ascontiguousarray(flow, np.float32)


def write_dataset(root, videos: dict[str, tuple[np.ndarray, np.ndarray]], kept: dict[str, list[int]] | None = None):
    """Containers under ``root`` and the three tables (samples, frames manifest, flow manifest)."""
    rows, fr, fl = [], [], []
    for vid, (frames, flow) in videos.items():
        write_frames(root / "frames" / f"{vid}.zip", frames, quality=95, meta={})
        write_flow(root / "flow" / f"{vid}.zip", flow, bound=20.0, meta={"offset": OFFSET, "step": STEP})
        L = len(flow)
        keep = set(range(L) if kept is None else kept[vid])
        rows += [{"video_id": vid, "split": "train", "label": 0, "start": s, "score": 0.0, "kept": s in keep} for s in range(L)]
        fr.append({"video_id": vid, "frames": f"{vid}.zip", "num_frames": len(frames), "status": "ok"})
        fl.append({"video_id": vid, "flow": f"{vid}.zip", "num_flows": L, "status": "ok"})
    return pd.DataFrame(rows), pd.DataFrame(fr), pd.DataFrame(fl)


def dataset(root, tables, **overrides) -> PretrainDataset:
    p = dataclasses.replace(P, **overrides)
    return PretrainDataset(*tables, root / "frames", root / "flow", p=p, offset=OFFSET, step=STEP)


def decode(rgb: torch.Tensor, flow: torch.Tensor) -> tuple[np.ndarray, np.ndarray, float]:
    """Per clip position: stored frame index (red / 10), flow index (direction / ANGLE); video shade."""
    frame = np.round(rgb[0].float().mean((-2, -1)).numpy() / 10).astype(int)
    angle = torch.atan2(flow[1], flow[0]).mean((-2, -1)).numpy() % (2 * np.pi)
    return frame, np.round(angle / ANGLE).astype(int), rgb[2].float().mean().item()


@pytest.fixture
def indexed(tmp_path):
    return write_dataset(tmp_path, {"v0": indexed_video(10, 40), "v1": indexed_video(7, 120)})


def test_item_shapes_dtypes_and_views_of_one_video(tmp_path, indexed):
    ds = dataset(tmp_path, indexed)
    assert len(ds) == 2
    for i in range(2):
        item = ds[i]
        assert item.index == i and item.replaced == 0 and not item.prepared
        assert item.views["rgb_q"].shape == item.views["rgb_k"].shape == (3, 4, 16, 16) and item.views["rgb_q"].dtype == torch.uint8
        for f in ("flow_q", "flow_k", "flow_q_rot", "flow_k_rot"):
            x = item.views[f]
            assert x.shape == (2, 4, 16, 16) and x.dtype == torch.float32
            assert torch.linalg.vector_norm(x, dim=0).max() <= 1  # per-frame max normalisation
        shade_q, shade_k = decode(item.views["rgb_q"], item.views["flow_q"])[2], decode(item.views["rgb_k"], item.views["flow_k"])[2]
        assert abs(shade_q - (40, 120)[i]) < 3 and abs(shade_k - (40, 120)[i]) < 3


def test_flow_j_comes_with_rgb_frame_j_times_step_with_wrap_around(tmp_path, indexed):
    # clips span 12 > L: starts past 0 wrap around; the paper layout puts each clip's original
    # flow in flow_q / flow_k
    ds = dataset(tmp_path, indexed, shift_range=3, flow_layout="paper")
    wrapped = 0
    for epoch in range(6):
        ds.set_epoch(epoch)
        for i, L in ((0, 10), (1, 7)):
            item = ds[i]
            for rgb, flow in ((item.views["rgb_q"], item.views["flow_q"]), (item.views["rgb_k"], item.views["flow_k"])):
                frame, j, _ = decode(rgb, flow)
                np.testing.assert_array_equal(frame, j * STEP)
                np.testing.assert_array_equal(j, (j[0] + 3 * np.arange(4)) % L)
                wrapped += bool((np.diff(j) < 0).any())
    assert wrapped > 0


def test_query_start_is_kept_and_static_video_falls_back_to_zero(tmp_path):
    videos = {"v0": indexed_video(10, 40), "still": indexed_video(10, 120)}
    tables = write_dataset(tmp_path, videos, kept={"v0": [3, 5, 8], "still": []})
    ds = dataset(tmp_path, tables, clip_len=2, interval=1, shift_range=2, flow_layout="paper")
    moving, static = list(ds.video_ids).index("v0"), list(ds.video_ids).index("still")
    starts_q, starts_k = set(), set()
    for epoch in range(25):
        ds.set_epoch(epoch)
        item = ds[moving]
        starts_q.add(decode(item.views["rgb_q"], item.views["flow_q"])[1][0])
        starts_k.add(decode(item.views["rgb_k"], item.views["flow_k"])[1][0])
        still = ds[static]
        assert decode(still.views["rgb_q"], still.views["flow_q"])[1][0] == decode(still.views["rgb_k"], still.views["flow_k"])[1][0] == 0
    assert starts_q <= {3, 5, 8} and len(starts_q) > 1
    assert starts_k <= {0, 3, 5, 8} and len(starts_k) > 1


FRA_TURNS = {0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6}  # multiples of pi


def circular(a: float) -> float:
    """Distance of angle ``a`` from 0 on the circle."""
    a = a % (2 * np.pi)
    return min(a, 2 * np.pi - a)


def turn_of(flow: torch.Tensor, reference: torch.Tensor) -> float:
    """Angle (radians, in [0, 2 pi)) that turns ``reference`` vectors onto ``flow``: (2, ...) each."""
    f, r = torch.complex(flow[0], flow[1]), torch.complex(reference[0], reference[1])
    return float(torch.angle((f * r.conj()).sum())) % (2 * np.pi)


@pytest.mark.parametrize("layout", ["released", "paper"])
def test_flow_fields_hold_the_layouts_clips_with_one_angle_per_sample(tmp_path, indexed, layout):
    ds = dataset(tmp_path, indexed, flow_layout=layout, shift_range=2)
    angles, key_differs = set(), 0
    for epoch in range(6):
        ds.set_epoch(epoch)
        for i in range(2):
            item = ds[i]
            frames = {"q": decode(item.views["rgb_q"], item.views["flow_q"])[0], "k": decode(item.views["rgb_k"], item.views["flow_k"])[0]}
            key_differs += not np.array_equal(frames["q"], frames["k"])
            turns = set()
            for field, (kind, clip) in CLIP_ROLES[layout].items():
                flow = item.views[field]  # (2, T, S, S); flow j points at angle j * ANGLE
                a = torch.as_tensor(ANGLE * frames[clip] / STEP, dtype=torch.float32)[:, None, None]
                expected = torch.stack([torch.cos(a), torch.sin(a)]).expand_as(flow)
                turn = turn_of(flow, expected)
                for t in range(flow.shape[1]):  # the same turn for every frame of the clip
                    assert circular(turn_of(flow[:, t], expected[:, t]) - turn) < 0.03, (field, t)
                if kind == "orig":
                    assert circular(turn) < 0.03, field
                else:
                    turns.add(round(turn / np.pi, 2))
            assert len(turns) == 1 and turns <= FRA_TURNS  # one angle for both clips of the sample
            angles |= turns
    assert len(angles) > 2 and key_differs > 0


@pytest.mark.parametrize("layout", ["released", "paper"])
def test_crop_and_flip_are_shared_within_a_view(tmp_path, layout):
    # red = 7 x, green = 7 y; flow (u, v) = ((x + 1) / 2, (y + 1) / 2) px, so after max
    # normalisation by M = |f(W-1, H-1)|: x = 2 M u - 1 and y = 2 M v - 1 at every pixel of an
    # unrotated field, and of a rotated one turned back by its angle
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    frames = np.zeros((7, H, W, 3), np.uint8)
    frames[..., 0], frames[..., 1] = 7 * x, 7 * y
    flow = np.broadcast_to(np.stack([(x + 1) / 2, (y + 1) / 2], -1), (3, H, W, 2)).copy()
    M = np.hypot(W, H) / 2
    tables = write_dataset(tmp_path, {"ramp": (frames, flow)})
    ds = dataset(tmp_path, tables, clip_len=2, interval=1, flow_layout=layout)
    flips = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        item = ds[0]
        for view in ("q", "k"):
            rgb = item.views[f"rgb_{view}"].float()
            flips.add(bool(rgb[0, 0, 0, 0] > rgb[0, 0, 0, -1]))
            for field in (f"flow_{view}", f"flow_{view}_rot"):
                f = item.views[field]
                kind = CLIP_ROLES[layout][field][0]
                turn = turn_of(f, torch.stack([rgb[0] / 7 + 1, rgb[1] / 7 + 1]))
                assert (kind == "orig") == (circular(turn) < 0.05), field
                c, s_ = np.cos(-turn), np.sin(-turn)
                back = torch.stack([c * f[0] - s_ * f[1], s_ * f[0] + c * f[1]])
                # JPEG (chroma subsampling) and flow quantisation leave under a pixel; a box
                # shifted by one pixel would move the mean error to about 1
                for ch in (0, 1):
                    err = (rgb[ch] / 7 - (2 * M * back[ch] - 1)).abs()
                    assert err.max() < 1.0 and err.mean() < 0.3, field
    assert flips == {True, False}


def test_fra_off_leaves_the_rotated_fields_unrotated(tmp_path, indexed):
    item = dataset(tmp_path, indexed, fra=False, flow_layout="paper")[0]
    torch.testing.assert_close(item.views["flow_q_rot"], item.views["flow_q"])
    torch.testing.assert_close(item.views["flow_k_rot"], item.views["flow_k"])


def test_views_are_reproducible_for_seed_and_epoch(tmp_path, indexed):
    def views(ds, i=0):
        return torch.cat([ds[i].views[f].flatten().float() for f in METHOD_VIEWS["mscl"]])

    a, b = dataset(tmp_path, indexed), dataset(tmp_path, indexed)
    torch.testing.assert_close(views(a), views(b))
    torch.testing.assert_close(views(a), views(a))
    b.set_epoch(1)
    assert not torch.equal(views(a), views(b))
    assert not torch.equal(views(a), views(dataset(tmp_path, indexed, seed=4)))
    assert not torch.equal(views(a, 0)[:100], views(a, 1)[:100])


def test_unreadable_videos_are_replaced_logged_once_and_counted(tmp_path, caplog):
    videos = {f"v{i}": indexed_video(6, 40 * i) for i in range(4)}
    tables = write_dataset(tmp_path, videos)
    (tmp_path / "frames/v1.zip").write_bytes(b"not a zip")
    (tmp_path / "flow/v2.zip").unlink()
    raw = bytearray((tmp_path / "frames/v3.zip").read_bytes())
    raw[100:2000] = b"\0" * 1900  # JPEG members corrupted, zip directory intact
    (tmp_path / "frames/v3.zip").write_bytes(bytes(raw))
    ds = dataset(tmp_path, tables)
    with caplog.at_level(logging.WARNING):
        items = [ds[i] for i in (1, 2, 3, 1, 2, 3)]
    assert all(it.index == 0 and it.replaced >= 1 for it in items)
    for vid in ("v1", "v2", "v3"):
        assert sum(f"skipping {vid} " in r.getMessage() for r in caplog.records) == 1
    batch = collate(items[:3])
    assert batch.replaced == sum(it.replaced for it in items[:3]) >= 3 and batch.index.tolist() == [0, 0, 0]
    assert ds[0].replaced == 0


def test_too_many_failures_stop_with_a_clear_error(tmp_path, indexed):
    for f in (tmp_path / "flow").glob("*.zip"):
        f.unlink()
    with pytest.raises(RuntimeError, match="could not be read"):
        dataset(tmp_path, indexed)[0]


def test_configuration_errors_are_not_treated_as_bad_data(tmp_path, indexed):
    with pytest.raises(RuntimeError, match=r"flow pairs \(offset 2, step 2\), expected \(8, 2\)"):
        read_clip_frames(tmp_path / "frames/v0.zip", tmp_path / "flow/v0.zip", np.arange(3), offset=8, step=2)
    samples, frames, flows = indexed
    with pytest.raises(ValueError, match="rerun the screen stage"):
        dataset(tmp_path, (samples[samples["start"] < 9], frames, flows))


def test_device_and_worker_augmentation_give_the_same_kind_of_batch(tmp_path, indexed):
    gen = torch.Generator().manual_seed(0)
    for gpu_augment in (True, False):
        ds = dataset(tmp_path, indexed, gpu_augment=gpu_augment)
        raw = collate([ds[0], ds[1]])
        assert raw.prepared == (not gpu_augment)
        batch = prepare_batch(raw, "cpu", gen, ds.p)
        assert isinstance(batch, PretrainBatch) and batch.prepared and batch.index.tolist() == [0, 1]
        for f in METHOD_VIEWS["mscl"]:
            x = batch.views[f]
            assert x.shape == (2, 3, 4, 16, 16) and x.dtype == torch.float32, f
        lo = min((0 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD))
        hi = max((1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD))
        assert lo - 1e-4 <= batch.views["rgb_q"].min() and batch.views["rgb_q"].max() <= hi + 1e-4
        assert 0 <= batch.views["flow_q"].min() and batch.views["flow_k_rot"].max() <= 1


def test_loader_with_two_workers_repeats_an_epoch_exactly(tmp_path):
    rng = np.random.default_rng(0)
    videos = {f"v{i}": (rng.integers(0, 256, (13, H, W, 3), dtype=np.uint8),
                        rng.uniform(-5, 5, (6, H, W, 2)).astype(np.float32)) for i in range(5)}  # textured: crops differ
    ds = dataset(tmp_path, write_dataset(tmp_path, videos), workers=2)
    loader = make_loader(ds, ds.p)
    assert len(loader) == 2  # 5 videos, batches of 2, last one dropped

    def run(epoch):  # {video index: its query RGB clip} of one epoch
        batches = list(batches_from(loader, 2 * epoch, 2 * epoch + 2))
        assert all(isinstance(b, PretrainBatch) and b.views["rgb_q"].shape == (2, 3, 4, 16, 16) for b in batches)
        return {int(i): b.views["rgb_q"][n] for b in batches for n, i in enumerate(b.index)}, [b.index for b in batches]

    (first, order0), (second, _), (again, order2) = run(0), run(1), run(0)
    assert len(first) == 4 and all(torch.equal(a, b) for a, b in zip(order0, order2))
    assert all(torch.equal(first[i], again[i]) for i in first)
    # the workers persist across epochs and still see the new epoch: a video's views change
    assert all(not torch.equal(first[i], second[i]) for i in set(first) & set(second))
    assert set(first) & set(second)


def test_loader_needs_one_full_batch(tmp_path, indexed):
    with pytest.raises(ValueError, match="fewer than one batch of 4"):
        make_loader(dataset(tmp_path, indexed), dataclasses.replace(P, batch_size=4))
    with pytest.raises(ValueError, match="not divisible by 4 processes"):
        make_loader(dataset(tmp_path, indexed), P, world_size=4)


def test_device_augmentation_differs_between_ranks_and_repeats_per_rank(tmp_path, indexed):
    ds = dataset(tmp_path, indexed, gpu_augment=True)
    raw = collate([ds[0], ds[1]])

    def jitter(step, rank):
        return prepare_batch(raw, "cpu", augment_generator(ds.p.seed, step, rank), ds.p).views["rgb_q"]

    # two processes given the same raw items would still jitter them differently
    assert not torch.equal(jitter(5, 0), jitter(5, 1))
    assert not torch.equal(jitter(5, 0), jitter(6, 0))
    torch.testing.assert_close(jitter(5, 1), jitter(5, 1), rtol=0, atol=0)  # reproducible per (step, rank)


def test_video_cache_gives_the_same_items_and_keeps_to_its_budget(tmp_path, indexed):
    plain, cached = dataset(tmp_path, indexed, cache_mb=0), dataset(tmp_path, indexed, cache_mb=1)
    for epoch in range(3):  # later epochs read from memory
        plain.set_epoch(epoch), cached.set_epoch(epoch)
        for i in range(2):
            a, b = plain[i], cached[i]
            for f in METHOD_VIEWS["mscl"]:
                torch.testing.assert_close(a.views[f], b.views[f], rtol=0, atol=0)
    assert set(cached._cache.videos) == {0, 1} and not plain._cache.videos
    # a budget smaller than one video: the first one is kept, then nothing more
    tiny = dataset(tmp_path, indexed, cache_mb=0)
    tiny._cache.budget = 1
    tiny[0], tiny[1]
    assert list(tiny._cache.videos) == [0]
    video = tiny._cache.videos[0]
    assert len(video.rgb) == len(video.flow) == 10 and video.lengths.shape == (10,)
    assert video.rgb[0].shape == (H, W, 3) and video.flow[0].shape == (H, W, 2) and video.flow[0].dtype == np.uint8


def no_flow_dataset(root, tables, method: str, **overrides) -> PretrainDataset:
    """A moco/dclr dataset from the index and frames alone, given no flow pairing; the flow folder
    is removed first, so a read of flow would fail."""
    import shutil

    shutil.rmtree(root / "flow", ignore_errors=True)
    _, frames, _ = tables
    videos = pd.DataFrame({"video_id": frames["video_id"], "split": "train"})
    p = dataclasses.replace(P, method=method, **overrides)
    return PretrainDataset(None, frames, None, root / "frames", None, p=p, videos=videos)


def red_frames(clip: torch.Tensor) -> np.ndarray:
    """Stored frame index of each frame of an indexed video's clip (red level / 10)."""
    return np.round(clip[0].float().mean((-2, -1)).numpy() / 10).astype(int)


def test_moco_reads_only_frames_and_cuts_clips_at_its_own_frame_step(tmp_path, indexed):
    # frame step 3, not the flow's 2: position j is stored frame 3j; v0 has 21 frames (7 positions), v1 15 (5)
    ds = no_flow_dataset(tmp_path, indexed, "moco", cache_mb=0, moco_frame_step=3)
    assert len(ds) == 2 and ds.flows is None and ds.num_flows.tolist() == [7, 5]
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i, L in ((0, 7), (1, 5)):
            item = ds[i]
            assert tuple(item.views) == METHOD_VIEWS["moco"]
            for view in ("rgb_q", "rgb_k"):
                assert item.views[view].shape == (3, 4, 16, 16) and item.views[view].dtype == torch.uint8
                frames = red_frames(item.views[view])
                start = frames[0] // 3  # positions start + interval*k (mod L), interval 3
                assert frames.tolist() == (3 * ((start + 3 * np.arange(4)) % L)).tolist()


def test_dclr_cuts_two_different_clips_anywhere_at_its_own_length_and_stride(tmp_path, indexed):
    ds = no_flow_dataset(tmp_path, indexed, "dclr", cache_mb=0, dclr_clip_len=3, dclr_stride=2)
    assert ds.num_flows.tolist() == [21, 15]  # every stored frame is a position
    starts = {0: set(), 1: set()}
    for epoch in range(150):
        ds.set_epoch(epoch)
        for i, n in ((0, 21), (1, 15)):
            item = ds[i]
            assert tuple(item.views) == METHOD_VIEWS["dclr"]
            q, k = red_frames(item.views["rgb_q"]), red_frames(item.views["rgb_k"])
            assert item.views["rgb_q"].shape == (3, 3, 16, 16)
            for clip in (q, k):  # 3 frames 2 apart, inside the video: start in [0, n - 6]
                assert clip.tolist() == (clip[0] + 2 * np.arange(3)).tolist() and clip[0] <= n - 6
            assert q[0] != k[0]
            starts[i].add((int(q[0]), int(k[0])))
    # independent clips: every start occurs for either clip, the key before and far after the query
    assert {a for a, _ in starts[0]} == set(range(16)) and {b for _, b in starts[0]} == set(range(16))
    assert any(b < a for a, b in starts[0]) and any(b - a > 8 for a, b in starts[0])


def test_dclr_static_frames_are_one_frame_of_each_clips_span_at_the_same_place(tmp_path, indexed):
    ds = no_flow_dataset(tmp_path, indexed, "dclr", dclr_clip_len=3, dclr_stride=2)
    offsets = set()
    for epoch in range(30):
        ds.set_epoch(epoch)
        item = ds[0]
        red = {n: red_frames(x) for n, x in item.views.items()}
        assert item.views["static_q"].shape == item.views["static_k"].shape == (3, 1, 16, 16)
        u = red["static_q"][0] - red["rgb_q"][0]
        assert u == red["static_k"][0] - red["rgb_k"][0]  # the same place in both clips
        offsets.add(int(u))
    # any of the 3 x 2 frames the clip is cut from, not only the 3 it keeps (the release: any of its 32)
    assert offsets == set(range(6))


def still_video(tmp_path, frames: int = 12):
    """Tables of one video whose frames are all the same textured picture (nothing moves)."""
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    write_frames(tmp_path / "frames" / "still.zip", np.repeat(picture[None], frames, axis=0), quality=95, meta={})
    manifest = pd.DataFrame([{"video_id": "still", "frames": "still.zip", "num_frames": frames, "status": "ok"}])
    return manifest, pd.DataFrame({"video_id": ["still"], "split": "train"})


@pytest.mark.parametrize("method", ["dclr", "moco"])
def test_dynamic_view_of_a_still_video_is_zero_after_dclrs_whole_augmentation(tmp_path, method):
    """DCLR draws colour jitter once per clip, whatever color_consistent says for MSCL and MoCo:
    a per-frame draw (MoCo here) makes frames of a still scene differ, i.e. false motion."""
    manifest, videos = still_video(tmp_path)
    p = dataclasses.replace(P, method=method, color_consistent=False, dclr_clip_len=4, dclr_stride=2,
                            crop_scale=(0.2, 1.0), flip_p=0.5)
    ds = PretrainDataset(None, manifest, None, tmp_path / "frames", None, p=p, videos=videos)
    raw = collate([ds.item(0, np.random.default_rng(s), torch.Generator().manual_seed(s)) for s in range(16)])
    views = prepare_batch(raw, "cpu", torch.Generator().manual_seed(1), p).views
    changed = (views["rgb_q"] - raw.views["rgb_q"].float() / 255).abs().amax(dim=(1, 2, 3, 4)) > 0.1
    assert changed.sum() >= 8  # the colour augmentation did act on most clips
    for name in ("rgb_q", "rgb_k"):
        d = dynamic_view(views[name])
        if method == "dclr":
            assert d.abs().max() == 0, name
        else:
            assert d.abs().amax(dim=(1, 2, 3, 4)).max() > 0.1
    if method == "dclr":
        assert views["static_q"].shape[2] == 1


@pytest.mark.parametrize("negate_u, rescale", [(False, False), (True, False), (False, True)])
def test_normalising_and_rotating_after_the_crop_equals_doing_it_on_full_frames(negate_u, rescale):
    from mscl.data.pretrain import FlowClip, augment_view
    from mscl.flow.colorwheel import normalize_per_frame
    from mscl.io.flow_files import dequantize, max_lengths, quantize
    from mscl.transforms.flow_rotation import flow_rotation
    from mscl.transforms.spatial import crop_flip_rgb_flow

    rng = np.random.default_rng(0)
    q = quantize(rng.normal(0, 6, (8, 24, 32, 2)).astype(np.float32), 20.0)  # two 4-frame clips
    rgb = torch.from_numpy(rng.integers(0, 256, (3, 4, 24, 32), dtype=np.uint8))
    flow = torch.from_numpy(dequantize(q, 20.0)).permute(3, 0, 1, 2)  # (2, 8, H, W)
    p = dataclasses.replace(P, flip_negate_u=negate_u, rescale_flow=rescale)
    angle = 0.6 * np.pi
    for seed in range(6):
        # reference order: normalise and rotate the full frames, then crop and flip everything
        full = normalize_per_frame(flow.movedim(0, 1)).movedim(0, 1)
        both = torch.cat([full[:, :4], flow_rotation(full[:, 4:], angle)], dim=1)
        g = torch.Generator().manual_seed(seed)
        ref_rgb, ref = crop_flip_rgb_flow(rgb.float(), both, g, size=16, scale=(0.2, 1.0), negate_u=negate_u,
                                          rescale_flow=rescale)
        scale = torch.from_numpy(1.0 / (max_lengths(q, 20.0) + 1e-5))
        flows = list(q)  # the quantised frames as decoded, cropped before dequantising
        first, second = np.arange(4), np.arange(4, 8)
        clips = (FlowClip(flows, first, 20.0, scale[:4], None), FlowClip(flows, second, 20.0, scale[4:], angle))
        frames = list(rgb.permute(1, 2, 3, 0).numpy())  # (H, W, 3) each, as decoded
        out_rgb, f1, f2 = augment_view(frames, np.arange(4), clips, torch.Generator().manual_seed(seed), p)
        # OpenCV resizes uint8 with fixed-point weights: within one grey level of the float reference
        assert (out_rgb.float() - ref_rgb).abs().max() <= 1.0
        torch.testing.assert_close(torch.cat([f1, f2], dim=1), ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("flip_p", [0.0, 1.0])
def test_flip_probability_zero_never_mirrors_and_one_always_does(flip_p):
    from mscl.data.pretrain import crop_rgb

    # a left-to-right ramp: the first column is the darkest unless the clip is mirrored
    ramp = np.broadcast_to(np.arange(32, dtype=np.uint8)[None, :, None] * 8, (24, 32, 3)).copy()
    p = dataclasses.replace(P, flip_p=flip_p, crop_scale=(1.0, 1.0))
    for seed in range(8):
        clip, _, flip = crop_rgb([ramp] * 4, np.arange(4), torch.Generator().manual_seed(seed), p)
        assert bool(flip) == (flip_p == 1.0)
        left, right = clip[0, 0, 0, 0], clip[0, 0, 0, -1]
        assert (left > right) == (flip_p == 1.0)
