"""``python -m mscl.bench {run,test,report,power,tables}``: see the package docstring."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mscl.bench import results
from mscl.bench.grid import grid, load_preset
from mscl.bench.run import committed_params, exp_show, finished, recorded, run, run_test

PRESET = Path("benchmarks/layers.yaml")  # the headline grid


def report(preset_path: Path) -> str:
    """Collect the preset's current experiments (their keys match the preset, params.yaml and the
    version now; this clone's DVC experiments, else the committed records from another clone)
    into its results file and figures, refresh every marked table; returns the summary tables."""
    preset = load_preset(preset_path)
    experiments = grid(preset, committed_params())
    times = json.loads(preset.times.read_text()) if preset.times.exists() else {}
    doc = results.collect(preset, experiments, finished(exp_show(), preset.dataset), times, recorded(preset))
    written = results.write_results(preset, doc)
    changed = results.refresh_documents()
    print("wrote " + ", ".join(map(str, written + changed)), file=sys.stderr)
    return "\n\n".join(f"{split}:\n{results.render(doc, f'summary:{split}')}" for split in results.SPLITS)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m mscl.bench", description=sys.modules["mscl.bench"].__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("run", "test", "report", "power", "tables"))
    ap.add_argument("--preset", type=Path, default=PRESET)
    ap.add_argument("--arms", nargs="+", metavar="ARM", help="run: only these arms (default: every arm)")
    ap.add_argument("--seeds", nargs="+", type=int, metavar="SEED", help="run: only these seeds (default: every seed)")
    ap.add_argument("--queue", action="store_true", help="run: through DVC's experiment queue, in the background")
    ap.add_argument("--margin", type=float, default=10.0, help="power: the difference (points) to detect")
    args = ap.parse_args(argv)
    if args.command == "run":
        run(load_preset(args.preset), args.arms, args.seeds, args.queue)
    elif args.command == "test":
        run_test(load_preset(args.preset))
    elif args.command == "report":
        print(report(args.preset))
    elif args.command == "power":  # from the committed results of a pilot, on val
        doc = json.loads(load_preset(args.preset).results.read_text())
        print(results.power_table(doc, "val", args.margin))
    else:
        print("\n".join(map(str, results.refresh_documents())) or "every marked table is up to date")


if __name__ == "__main__":
    main()
