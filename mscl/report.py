"""Where the pipeline's outputs, metrics and plots are; and the tables of numbers the docs show.

``python -m mscl.report`` (run by ``make repro``) prints the outputs and headline metrics;
``python -m mscl.report --results benchmarks/results/demo.json`` writes the demo experiments of
``dvc exp show --json`` (``make results``) as a measured table. Every table of numbers in the
README and docs/ is such a committed JSON file, shown between ``<!-- table SOURCE VIEW -->``
markers and rewritten by ``python -m mscl.bench tables``, so the published numbers come from the
project's own tools and a test notices a table that differs from its file.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import yaml

# (column title, file, dotted key) of the demo table (benchmarks/results/demo.json), one row per experiment and evaluation set;
# {dataset} is the evaluation set's name
COLUMNS = [
    ("pretraining", "params.yaml", "pretrain.method"),
    ("encoder", "params.yaml", "evaluation.init"),
    ("fine-tune top-1 (1 view)", "metrics/{dataset}/finetune.json", "single_view.video_top1"),
    ("fine-tune top-1 (clips x crops)", "metrics/{dataset}/finetune.json", "multi_view.video_top1"),
    ("linear top-1", "metrics/{dataset}/linear.json", "video_top1"),
    ("retrieval R@1", "metrics/{dataset}/retrieval.json", "R@1"),
    ("retrieval R@5", "metrics/{dataset}/retrieval.json", "R@5"),
]

OUTPUTS = {
    "data/{dataset}/index/videos.csv": "video index (split: train / val / test)",
    "data/{dataset}/frames/": "decoded frames (one zip of JPEGs per video) + manifest.csv",
    "data/{dataset}/flow/": "quantised TV-L1 flow (one zip per video, raw or PNG members: flow.storage) + manifest.csv",
    "reports/{dataset}/flow/": "flow pictures (colour wheel: hue = direction, saturation = magnitude)",
    "data/{dataset}/samples/": "MDS-screened pretraining samples",
    "reports/{dataset}/": "pictures of every stage of the dataset",
    "models/": "the pretrained encoder, fine-tuned classifiers per dataset (.pt state_dict + .json sidecar)",
    "dvclive/": "training curves (show them with `dvc plots show`)",
}


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dicts as one dict with dotted keys."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def main(root: str = ".") -> None:
    """Print the outputs that exist, per named dataset, and every metric file (``metrics/``)."""
    root = Path(root)
    datasets = list(yaml.safe_load((root / "params.yaml").read_text()).get("datasets") or {})
    print("\nOutputs:")
    for pattern, what in OUTPUTS.items():
        for path in dict.fromkeys(pattern.format(dataset=d) for d in datasets):
            if (root / path).exists():
                print(f"  {path:34s} {what}")
    print("\nMetrics (`dvc metrics show`, compare runs with `dvc exp show`):")
    for path in sorted((root / "metrics").rglob("*.json")):
        flat = flatten(json.loads(path.read_text()))
        shown = ", ".join(f"{k}={v}" for k, v in list(flat.items())[:8])
        print(f"  {path.relative_to(root).as_posix():34s} {shown}")
    print("\nPlots: `dvc plots show` writes dvc_plots/index.html\n")


# docs/assets/<name>.png <- the pipeline's or a benchmark's picture (the first that exists of each)
ASSETS = {
    "flow": ["reports/motion/flow/rotate_ccw__rotate_ccw_0001.png", "reports/motion/flow/*.png"],
    "screen": ["reports/motion/screen/scores.png"],
    "confusion": ["reports/motion/finetune/confusion.png"],
    "neighbours": ["reports/motion/retrieve/neighbours.png"],
    # the test figure only: it exists once the grid is whole (a val figure under this name would
    # show tuning-split results as the benchmark's)
    "layers_test": ["benchmarks/results/layers_test.png"],
    "layers_knn": ["benchmarks/results/layers_knn.png"],
    "relative_test": ["benchmarks/results/relative_test.png"],
    "relative_knn": ["benchmarks/results/relative_knn.png"],
    "motion_test": ["benchmarks/results/motion_test.png"],
}


def docs_assets(root: Path, out: Path, *, width: int = 720) -> list[Path]:
    """Small copies (at most ``width`` px wide, 8-bit palette PNG) of the pictures the docs show,
    from the demo's ``reports/`` (a DVC output a code host cannot show) and the benchmarks' figures;
    returns what it wrote. A picture that does not exist yet is skipped with a note."""
    import cv2
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, patterns in ASSETS.items():
        found = next((f for pat in patterns for f in sorted(root.glob(pat))), None)
        if found is None:
            print(f"docs assets: no {patterns[0]} yet (make repro, or the benchmark grid), {name}.png skipped", file=sys.stderr)
            continue
        img = cv2.imread(str(found), cv2.IMREAD_COLOR)
        if img.shape[1] > width:
            img = cv2.resize(img, (width, round(img.shape[0] * width / img.shape[1])), interpolation=cv2.INTER_AREA)
        pal = Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB)).quantize(colors=256, method=Image.Quantize.FASTOCTREE)
        pal.save(out / f"{name}.png", optimize=True)
        written.append(out / f"{name}.png")
    return written


def experiment_rows(exp_show: list) -> list[dict]:
    """Named experiments of ``dvc exp show --json`` as {"name", "files": {file: data}, "timestamp",
    "rev": the experiment's commit, "baseline": the commit it was run from}, oldest first."""
    rows = []

    def visit(node: dict, baseline: str) -> None:
        data = node.get("data") or {}
        if node.get("name") and data:
            files = {f: v.get("data", {}) for f, v in {**data.get("params", {}), **data.get("metrics", {})}.items()}
            rows.append({"name": node["name"], "files": files, "timestamp": data.get("timestamp") or "",
                         "rev": node.get("rev"), "baseline": baseline})
        for child in node.get("experiments") or []:
            for rev in child.get("revs") or []:
                visit(rev, baseline)

    for commit in exp_show:
        visit({**commit, "name": None}, commit.get("rev"))
    return sorted(rows, key=lambda r: r["timestamp"])


def lookup(data: dict, dotted: str, default="n/a"):
    """``data["a"]["b"]`` for ``"a.b"``, or ``default`` when a key is missing."""
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def evaluation_sets(row: dict) -> list[str]:
    """The evaluation sets an experiment row ran (its ``evaluation.datasets``)."""
    return list(lookup(row["files"].get("params.yaml", {}), "evaluation.datasets", []))


def results_rows(rows: list[dict]) -> tuple[list[str], list[list]]:
    """(columns, rows) of the experiments: one row per experiment and evaluation set, with COLUMNS."""
    columns = ["experiment", "evaluated on", *(c[0] for c in COLUMNS)]
    out = []
    for r in rows:
        for dataset in evaluation_sets(r):
            out.append([r["name"], dataset, *(lookup(r["files"].get(f.format(dataset=dataset), {}), key)
                                              for _, f, key in COLUMNS)])
    return columns, out


# a table of numbers in the README or docs/ that the project writes: the lines between
# `<!-- table SOURCE VIEW -->` and `<!-- end table -->` are VIEW of the committed JSON file SOURCE
TABLE = re.compile(r"(<!-- table (\S+) (\S+) -->)(.*?)(<!-- end table -->)", re.S)


def refresh_tables(text: str, render: Callable[[str, str], str]) -> str:
    """``text`` with every marked table replaced by ``render(SOURCE, VIEW)`` of its marker."""
    return TABLE.sub(lambda m: f"{m.group(1)}\n{render(m.group(2), m.group(3))}\n{m.group(5)}", text)


def write_table(path: str | Path, columns: list[str], rows: list[list], command: str) -> None:
    """A measured table as a committed JSON file (``{"command", "columns", "rows"}``) that a
    document shows with the marker ``<!-- table PATH table -->`` (:func:`markdown_table`)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    rows = [[round(v, 4) if isinstance(v, float) else v for v in row] for row in rows]
    Path(path).write_text(json.dumps({"command": command, "columns": columns, "rows": rows}) + "\n")


def markdown_table(doc: dict) -> str:
    """A :func:`write_table` document as Markdown, with the command that measured it."""
    cell = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(doc["columns"]) + " |", "|---" * len(doc["columns"]) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in doc["rows"]]
    return "\n".join(lines) + f"\n\n`{doc['command']}`"


def marked_tables(text: str) -> list[tuple[str, str]]:
    """(SOURCE, VIEW) of every marked table of ``text``, in order."""
    return [(m.group(2), m.group(3)) for m in TABLE.finditer(text)]


def pick(rows: list[dict], names: list[str]) -> list[dict]:
    """The newest row of each experiment in ``names``, in that order (others are not shown)."""
    newest = {r["name"]: r for r in rows}  # rows are oldest first
    missing = [n for n in names if n not in newest]
    if missing:
        raise SystemExit(f"no experiment named {', '.join(missing)} in `dvc exp show`; run them first (make results)")
    return [newest[n] for n in names]


def write_results(path: Path, names: list[str]) -> None:
    """The experiments ``names`` of ``dvc exp show --json`` as a measured table at ``path``
    (:func:`write_table`), which README.md and docs/ show between markers."""
    out = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], capture_output=True, text=True, check=True)
    columns, rows = results_rows(pick(experiment_rows(json.loads(out.stdout)), names))
    write_table(path, columns, rows, f"make results (python -m mscl.report --results {path} --experiments {' '.join(names)})")
    print(markdown_table(json.loads(Path(path).read_text())))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, help="write the experiments table to this JSON file (the docs show it)")
    ap.add_argument("--docs-assets", type=Path, help="write small copies of the docs' pictures into this folder")
    ap.add_argument("--experiments", nargs="+", default=["moco-rgb", "dclr", "random-init", "mscl"],
                    help="the experiments (by name) the table shows, in this order")
    args = ap.parse_args()
    if args.docs_assets:
        print("\n".join(map(str, docs_assets(Path("."), args.docs_assets))))
    elif args.results:
        write_results(args.results, args.experiments)
    else:
        main()
