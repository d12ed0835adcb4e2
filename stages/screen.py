"""Stage ``screen``: Motion Differential Sampling, the clip starts pretraining draws from."""
import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd

from mscl.io.atomic import write_json
from mscl.io.cluster import start
from mscl.io.tables import read_csv, read_videos, write_csv
from mscl.params import stage_params
from mscl.sampling.screening import SAMPLE_COLUMNS, plot_screen_scores, screen_videos


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("params", help="params.yaml")
    ap.add_argument("videos_csv", help="input: the video index")
    ap.add_argument("flow_dir", help="input: flow containers and their manifest.csv")
    ap.add_argument("samples_csv", help="output: one row per candidate clip start")
    ap.add_argument("pictures_dir", help="output: picture of kept vs rejected clip scores")
    ap.add_argument("log", help="output: the run's log (counts, statuses, timings; json)")
    args = ap.parse_args(argv)
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


if __name__ == "__main__":
    main()
