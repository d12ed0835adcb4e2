"""One GPU check in one call: TV-L1 flow and pretraining throughput, written to one JSON file.

1. TV-L1 with the torch backend (``mscl.flow.tvl1_torch``) on synthetic frame pairs at 340 x 256,
   paired as the flow stage pairs them (``flow.offset``, ``flow.step``): pairs/s eager and
   ``torch.compile``d (what the flow stage runs on CUDA), the end-point error (EPE) to OpenCV's
   ``DualTVL1OpticalFlow`` on reference pairs computed beforehand, and the error of both to the
   generator's exact flow on the moving object;
2. the three numbers of ``benchmarks/pretrain.py`` in clips/s: backbone-only ceiling, full MSCL
   step synthetic-fed, and loader-fed, with bf16 autocast, channels_last_3d and torch.compile.

Neither OpenCV, PyAV nor DVC is needed. The references live in ``benchmarks/reference/`` (one
file per frame size, made by ``make-reference`` on a machine with opencv-contrib); the frames
are rendered again from the synthetic generator and checked against a digest. Without cv2 the
loader-fed number (its containers hold JPEG frames) is skipped with the reason. The JSON is
rewritten after every part, so a run stopped early still returns what it measured; a part that
fails is recorded under ``skipped`` with its error and the others still run (a pretraining step
that fails to compile is measured once more without compiling, marked ``"compiled": false``).
``benchmarks/device.sh`` is the entry point on a bare machine (carried wheels, PYTHONPATH).

    bash benchmarks/device.sh                                 # GPU machine: writes $OUT/device.json
    bash benchmarks/device.sh --cpu --tiny --out device.json  # the same code path on CPU, in seconds
    python benchmarks/device.py make-reference                # OpenCV references for both sizes
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib
import json
import math
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from flow import run_torch  # noqa: E402  (the flow benchmark's warm-up and timing)
from pretrain import backbone_step, mscl_step, synthetic_batches, timed, write_dataset  # noqa: E402

from mscl.data.pretrain import PretrainDataset, make_loader  # noqa: E402
from mscl.data.sampler import batches_from  # noqa: E402
from mscl.flow.tvl1 import to_gray, tvl1_pairs_opencv  # noqa: E402
from mscl.flow.tvl1_torch import tvl1_pairs_torch  # noqa: E402
from mscl.params import FlowParams, PretrainParams, default, from_dict, load_section, to_dict  # noqa: E402
from mscl.synthetic import CLASSES, draw_scene, render_video, true_flow  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
SIZES = {"full": (340, 256), "tiny": (64, 48)}  # (W, H) of the frames that have a reference file
# One video per motion kind: translation (two directions), rotation, zoom.
REFERENCE_LABELS = {"full": ("right", "down", "rotate_cw", "zoom_in"), "tiny": ("right", "rotate_cw")}
SEED = 14
SPEED = 1.25  # object speed, px per frame (the index stage's default)
# Reference flow is stored as int16 steps of 1/QUANT px: 0.004 px at most, well under the
# torch-to-OpenCV agreement it checks (~0.01 px inside the image), and 10x smaller than float16.
QUANT = 128
MARGIN = 8  # border left out of the interior EPE: motion enters and leaves the image there
LOADER_OFFSET, LOADER_STEP = 8, 2  # flow pairing of the loader-fed dataset, as benchmarks/pretrain.py
# Seconds each part is expected to take on a bare H100/H200, mostly compiling (guesses to refine
# from the JSON's "seconds"): a part starts only if it should end within --budget.
NEEDS = {"flow.opencv": 10, "flow.eager": 30, "flow.compiled": 90,
         "pretrain.backbone": 60, "pretrain.mscl_synthetic": 150, "pretrain.mscl_loader": 45}
# The CPU check: every size flag's value under --tiny (flags given explicitly still win).
TINY = dict(size="tiny", flow_pairs=2, width=8, crop=32, batch=2, steps=2, warmup=1, workers=0,
            short_side=32, compile=False)


# --------------------------------------------------------------------------- frames and references


def reference_pairs(labels: tuple[str, ...], *, width: int, height: int, offset: int):
    """Frames 0 and ``offset`` of one synthetic video per label, with their exact flow.

    Returns:
        gray ``(2N, H, W)`` uint8 (pair n is frames 2n, 2n + 1), exact flow ``(N, H, W, 2)``
        float32 px and the object mask ``(N, H, W)`` bool where that flow is defined.
    """
    gray, flows, masks = [], [], []
    for n, name in enumerate(labels):
        rng = np.random.default_rng([SEED, n])
        scene = draw_scene(rng, CLASSES.index(name), height=height, width=width, num_frames=offset + 1, speed=SPEED)
        gray.append(to_gray(render_video(scene, rng)[[0, offset]]))
        flow, mask = true_flow(scene, 0, dt=offset)
        flows.append(flow)
        masks.append(mask)
    return np.concatenate(gray), np.stack(flows), np.stack(masks)


def timing_frames(pairs: int, *, width: int, height: int, offset: int, step: int):
    """``pairs`` frame pairs ``(i, i + offset)``, i every ``step`` frames, from as few videos as
    fit 32 pairs each -> (gray ``(T, H, W)`` uint8, list of index pairs)."""
    per_video = min(pairs, 32)
    frames = offset + step * (per_video - 1) + 1
    gray, index = [], []
    for v in range(math.ceil(pairs / per_video)):
        rng = np.random.default_rng([SEED, 1, v])
        scene = draw_scene(rng, v % len(CLASSES), height=height, width=width, num_frames=frames, speed=SPEED)
        index += [(v * frames + i * step, v * frames + i * step + offset) for i in range(per_video)]
        gray.append(to_gray(render_video(scene, rng)))
    return np.concatenate(gray), index[:pairs]


def pair_index(n: int) -> list[tuple[int, int]]:
    """Index pairs of ``n`` reference pairs in the gray stack of :func:`reference_pairs`."""
    return [(2 * i, 2 * i + 1) for i in range(n)]


def digest(gray: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(gray).tobytes()).hexdigest()[:16]


def reference_path(size: str) -> Path:
    W, H = SIZES[size]
    return REFERENCE_DIR / f"tvl1_{W}x{H}.npz"


def make_reference(params_path: Path) -> None:
    """Write OpenCV's flow of the reference pairs of every size, with the flow stage's params."""
    import cv2

    p = load_section(params_path, "flow")
    for size, (W, H) in SIZES.items():
        gray, _, _ = reference_pairs(REFERENCE_LABELS[size], width=W, height=H, offset=p.offset)
        flow = tvl1_pairs_opencv(gray, pair_index(len(gray) // 2), p)  # (N, H, W, 2)
        meta = {"params": to_dict(p), "opencv": cv2.__version__, "labels": REFERENCE_LABELS[size], "seed": SEED,
                "speed": SPEED, "quant": QUANT, "frames_digest": digest(gray)}
        path = reference_path(size)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, flow=np.round(flow * QUANT).astype(np.int16), meta=np.array(json.dumps(meta)))
        print(f"{path.relative_to(ROOT)}: {len(flow)} pairs of {W}x{H}, {path.stat().st_size / 1024:.0f} KiB")


def load_reference(size: str) -> tuple[dict, np.ndarray]:
    """(meta, OpenCV flow ``(N, H, W, 2)`` float32 px) of the reference file of ``size``."""
    with np.load(reference_path(size)) as z:
        meta = json.loads(str(z["meta"]))
        return meta, z["flow"].astype(np.float32) / meta["quant"]


def epe_stats(flow: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Mean, 95th percentile and interior mean of the EPE between flows ``(N, H, W, 2)``, px."""
    d = np.linalg.norm(flow - ref, axis=-1)  # (N, H, W)
    return {"epe_opencv_mean": float(d.mean()), "epe_opencv_p95": float(np.percentile(d, 95)),
            "epe_opencv_interior": float(d[:, MARGIN:-MARGIN, MARGIN:-MARGIN].mean())}


