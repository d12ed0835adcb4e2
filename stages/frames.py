"""Stage ``frames``: decode every indexed video into one frame container per video."""
import argparse
import sys

from mscl.io.atomic import write_json
from mscl.io.cluster import start
from mscl.io.frame_extraction import extract_frames
from mscl.io.tables import read_videos, write_csv
from mscl.params import stage_params


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("params", help="params.yaml")
    ap.add_argument("videos_csv", help="input: the video index")
    ap.add_argument("out_dir", help="output: frame containers and manifest.csv")
    ap.add_argument("log", help="output: the run's log (counts, statuses, timings; json)")
    args = ap.parse_args(argv)
    p, cluster = stage_params(args.params, "frames", "cluster")
    start(cluster, "frames")
    manifest, metrics = extract_frames(read_videos(args.videos_csv), args.out_dir, p, cluster)
    write_csv(manifest, f"{args.out_dir}/manifest.csv")
    write_json(args.log, metrics)
    print(f"frames: {metrics['usable']}/{metrics['videos']} videos usable, {metrics['frames']} frames, status {metrics['status']}")
    if metrics["videos"] and not metrics["usable"]:
        sys.exit("frames: every video failed; see the manifest for the reasons")


if __name__ == "__main__":
    main()
