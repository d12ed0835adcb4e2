"""Stage ``index``: list the videos of the configured dataset (generating the synthetic one)."""
import argparse
import shutil
from pathlib import Path

from mscl.io.atomic import write_json
from mscl.io.datasets import build_index, index_metrics
from mscl.io.tables import write_csv
from mscl.params import stage_params


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("params", help="params.yaml")
    ap.add_argument("videos_csv", help="output: the video index")
    ap.add_argument("raw_dir", help="output: generated videos (synthetic source; empty otherwise)")
    ap.add_argument("log", help="output: the run's log (counts, statuses, timings; json)")
    args = ap.parse_args(argv)
    p = stage_params(args.params, "index")
    shutil.rmtree(args.raw_dir, ignore_errors=True)
    Path(args.raw_dir).mkdir(parents=True)
    videos = build_index(p, args.raw_dir)
    write_csv(videos, args.videos_csv)
    write_json(args.log, index_metrics(videos))
    print(f"index: {len(videos)} videos of {videos['label'].nunique()} classes -> {args.videos_csv}")


if __name__ == "__main__":
    main()
