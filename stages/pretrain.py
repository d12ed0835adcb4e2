"""Stage ``pretrain``: self-supervised pretraining (MSCL or the MoCo-RGB baseline).

With ``pretrain.gpus > 1`` the stage reruns itself under torchrun, one process per GPU; on other
nodes of a multi-node run, start the same command with ``--node-rank K``.
"""
import argparse
import subprocess
import sys

from mscl import dist
from mscl.params import stage_params
from mscl.pretrain.run import PretrainPaths, pretrain


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__)
    for name, what in [("params", "params.yaml"), ("videos_csv", "input: video index"), ("frames_dir", "input: frames"),
                       ("flow_dir", "input: flow"), ("samples_csv", "input: MDS samples"),
                       ("model_dir", "output: encoder.pt + json (an unfinished run works in <model_dir>.partial)"),
                       ("live_dir", "output: dvclive curves"), ("metrics", "output: metrics json")]:
        ap.add_argument(name, help=what)
    ap.add_argument("--node-rank", type=int, default=None, help="this node's rank in a multi-node run (overrides params)")
    args = ap.parse_args(argv)
    p, flow = stage_params(args.params, "pretrain", "flow")
    if p.gpus * p.nnodes > 1 and not dist.launched_by_torchrun():
        node_rank = p.node_rank if args.node_rank is None else args.node_rank
        cmd = dist.torchrun_command([__file__, *argv], nproc=p.gpus, nnodes=p.nnodes, node_rank=node_rank,
                                    master_addr=p.master_addr, master_port=p.master_port)
        sys.exit(subprocess.run(cmd).returncode)
    paths = PretrainPaths(args.videos_csv, args.frames_dir, args.flow_dir, args.samples_csv, args.model_dir,
                          args.live_dir, args.metrics)
    pretrain(p, paths, flow_offset=flow.offset, flow_step=flow.step)


if __name__ == "__main__":
    main()
