"""Stage ``screen``: Motion Differential Sampling, the clip starts pretraining draws from.

Every video of the index whose flow is usable is screened (:func:`mscl.sampling.screening.screen_video`);
the result is a samples table with one row per candidate start, in flow-index units.

A video whose clip scores are all equal (a static shot) keeps no start. It stays in the table
(every row ``kept = False``) and in pretraining, where the samplers fall back as the reference
does: the query clip starts at 0 and the key clip at 0 (``mscl.sampling.clips``). The metrics
count such videos so that a dataset full of them is noticed.
"""
from __future__ import annotations

import dataclasses
import io
import logging
import shutil
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from mscl.dist import resolve_device
from mscl.io.atomic import write_bytes, write_json
from mscl.io.tables import USABLE, read_csv, read_videos, write_csv
from mscl.params import ClusterParams, ScreenParams, stage_params
from mscl.pipeline.cli import stage_parser
from mscl.pipeline.cluster import LOCAL, map_videos, start
from mscl.sampling.screening import screen_video

SAMPLE_COLUMNS = ["video_id", "split", "label", "start", "score", "kept"]
# what a missing, truncated or corrupt container raises while it is read
READ_ERRORS = (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile)

log = logging.getLogger(__name__)


def _video_rows(v, c: np.ndarray, kept: np.ndarray) -> pd.DataFrame:
    mask = np.zeros(len(c), dtype=bool)
    mask[kept] = True
    return pd.DataFrame({"video_id": v.video_id, "split": v.split, "label": int(v.label),
                         "start": np.arange(len(c)), "score": c, "kept": mask})


@dataclasses.dataclass(frozen=True)
class ScreenJob:
    """One video to screen: its flow container and the params."""

    video_id: str
    flow: str
    params: ScreenParams


def screen_one(job: ScreenJob) -> dict:
    """Scores and kept starts of one video, or why its flow cannot be read (never raises for that).

    Returns:
        ``{"video_id", "scores": c, "kept": kept}`` or ``{"video_id", "error": reason}``.
    """
    try:
        c, kept = screen_video(job.flow, job.params, resolve_device(job.params.device))
    except READ_ERRORS as e:
        return {"video_id": job.video_id, "error": f"{type(e).__name__}: {e}"}
    return {"video_id": job.video_id, "scores": c, "kept": kept}


def screen_videos(
    videos: pd.DataFrame, flow_manifest: pd.DataFrame, flow_dir: str | Path, p: ScreenParams,
    cluster: ClusterParams = LOCAL,
) -> tuple[pd.DataFrame, dict]:
    """Screen every video of the index whose flow is usable, on the executor ``cluster`` names
    (locally in this process, on ``screen.device``; on Ray a CPU task per video).

    Args:
        videos: the video index (video_id, label, label_name, split).
        flow_manifest: the flow stage's manifest (video_id, flow, num_flows, status).
        flow_dir: folder the manifest's ``flow`` paths are relative to.
    Returns:
        samples (``SAMPLE_COLUMNS``, one row per candidate start, videos in index order) and the
        metrics of :func:`screen_metrics`. Videos without usable flow, and containers that
        cannot be read (named in the log), get no rows and are counted.
    """
    start = time.perf_counter()
    usable = flow_manifest[flow_manifest["status"].isin(USABLE) & (flow_manifest["num_flows"] > 0)]
    todo = videos.merge(usable[["video_id", "flow"]], on="video_id")
    jobs = [ScreenJob(v.video_id, str(Path(flow_dir) / v.flow), p) for v in todo.itertuples()]
    if cluster.executor == "local":  # one process: the scoring is light and may use the GPU
        results = map(screen_one, jobs)
    else:
        results = map_videos(screen_one, jobs, cluster=cluster, workers=1, desc="screen", inputs=("flow",),
                             failed=lambda job, why: {"video_id": job.video_id, "error": why})
    done = {r["video_id"]: r for r in results}
    tables, unreadable = [], []
    for v in todo.itertuples():
        r = done[v.video_id]
        if "error" in r:
            log.warning("screen: cannot read the flow of %s (%s); skipped", v.video_id, r["error"])
            unreadable.append(v.video_id)
        else:
            tables.append(_video_rows(v, r["scores"], r["kept"]))
    samples = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=SAMPLE_COLUMNS)
    metrics = screen_metrics(samples, videos, skipped=len(videos) - len(todo), unreadable=unreadable)
    metrics["seconds"] = round(time.perf_counter() - start, 2)
    return samples, metrics


def screen_metrics(samples: pd.DataFrame, videos: pd.DataFrame, *, skipped: int, unreadable: list[str]) -> dict:
    """Counts for ``logs/screen.json``.

    Returns:
        videos (screened), skipped (no usable flow), unreadable, candidates, kept, kept_fraction,
        videos_without_kept (static videos, see the module docstring) and kept_per_class
        ({label_name: kept starts}, every class of the index listed).
    """
    per_video = samples.groupby("video_id", sort=False)["kept"].sum()
    names = videos.drop_duplicates("label").set_index("label")["label_name"]
    per_class = samples[samples["kept"].astype(bool)].groupby("label").size()
    n, kept = len(samples), int(samples["kept"].sum())
    return {
        "videos": int(len(per_video)),
        "skipped": int(skipped),
        "unreadable": len(unreadable),
        "candidates": n,
        "kept": kept,
        "kept_fraction": round(kept / n, 4) if n else 0.0,
        "videos_without_kept": int((per_video == 0).sum()),
        "kept_per_class": {str(names[lab]): int(per_class.get(lab, 0)) for lab in sorted(names.index)},
    }


