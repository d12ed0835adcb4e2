"""Stage ``pretrain``: self-supervised pretraining (MSCL, the MoCo-RGB baseline or DCLR).

Data, model, resume, the loop, and the published outputs. With ``pretrain.gpus > 1`` the stage
reruns itself under torchrun, one process per GPU; on other nodes of a multi-node run, start the
same command with ``--node-rank K``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from mscl import dist
from mscl.data.pretrain import PretrainDataset, make_loader
from mscl.data.sampler import batches_from
from mscl.io.atomic import write_json
from mscl.io.checkpoint import save_module
from mscl.io.frames import read_meta
from mscl.io.tables import USABLE, read_csv, read_videos
from mscl.models.sync_bn import convert_batchnorm
from mscl.params import PretrainParams, stage_params, to_dict
from mscl.pipeline.cli import stage_parser
from mscl.pretrain.knn import FlowKnnMonitor, KnnMonitor
from mscl.pretrain.monitor import TrainLog
from mscl.pretrain.train import build_model, build_optimizer, build_schedules, prepare_model, resume, run_fingerprint, train


@dataclasses.dataclass(frozen=True)
class PretrainPaths:
    """Inputs and outputs of the stage (its command-line paths, :data:`PATHS`), and the run's
    working folder."""

    videos_csv: str
    frames_dir: str
    flow_dir: str
    samples_csv: str
    monitor_videos_csv: str
    monitor_frames_dir: str
    model_dir: str
    live_dir: str
    metrics: str

    @property
    def work_dir(self) -> Path:
        """``<model_dir>.partial``: the checkpoint and curves of a run until it completes. Not a
        DVC output (a missing one never makes DVC rerun anything): a killed run resumes from it,
        a completed run publishes from it and removes it, so a forced rerun starts afresh."""
        return Path(str(self.model_dir).rstrip("/\\") + ".partial")

    @property
    def checkpoint(self) -> Path:
        return self.work_dir / "checkpoint.pt"

    @property
    def work_live(self) -> Path:
        return self.work_dir / "live"


def flow_pairing(flow_dir: str | Path, manifest: pd.DataFrame) -> tuple[int, int]:
    """(offset, step) of the flow pairs, as the flow stage stored them in its containers' meta
    (every container is checked again when it is read)."""
    usable = manifest[manifest["status"].isin(USABLE)]
    for rel in usable["flow"]:
        meta = read_meta(Path(flow_dir) / rel)
        if meta is not None and "offset" in meta and "step" in meta:
            return int(meta["offset"]), int(meta["step"])
    raise RuntimeError(f"{flow_dir}: no readable flow container says how its pairs were made; rerun the flow stage")


def build_dataset(p: PretrainParams, paths: PretrainPaths) -> PretrainDataset:
    """Train-split views from the screened samples, frames and flow (MSCL, with the flow's own
    pairing), or from the index and the frames alone (methods without flow: the flow and samples
    files are not opened; clips follow the method's own geometry, ``pretrain`` params only)."""
    frames = read_csv(Path(paths.frames_dir) / "manifest.csv", ["video_id", "frames", "num_frames", "status"])
    videos = read_videos(paths.videos_csv)  # also fails early on a malformed index
    if not p.needs_flow:
        return PretrainDataset(None, frames, None, paths.frames_dir, None, p=p, videos=videos)
    samples = read_csv(paths.samples_csv, ["video_id", "start", "kept"])
    flow = read_csv(Path(paths.flow_dir) / "manifest.csv", ["video_id", "flow", "num_flows", "status"])
    offset, step = flow_pairing(paths.flow_dir, flow)
    return PretrainDataset(samples, frames, flow, paths.frames_dir, paths.flow_dir, p=p, offset=offset, step=step)


def knn_monitors(p: PretrainParams, paths: PretrainPaths, model: torch.nn.Module) -> dict:
    """{logged name: check of the model}: kNN top-1 of the RGB encoder on the monitor set's val
    split (every method) and, with flow, when the monitor set is the pretraining set and its val
    videos got flow (``flow.splits``), kNN top-1 of the flow encoder on that split."""
    rgb = KnnMonitor(paths.monitor_videos_csv, paths.monitor_frames_dir, num_frames=p.frames_per_clip,
                     crop_size=p.crop_size, k=p.knn_k, max_videos=p.knn_videos)
    monitors = {"knn_top1": lambda model, device: rgb(model.backbone, device)}
    if getattr(model, "flow", None) is not None and p.monitor == p.data and _val_has_flow(paths):
        flow = FlowKnnMonitor(paths.videos_csv, paths.flow_dir, clip_len=p.clip_len, interval=p.interval,
                              crop_size=p.crop_size, k=p.knn_k, max_videos=p.knn_videos)
        monitors["knn_flow_top1"] = lambda model, device: flow(model.flow.encoder_q, device)
    return monitors


def _val_has_flow(paths: PretrainPaths) -> bool:
    """Whether the flow stage computed flow of any val video of the pretraining set."""
    manifest = read_csv(Path(paths.flow_dir) / "manifest.csv", ["video_id", "status"])
    val = read_videos(paths.videos_csv).query("split == 'val'")["video_id"]
    return bool(manifest[manifest["status"].isin(USABLE)]["video_id"].isin(val).any())


def data_signature(paths: PretrainPaths, p: PretrainParams) -> str:
    """Hash of the tables the run reads and of the library's source: a checkpoint written from
    other data or by other code is not resumed (DVC reruns the stage when either changes)."""
    h = hashlib.sha1()
    sources = sorted(Path(__file__).parents[1].rglob("*.py"))
    tables = [paths.videos_csv, Path(paths.frames_dir) / "manifest.csv"]
    if p.needs_flow:
        tables += [paths.samples_csv, Path(paths.flow_dir) / "manifest.csv"]
    for f in (*tables, *sources):
        h.update(Path(f).read_bytes())
    return h.hexdigest()


def pretrain(p: PretrainParams, paths: PretrainPaths) -> dict:
    """Pretrain from the stage's inputs (resuming the checkpoint of an unfinished run of the same
    params, data and code); then write the encoder, the curves and the metrics.

    The previous run's outputs stay untouched until this run has trained to the end: the curves
    grow in the working folder (:attr:`PretrainPaths.work_dir`) and replace ``live_dir`` at the
    end, the encoder file is replaced atomically, and only then is the working folder removed.

    Returns:
        metrics: the last logged loss terms and top-1s, kNN top-1, lr, clips/s, replaced samples.
    """
    start_time = time.perf_counter()
    device = dist.init_from_env(dist.resolve_device(p.device).type)
    torch.manual_seed(p.seed)  # identical initial weights and queues in every process
    dataset = build_dataset(p, paths)
    loader = make_loader(dataset, p, rank=dist.rank(), world_size=dist.world_size(), pin_memory=device.type == "cuda")
    sched = build_schedules(p, loader.batch_sampler.batches_per_epoch)
    model = build_model(p)
    if p.sync_bn or p.bn_splits > 1:
        model = convert_batchnorm(model, 0 if p.sync_bn else p.bn_splits)
    elif dist.world_size() == 1 and dist.is_main():
        print("pretrain: warning: one process with pretrain.bn_splits 1: shuffle-BN permutes keys inside the one "
              "BatchNorm group, so the batch statistics can tell the positive; set bn_splits > 1 (docs/mscl.md §8.17)",
              file=sys.stderr)
    model.to(device)
    optimizer = build_optimizer(model, p)
    fingerprint = run_fingerprint(p, data_signature(paths, p))
    start, last = resume(paths.checkpoint, model, optimizer, fingerprint)
    log = TrainLog(paths.work_live, total=sched.total, start=start, log_every=p.log_every, last=last)
    batches = batches_from(loader, start, sched.total)
    monitors = knn_monitors(p, paths, model) if p.knn_every and dist.is_main() else {}
    try:
        last = train(prepare_model(model, p, device), model, batches, optimizer, sched, start=start, p=p, device=device,
                     log=log, checkpoint=paths.checkpoint, fingerprint=fingerprint, monitors=monitors)
    finally:
        log.close()
    # the final lr is the schedule's end; throughput changes every run: printed and in the curves, not compared
    metrics = {k: round(v, 6) for k, v in last.items() if k not in ("step", "lr", "clips_per_s")}
    if dist.is_main():
        sidecar = {"backbone": p.method_backbone, "width": p.width, "method": p.method, "params": to_dict(p)}
        save_module(Path(paths.model_dir) / "encoder.pt", model.backbone, sidecar)
        publish(paths, metrics)
        print(f"pretrain ({p.method}): {sched.total} steps on {len(dataset)} videos (resumed from step {start}) in "
              f"{time.perf_counter() - start_time:.0f} s, loss {metrics['loss']:.4f}, {last['clips_per_s']:.1f} clips/s")
    dist.shutdown()
    return metrics


def publish(paths: PretrainPaths, metrics: dict) -> None:
    """Replace the curves and metrics with this run's, then remove the working folder. Each step
    can be repeated: a run killed in between resumes its final checkpoint and publishes again."""
    live = Path(paths.live_dir)
    shutil.rmtree(live, ignore_errors=True)
    shutil.copytree(paths.work_live, live)
    write_json(paths.metrics, metrics)
    shutil.rmtree(paths.work_dir)


PATHS = {
    "videos_csv": "input: the video index of the pretraining set (pretrain.data)",
    "frames_dir": "input: its frame containers + manifest.csv",
    "flow_dir": "input: its flow containers + manifest.csv (read by MSCL only)",
    "samples_csv": "input: its MDS samples (read by MSCL only)",
    "monitor_videos_csv": "input: the video index of the kNN monitor's evaluation set (pretrain.monitor)",
    "monitor_frames_dir": "input: its frame containers + manifest.csv",
    "model_dir": "output: encoder.pt + json (an unfinished run works in <model_dir>.partial)",
    "live_dir": "output: dvclive curves",
    "metrics": "output: metrics json",
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = stage_parser(__doc__, PATHS)
    ap.add_argument("--node-rank", type=int, default=None, help="this node's rank in a multi-node run (overrides params)")
    args = ap.parse_args(argv)
    p = stage_params(args.params, "pretrain")
    if p.gpus * p.nnodes > 1 and not dist.launched_by_torchrun():
        node_rank = p.node_rank if args.node_rank is None else args.node_rank
        cmd = dist.torchrun_command(["-m", "mscl.pipeline.pretrain", *argv],
                                    nproc=p.gpus, nnodes=p.nnodes, node_rank=node_rank, master_addr=p.master_addr,
                                    master_port=p.master_port)
        sys.exit(subprocess.run(cmd).returncode)
    paths = PretrainPaths(**{name: getattr(args, name) for name in PATHS})
    pretrain(p, paths)


if __name__ == "__main__":
    main()
