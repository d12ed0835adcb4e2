"""Stage ``linear``: a linear classifier on frozen features of the pretrained encoder."""
import argparse

from mscl.data.labeled import split_tables
from mscl.downstream.features import load_encoder
from mscl.downstream.finetune import linear_probe
from mscl.io.atomic import write_metrics
from mscl.params import stage_params


# what `dvc exp show` compares; counts and the split are printed
COMPARED = ("clip_top1", "clip_top5", "video_top1", "video_top5", "videos_per_second")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("params", help="params.yaml")
    ap.add_argument("encoder", help="input: pretrained encoder.pt (+ .json sidecar)")
    ap.add_argument("videos_csv", help="input: the video index")
    ap.add_argument("frames_dir", help="input: frame containers + manifest.csv")
    ap.add_argument("metrics", help="output: metrics json")
    args = ap.parse_args(argv)
    p = stage_params(args.params, "linear")
    tables = split_tables(args.videos_csv, args.frames_dir)
    encoder, _ = load_encoder(args.encoder, init=p.init, seed=p.seed)
    metrics = linear_probe(p, encoder, tables.train, tables.test, len(tables.classes))
    rest = write_metrics(args.metrics, metrics | {"split": tables.split, "skipped_videos": tables.skipped}, COMPARED)
    print(f"linear ({p.init} init): {tables.split} video top-1 {metrics['video_top1']}%, "
          f"top-5 {metrics['video_top5']}%; {metrics['videos_per_second']} videos/s feature extraction; {rest}")


if __name__ == "__main__":
    main()