# --------------------------------------------------------------------------- picture


def plot_screen_scores(samples: pd.DataFrame, videos: pd.DataFrame, path: str | Path, *, examples: int = 3) -> None:
    """Picture of what MDS chose, written atomically as PNG.

    Left: histogram of clip scores, kept vs rejected. Middle: per class, every candidate's
    score (dots, kept in colour) over a box of the kept ones. Right: the scores along a few
    videos, kept starts marked, with each video's median (the MDS threshold).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.5), layout="constrained")
    ax_hist, ax_class, ax_video = fig.subplots(1, 3)
    kept = samples["kept"].astype(bool)
    scores = samples["score"].to_numpy(float)
    bins = np.linspace(scores.min(), scores.max(), 40) if len(scores) and scores.max() > scores.min() else 10
    ax_hist.hist([scores[~kept], scores[kept]], bins=bins, label=["rejected", "kept"],
                 color=["0.6", "tab:red"], stacked=True)
    ax_hist.set(xlabel="clip score", ylabel="candidate starts", title="MDS: kept vs rejected")
    ax_hist.legend()
    _class_strips(ax_class, samples, videos)
    _example_curves(ax_video, samples, examples)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    write_bytes(path, buf.getvalue())


def _class_strips(ax, samples: pd.DataFrame, videos: pd.DataFrame) -> None:
    names = videos.drop_duplicates("label").set_index("label")["label_name"].sort_index()
    jitter = np.random.default_rng(0)  # fixed: the picture is a stage output and must not change
    for x, lab in enumerate(names.index):
        rows = samples[samples["label"] == lab]
        k = rows["kept"].astype(bool).to_numpy()
        xs = x + jitter.uniform(-0.3, 0.3, len(rows))
        ax.scatter(xs[~k], rows["score"][~k], s=4, color="0.6", alpha=0.5)
        ax.scatter(xs[k], rows["score"][k], s=4, color="tab:red", alpha=0.5)
        if k.any():
            ax.boxplot([rows["score"][k]], positions=[x], widths=0.6, showfliers=False)
    ax.set_xticks(range(len(names)), [str(n) for n in names], rotation=45, ha="right")
    ax.set(ylabel="clip score", title="per class (red = kept)")


def _example_curves(ax, samples: pd.DataFrame, examples: int) -> None:
    ids = samples["video_id"].unique()
    picks = ids[np.linspace(0, len(ids) - 1, min(examples, len(ids))).round().astype(int)] if len(ids) else []
    for vid in picks:
        rows = samples[samples["video_id"] == vid]
        line = ax.plot(rows["start"], rows["score"], lw=1, label=vid)[0]
        k = rows["kept"].astype(bool)
        ax.scatter(rows["start"][k], rows["score"][k], s=12, color=line.get_color())
        ax.axhline(rows["score"].median(), color=line.get_color(), ls=":", lw=1)
    ax.set(xlabel="clip start (flow index)", ylabel="clip score", title="along videos (dots = kept, dotted = median)")
    if len(picks):
        ax.legend(fontsize=7)


PATHS = {
    "videos_csv": "input: the video index",
    "flow_dir": "input: flow containers and their manifest.csv",
    "samples_csv": "output: one row per candidate clip start",
    "pictures_dir": "output: picture of kept vs rejected clip scores",
    "log": "output: the run's log (counts, statuses, timings; json)",
}


def main(argv: list[str] | None = None) -> None:
    args = stage_parser(__doc__, PATHS).parse_args(argv)
    p, cluster = stage_params(args.params, "screen", "cluster")
    shutil.rmtree(args.pictures_dir, ignore_errors=True)
    Path(args.pictures_dir).mkdir(parents=True)
    videos = read_videos(args.videos_csv)
    flow = read_csv(Path(args.flow_dir) / "manifest.csv", ["video_id", "flow", "num_flows", "status"])
    if flow.empty:  # the flow stage computed nothing: the pretraining method reads no flow
        write_csv(pd.DataFrame(columns=SAMPLE_COLUMNS), args.samples_csv)
        write_json(args.log, {"videos": 0})
        print("screen: no flow to screen (the pretraining method draws from every clip start)")
        return
    start(cluster, "screen")
    samples, metrics = screen_videos(videos, flow, args.flow_dir, p, cluster)
    write_csv(samples, args.samples_csv)
    if p.pictures and len(samples):
        plot_screen_scores(samples, videos, Path(args.pictures_dir) / "scores.png")
    write_json(args.log, metrics)
    print(f"screen: {metrics['videos']} videos, kept {metrics['kept']}/{metrics['candidates']} starts "
          f"({metrics['kept_fraction']:.0%}), {metrics['videos_without_kept']} without a kept start, "
          f"{metrics['skipped']} skipped, {metrics['unreadable']} unreadable")
    if not metrics["videos"]:
        sys.exit("screen: no video could be screened; see the flow manifest and the log")
