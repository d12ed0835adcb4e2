"""Stage ``flow``: TV-L1 optical flow of every video, quantised, plus a few flow pictures.

Only MSCL reads flow: with another ``pretrain.method`` the stage computes nothing and writes an
empty manifest, so pretraining does not wait for TV-L1. Containers of an earlier run stay in the
folder (unlisted), so switching back to MSCL reuses them instead of computing them again.
"""
import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd

from mscl.flow.extraction import MANIFEST_COLUMNS, extract_flow
from mscl.flow.pictures import render_flow_pictures
from mscl.io.atomic import write_json
from mscl.io.cluster import start
from mscl.io.tables import read_csv, read_videos, write_csv
from mscl.params import stage_params


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("params", help="params.yaml")
    ap.add_argument("videos_csv", help="input: the video index (splits)")
    ap.add_argument("frames_dir", help="input: frame containers and their manifest.csv")
    ap.add_argument("out_dir", help="output: flow containers and manifest.csv")
    ap.add_argument("pictures_dir", help="output: flow pictures")
    ap.add_argument("log", help="output: the run's log (counts, statuses, timings; json)")
    args = ap.parse_args(argv)
    p, cluster, pretrain = stage_params(args.params, "flow", "cluster", "pretrain")
    shutil.rmtree(args.pictures_dir, ignore_errors=True)
    Path(args.pictures_dir).mkdir(parents=True)
    if not pretrain.needs_flow:
        write_csv(pd.DataFrame(columns=MANIFEST_COLUMNS), Path(args.out_dir) / "manifest.csv")
        write_json(args.log, {"videos": 0, "method": pretrain.method})
        print(f"flow: pretrain.method {pretrain.method} reads no flow; nothing computed")
        return
    start(cluster, "flow")
    frames = read_csv(Path(args.frames_dir) / "manifest.csv", ["video_id", "frames", "status", "reason"])
    split = read_videos(args.videos_csv).set_index("video_id")["split"]
    frames = frames[frames["video_id"].map(split).isin(p.splits)].reset_index(drop=True)
    manifest, metrics = extract_flow(frames, args.frames_dir, args.out_dir, p, cluster)
    write_csv(manifest, Path(args.out_dir) / "manifest.csv")
    shown = manifest.merge(frames[["video_id", "frames"]], on="video_id")
    render_flow_pictures(shown, args.frames_dir, args.out_dir, args.pictures_dir, count=p.pictures, step=p.step)
    write_json(args.log, metrics)
    print(f"flow ({metrics['backend']}): {metrics['usable']}/{metrics['videos']} videos, {metrics['flows']} flows, "
          f"{metrics['pairs_per_second']} pairs/s, clipped fraction {metrics['clipped']}")
    if metrics["videos"] and not metrics["usable"]:
        sys.exit("flow: every video failed; see the manifest for the reasons")


if __name__ == "__main__":
    main()