def object_epe(flow: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Mean EPE to the exact flow over the object's pixels (the only ones that move), px."""
    return float(np.linalg.norm(flow - truth, axis=-1)[mask].mean())


# --------------------------------------------------------------------------- the parts


class Report:
    """The JSON being built: numbers under dotted keys, skipped parts with reasons, seconds per part."""

    def __init__(self, path: Path, budget: float, head: dict):
        self.path, self.budget, self.t0 = path, budget, time.perf_counter()
        self.data = {**head, "flow": {}, "pretrain": {}, "skipped": {}, "seconds": {}}

    def skip(self, key: str, reason: str) -> None:
        self.data["skipped"][key] = reason
        self.write()

    def part(self, key: str, fn: Callable, *args, **kwargs):
        """``fn(*args, **kwargs)`` stored under ``key``; None (and a reason) if it fails, or if it
        would end past the budget (by what ``NEEDS`` expects of it)."""
        used, needs = time.perf_counter() - self.t0, NEEDS.get(key, 0)
        if used + needs > self.budget:
            return self.skip(key, f"time budget: {used:.0f} s used, about {needs:.0f} s needed, "
                                  f"{self.budget:.0f} s in all")
        t = time.perf_counter()
        try:
            out = fn(*args, **kwargs)
        except Exception as e:  # keep the other parts' numbers: one run of the machine is all we get
            traceback.print_exc()
            return self.skip(key, f"error: {type(e).__name__}: {e}")
        self.data["seconds"][key] = time.perf_counter() - t
        head, _, leaf = key.rpartition(".")
        self.data.setdefault(head, {})[leaf] = out
        self.write()
        return out

    def guard(self, key: str, fn: Callable, *args, **kwargs) -> None:
        """Run ``fn``, which stores its own parts; if it fails, what it left undone is skipped."""
        try:
            fn(self, *args, **kwargs)
        except Exception as e:
            traceback.print_exc()
            self.skip(key, f"error: {type(e).__name__}: {e}")

    def write(self) -> None:
        self.data["seconds"]["total"] = time.perf_counter() - self.t0
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(self.path)


def flow_run(gray: np.ndarray, pairs: list, ref: tuple | None, p: FlowParams, device: str, compile: bool) -> dict:
    """Pairs/s of the torch backend on ``pairs`` (after its warm-ups) and its errors on ``ref``
    = (gray, OpenCV flow, exact flow, object mask) of the reference pairs."""
    t = time.perf_counter()
    _, (wall, _) = run_torch(gray, pairs, p, device, compile)
    out = {"pairs_per_s": len(pairs) / wall, "warmup_s": time.perf_counter() - t - wall}
    if ref is not None:
        ref_gray, opencv, truth, mask = ref
        flow = tvl1_pairs_torch(ref_gray, pair_index(len(opencv)), p, device, compile=compile)
        out.update(epe_stats(flow, opencv), epe_true_object=object_epe(flow, truth, mask))
    return out


def opencv_here(ref: tuple, p: FlowParams) -> dict:
    """OpenCV of this machine on the reference pairs: pairs/s on one thread (the flow stage runs
    one per process) and EPE to the stored flow, which another OpenCV build may have made."""
    import cv2

    cv2.setNumThreads(1)
    ref_gray, opencv, _, _ = ref
    t = time.perf_counter()
    flow = tvl1_pairs_opencv(ref_gray, pair_index(len(opencv)), p)
    return {"pairs_per_s": len(opencv) / (time.perf_counter() - t), **epe_stats(flow, opencv)}


def flow_parts(report: Report, *, size: str, pairs: int, batch: int, device: str, compile: bool) -> None:
    """Part 1: TV-L1 eager (and compiled), with the reference's params when there is one."""
    ref, W, H = None, *SIZES[size]
    if reference_path(size).exists():
        meta, opencv = load_reference(size)
        # exactly what OpenCV was given; a field added to FlowParams after the reference was made (e.g.
        # compose, which TV-L1 itself never reads) takes the repository's value
        p = from_dict(FlowParams, {**to_dict(default(FlowParams)), **meta["params"]}, "flow")
        ref_gray, truth, mask = reference_pairs(tuple(meta["labels"]), width=W, height=H, offset=p.offset)
        ref = ref_gray, opencv, truth, mask
        # frames_identical: this numpy and generator still render the frames OpenCV was given
        report.part("flow.reference", lambda: {
            "pairs": len(opencv), "opencv": meta["opencv"], "epe_true_object": object_epe(opencv, truth, mask),
            "frames_identical": digest(ref_gray) == meta["frames_digest"]})
    else:
        p = load_section(ROOT / "params.yaml", "flow")
        report.skip("flow.reference", f"no {reference_path(size).relative_to(ROOT)}: run make-reference")
    p = dataclasses.replace(p, batch_pairs=batch or p.batch_pairs)
    gray, index = timing_frames(pairs, width=W, height=H, offset=p.offset, step=p.step)
    report.data["settings"]["flow"] = {"width": W, "height": H, "pairs": len(index), "batch_pairs": p.batch_pairs,
                                       "offset": p.offset, "step": p.step}
    if ref is None or version("cv2") is None:
        report.skip("flow.opencv", "no reference" if ref is None else "cv2 not importable")
    else:
        report.part("flow.opencv", opencv_here, ref, p)
    report.part("flow.eager", flow_run, gray, index, ref, p, device, False)
    if compile:
        report.part("flow.compiled", flow_run, gray, index, ref, p, device, True)
    else:
        report.skip("flow.compiled", "compile off")


class Feed:
    """An iterator over whichever batch source is set: one compiled MSCL step serves both feeds."""

    def __init__(self, source):
        self.source = source

    def __next__(self):
        return next(self.source)


def clips_per_s(step, p: PretrainParams, steps: int, warmup: int, device: torch.device) -> dict:
    t = time.perf_counter()
    seconds = timed(step, steps, warmup, device)  # per step
    return {"clips_per_s": p.batch_size / seconds, "warmup_s": time.perf_counter() - t - steps * seconds}


def loader_fed(step, feed: Feed, p: PretrainParams, *, steps: int, warmup: int, device: torch.device,
               short_side: int) -> dict:
    """The MSCL step fed by workers reading frame and flow containers of synthetic videos."""
    with tempfile.TemporaryDirectory() as tmp:
        # Exact flow, not TV-L1: only reading matters. Fewer videos than benchmarks/pretrain.py
        # (2 batches, not 4) to save writing time: with the cache off every item reads its files.
        samples, frames, flow, _ = write_dataset(Path(tmp), videos=max(2 * p.batch_size, 4), frames=64,
                                                 height=short_side, width=round(short_side * 5 / 4),
                                                 offset=LOADER_OFFSET, step=LOADER_STEP)
        ds = PretrainDataset(samples, frames, flow, tmp, tmp, p=p, offset=LOADER_OFFSET, step=LOADER_STEP)
        loader = make_loader(ds, p, pin_memory=device.type == "cuda")
        feed.source = batches_from(loader, 0, 10**9)
        try:
            return clips_per_s(step, p, steps, warmup, device)
        finally:
            feed.source = None  # stop the workers before their files go
            del loader


def step_part(report: Report, key: str, build: Callable, p: PretrainParams, **n):
    """clips/s of the train step ``build(p)`` under ``key``; if compiling fails, once more without
    (the compile error kept under ``<key>.compiled``) -> (result, step) or (None, None)."""
    made = []

    def run(q: PretrainParams) -> dict:
        made.append(build(q))
        return {**clips_per_s(made[-1], q, **n), "compiled": q.compile}

    out = report.part(key, run, p)
    if out is None and p.compile and report.data["skipped"].get(key, "").startswith("error"):
        report.data["skipped"][f"{key}.compiled"] = report.data["skipped"].pop(key)
        out = report.part(key, run, dataclasses.replace(p, compile=False))
    return out, made[-1] if out else None


def pretrain_parts(report: Report, p: PretrainParams, *, steps: int, warmup: int, short_side: int,
                   opencv: str | None) -> None:
    """Part 2: backbone ceiling, MSCL synthetic-fed, MSCL loader-fed (the same compiled step)."""
    device = torch.device(p.device)
    n = dict(steps=steps, warmup=warmup, device=device)
    ceiling, _ = step_part(report, "pretrain.backbone", lambda q: backbone_step(q, device), p, **n)
    feed = Feed(synthetic_batches(p))
    synthetic, step = step_part(report, "pretrain.mscl_synthetic", lambda q: mscl_step(q, device, feed), p, **n)
    if synthetic and ceiling:
        synthetic["of_backbone"] = synthetic["clips_per_s"] / ceiling["clips_per_s"]
    if synthetic is None:
        return report.skip("pretrain.mscl_loader", "needs the MSCL step, which did not run")
    if opencv is None:
        return report.skip("pretrain.mscl_loader", "cv2 not importable: frame containers are JPEG written and read "
                            "with OpenCV; carry opencv-contrib-python-headless wheels in .whl/ (see device.sh)")
    loader = report.part("pretrain.mscl_loader", loader_fed, step, feed, p, short_side=short_side, **n)
    if loader:
        loader["of_synthetic"] = loader["clips_per_s"] / synthetic["clips_per_s"]
    report.write()


# --------------------------------------------------------------------------- main


def version(module: str) -> str | None:
    """``module.__version__``, or None where it is not importable (cv2 on a bare GPU machine)."""
    try:
        return importlib.import_module(module).__version__
    except ImportError:
        return None


def machine(device: str) -> dict:
    name = torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine()
    return {"name": name, "type": device, "torch": torch.__version__, "cuda": torch.version.cuda,
            "triton": version("triton"), "opencv": version("cv2"), "python": platform.python_version(),
            "numpy": np.__version__, "cpus": os.cpu_count()}


def summary(data: dict) -> str:
    d = data["device"]
    lines = [f"{d['name']} ({d['type']}), torch {d['torch']}, OpenCV {d['opencv']}"]
    for head in ("flow", "pretrain"):
        for name, numbers in data[head].items():
            values = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in numbers.items())
            lines.append(f"{head}.{name}: {values}")
    lines += [f"skipped {k}: {v}" for k, v in data["skipped"].items()]
    return "\n".join(lines + [f"{data['seconds']['total']:.0f} s in all"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", nargs="?", default="run", choices=["run", "make-reference"])
    out = os.environ.get("OUT")
    ap.add_argument("--out", type=Path, default=Path(out) / "device.json" if out else None,
                    help="the JSON file (default: $OUT/device.json)")
    ap.add_argument("--cpu", dest="device", action="store_const", const="cpu", default="cuda",
                    help="run on CPU (with --tiny: the quick check of the code path)")
    ap.add_argument("--tiny", action="store_true", help="the CPU check's sizes (TINY); explicit flags still win")
    ap.add_argument("--size", default="full", choices=list(SIZES), help="flow frames: full 340x256, tiny 64x48")
    ap.add_argument("--flow-pairs", type=int, default=256, help="frame pairs timed per TV-L1 run")
    ap.add_argument("--flow-batch", type=int, default=0, help="pairs per TV-L1 batch (0: flow.batch_pairs)")
    ap.add_argument("--width", type=int, default=64, help="R3D-18 width (and the flow encoder's)")
    ap.add_argument("--crop", type=int, default=112)
    ap.add_argument("--batch", type=int, default=32, help="clips per step")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps (they include compiling)")
    ap.add_argument("--workers", type=int, default=min(12, max((os.cpu_count() or 1) - 2, 1)), help="loader processes")
    ap.add_argument("--short-side", type=int, default=128, help="stored frames of the loader-fed dataset")
    ap.add_argument("--no-compile", dest="compile", action="store_false")
    ap.add_argument("--budget", type=float, default=450, help="seconds the whole run should stay within: a part "
                    "that would end later is skipped (one call of the GPU machine runs at most 8 minutes)")
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml", help="make-reference: its flow section")
    if ap.parse_known_args()[0].tiny:
        ap.set_defaults(**TINY)
    args = ap.parse_args()
    if args.mode == "make-reference":
        return make_reference(args.params)
    if args.out is None:
        ap.error("give --out or set $OUT")
    args.out.parent.mkdir(parents=True, exist_ok=True)

    p = default(PretrainParams, width=args.width, flow_width=args.width, crop_size=args.crop, batch_size=args.batch,
                       workers=args.workers, compile=args.compile, queue_size=args.batch * 64, device=args.device,
                       interval=8)
    settings = {"tiny": args.tiny, "compile": args.compile, "budget_s": args.budget, "pretrain": {
        "width": p.width, "crop": p.crop_size, "batch": p.batch_size, "clip_len": p.clip_len, "steps": args.steps,
        "warmup": args.warmup, "workers": p.workers, "bf16": p.bf16 and args.device == "cuda",
        "channels_last_3d": True, "short_side": args.short_side}}
    report = Report(args.out, args.budget, {"device": machine(args.device), "settings": settings})
    if args.device == "cuda" and not torch.cuda.is_available():
        report.skip("all", "CUDA is not available (pass --cpu, with --tiny for a quick check)")
        sys.exit(summary(report.data))
    report.guard("flow", flow_parts, size=args.size, pairs=args.flow_pairs, batch=args.flow_batch,
                 device=args.device, compile=args.compile)
    report.guard("pretrain", pretrain_parts, p, steps=args.steps, warmup=args.warmup, short_side=args.short_side,
                 opencv=report.data["device"]["opencv"])
    print(summary(report.data))


if __name__ == "__main__":
    main()
