"""A grid's results: collected into ``benchmarks/results/<preset>.json``, then every table and
figure is drawn from that file alone, so what the README and docs show is regenerated, not typed."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from mscl.bench.grid import Experiment, Preset
from mscl.bench.run import COLUMNS, metric_files
from mscl.report import lookup
from mscl.stats import difference, no_spread, seeds_needed, spread

SPLITS = ("val", "test")
KNN_CURVE = "dvclive/pretrain/plots/metrics/train/knn_top1.tsv"  # the RGB encoder's kNN monitor (val)


def _knn_curve(rev: str) -> list[list[float]] | None:
    """[[step, kNN top-1], ...] an experiment's commit holds, or None (no monitor, no commit)."""
    r = subprocess.run(["git", "show", f"{rev}:{KNN_CURVE}"], capture_output=True, text=True)
    if r.returncode or not r.stdout.strip():
        return None
    rows = [line.split("\t") for line in r.stdout.strip().splitlines()[1:]]
    return [[int(step), round(float(v), 2)] for step, v in rows]


def collect(preset: Preset, experiments: list[Experiment], done: dict[str, dict], times: dict[str, float],
            kept: dict[str, dict] | None = None) -> dict:
    """The results document of ``preset``: one record per experiment of the grid with val results
    (arm, seed, experiment name, val and test metrics, kNN curve, wall times), in grid order, from
    the DVC experiments ``done`` or else from the records ``kept`` in the committed results (an
    earlier clone's). ``sealed`` until every experiment of the grid has its test results."""
    kept, records = kept or {}, []
    for e in experiments:
        if e.name not in done:
            if e.name in kept:
                records.append(kept[e.name])
            continue
        rec = {"arm": e.arm, "seed": e.seed, "name": e.name, "key": e.key}
        for split, name in (("val", e.name), ("test", e.test_name)):
            files = done[name]["files"] if name in done else None
            rec[split] = ({col: float(lookup(files.get(f, {}), k)) for col, f, k in metric_files(preset.dataset)}
                          if files else (kept.get(e.name) or {}).get(split))
        rec["knn"] = _knn_curve(done[e.name]["rev"])
        rec["seconds"] = {"val": times.get(e.name), "test": times.get(e.test_name)}
        records.append(rec)
    sealed = len(records) < len(experiments) or not all(r.get("test") for r in records)
    return {"preset": str(preset.path), "version": preset.version, "arms": list(preset.arms),
            "references": list(preset.references), "chance": preset.chance, "dataset": preset.dataset,
            "metrics": list(COLUMNS), "grid": len(experiments), "sealed": sealed, "experiments": records}


# --------------------------------------------------------------------------- statistics of a document


def per_seed(doc: dict, arm: str, split: str, metric: str) -> dict[int, float]:
    """{seed: value} of ``arm``'s ``metric`` on ``split`` (experiments without that split left out)."""
    return {r["seed"]: r[split][metric] for r in doc["experiments"] if r["arm"] == arm and r.get(split)}


def comparisons(doc: dict, split: str) -> list[dict]:
    """Every non-reference arm against every reference arm, per metric: the difference's CI."""
    out = []
    for ref in doc["references"]:
        for arm in doc["arms"]:
            if arm == ref:
                continue
            for metric in doc["metrics"]:
                a, b = per_seed(doc, arm, split, metric), per_seed(doc, ref, split, metric)
                if len(a) >= 2 and len(b) >= 2:
                    out.append({"arm": arm, "reference": ref, "metric": metric, "difference": difference(a, b)})
    return out


# --------------------------------------------------------------------------- tables


def _f(x: float) -> str:
    return f"{x:.1f}"


def _mean_sd(values: list[float]) -> str:
    """A table cell: mean +- sd of ``values``, the mean alone for one value (one seed has no spread)."""
    mean, sd = spread(values)
    return _f(mean) + (f" +- {_f(sd)}" if len(values) > 1 else "")


def summary_table(doc: dict, split: str) -> str:
    """Markdown: per arm, mean +- sd over seeds of each metric on ``split``, and the per-seed values."""
    cols = doc["metrics"]
    lines = ["| arm | seeds | " + " | ".join(f"{c} (mean +- sd)" for c in cols) + " | "
             + " | ".join(f"{c} per seed" for c in cols) + " |", "|---" * (2 + 2 * len(cols)) + "|"]
    for arm in doc["arms"]:
        values = {c: per_seed(doc, arm, split, c) for c in cols}
        seeds = sorted(values[cols[0]])
        if not seeds:
            continue
        cells = [_mean_sd([values[c][s] for s in seeds]) for c in cols]
        per = [", ".join(_f(values[c][s]) for s in seeds) for c in cols]
        lines.append(f"| {arm} | {','.join(map(str, seeds))} | " + " | ".join(cells + per) + " |")
    return "\n".join(lines)


def differences_table(doc: dict, split: str) -> str:
    """Markdown: each arm minus each reference arm, with the 95 % CI, the test and its p-value."""
    lines = ["| arm | minus | metric | difference | 95 % CI | test | p | CI above 0 |", "|---" * 8 + "|"]
    for c in comparisons(doc, split):
        d = c["difference"]
        ci, p = (f"[{d.low:+.1f}, {d.high:+.1f}]", f"{d.p:.3f}") if d.determined else ("n/a: no spread over the seeds", "n/a")
        lines.append(f"| {c['arm']} | {c['reference']} | {c['metric']} | {d.mean:+.1f} | {ci} | "
                     f"{d.test}, n = {d.n[0]}/{d.n[1]} | {p} | {'yes' if d.above_zero else 'no'} |")
    return "\n".join(lines)


def times_table(doc: dict) -> str:
    """Markdown: wall time of each experiment (s) per arm and seed, val run + test run, and the sum."""
    seeds = sorted({r["seed"] for r in doc["experiments"]})
    if not seeds:
        return "(no experiment of this grid has run yet)"
    lines = ["| arm | " + " | ".join(f"s{s}" for s in seeds) + " |", "|---" * (1 + len(seeds)) + "|"]
    total = 0.0
    for arm in doc["arms"]:
        cells = []
        for s in seeds:
            rec = next((r for r in doc["experiments"] if r["arm"] == arm and r["seed"] == s), None)
            t = sum(v for v in (rec or {}).get("seconds", {}).values() if v)
            total += t
            cells.append(f"{t:.0f}" if t else "")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\nIn all: {total / 3600:.1f} h of `dvc exp run` (the shared data included once)."


def power_table(doc: dict, split: str, margin: float) -> str:
    """Markdown: seeds a paired comparison needs to find ``margin`` points with 80 % power, from the
    spread of the per-seed differences seen so far (a pilot)."""
    lines = [f"| arm | minus | metric | sd of differences | seeds for {margin:g} points |", "|---" * 5 + "|"]
    for c in comparisons(doc, split):
        a, b = (per_seed(doc, x, split, c["metric"]) for x in (c["arm"], c["reference"]))
        common = sorted(set(a) & set(b))
        if len(common) < 2:
            lines.append(f"| {c['arm']} | {c['reference']} | {c['metric']} | n/a | n/a: fewer than 2 seeds in common |")
            continue
        mean, sd = spread([a[s] - b[s] for s in common])
        need = f"n/a: no spread over {len(common)} seeds" if no_spread(sd, mean) else seeds_needed(margin, sd)
        lines.append(f"| {c['arm']} | {c['reference']} | {c['metric']} | {sd:.1f} | {need} |")
    return "\n".join(lines)


def render(doc: dict, view: str) -> str:
    """The table ``view`` of a results document: ``summary:<split>``, ``differences:<split>`` or ``times``."""
    kind, _, split = view.partition(":")
    if kind == "times":
        return times_table(doc)
    if split not in SPLITS or kind not in ("summary", "differences"):
        raise ValueError(f"unknown benchmark table {view!r}: summary:<split>, differences:<split> or times")
    if split == "test" and doc.get("sealed", False):
        have = sum(bool(r.get("test")) for r in doc["experiments"])
        return f"(test results are sealed until every experiment of the grid has them: {have} of {doc.get('grid', '?')})"
    if not any(r.get(split) for r in doc["experiments"]):
        return f"(no {split} results yet)"
    if kind == "differences" and not comparisons(doc, split):
        return f"(no arm and reference with two {split} seeds each yet)"
    return summary_table(doc, split) if kind == "summary" else differences_table(doc, split)


# --------------------------------------------------------------------------- figures


def figure(doc: dict, split: str, path: Path) -> None:
    """Per metric, each arm's seeds as points with the mean and its 95 % CI (t), chance dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from scipy import stats

    fig, axes = plt.subplots(1, len(doc["metrics"]), figsize=(4.2 * len(doc["metrics"]), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], doc["metrics"]):
        for x, arm in enumerate(doc["arms"]):
            v = np.array(list(per_seed(doc, arm, split, metric).values()))
            if not len(v):
                continue
            jitter = np.linspace(-0.12, 0.12, len(v)) if len(v) > 1 else np.zeros(1)
            ax.plot(x + jitter, v, "o", ms=4, alpha=0.6, color=f"C{x}")
            if len(v) > 1:
                half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
                ax.errorbar(x + 0.3, v.mean(), yerr=half, fmt="s", color="k", ms=5, capsize=4)
        if doc.get("chance"):
            ax.axhline(doc["chance"], ls="--", color="grey", lw=1, label="chance")
            ax.legend(loc="upper right", fontsize=8)
        ax.set_xticks(range(len(doc["arms"])), doc["arms"], rotation=20, fontsize=8)
        ax.set_title(f"{metric} ({split}); mean and 95 % CI", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def knn_figure(doc: dict, path: Path) -> None:
    """The RGB encoder's kNN top-1 (val) over pretraining steps: every seed thin, the arm's mean thick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for x, arm in enumerate(doc["arms"]):
        curves = [np.array(r["knn"]) for r in doc["experiments"] if r["arm"] == arm and r.get("knn") and len(r["knn"]) > 1]
        for c in curves:
            ax.plot(c[:, 0], c[:, 1], color=f"C{x}", lw=0.6, alpha=0.4)
        if curves:
            n = min(len(c) for c in curves)
            ax.plot(curves[0][:n, 0], np.mean([c[:n, 1] for c in curves], 0), color=f"C{x}", lw=2, label=arm)
    if doc.get("chance"):
        ax.axhline(doc["chance"], ls="--", color="grey", lw=1)
    ax.set_xlabel("pretraining step")
    ax.set_ylabel("RGB kNN top-1 on val (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_results(preset: Preset, doc: dict) -> list[Path]:
    """The results JSON and its figures (``<preset>_<split>.png`` per split with results,
    ``<preset>_knn.png``); returns the paths written."""
    preset.results.parent.mkdir(parents=True, exist_ok=True)
    preset.results.write_text(json.dumps(doc, indent=1) + "\n")
    written = [preset.results]
    for split in SPLITS:
        if any(r.get(split) for r in doc["experiments"]) and not (split == "test" and doc.get("sealed", False)):
            written.append(preset.results.with_name(f"{preset.name}_{split}.png"))
            figure(doc, split, written[-1])
    if any(r.get("knn") for r in doc["experiments"]):
        written.append(preset.results.with_name(f"{preset.name}_knn.png"))
        knn_figure(doc, written[-1])
    return written


# --------------------------------------------------------------------------- marked tables of README.md and docs/


DOCUMENTS = ("README.md", "docs/*.md")


def _here(entry: dict, root: Path) -> str:
    """What a zoo entry's numbers are here: mean +- sd over seeds of its arm in its grid's results
    (test once the grid is complete, else val, labelled), or "not run here"."""
    if not entry.get("results"):
        return "not run here"
    path = root / entry["results"]
    if not path.exists():
        return f"not run yet (`{entry['results']}`)"
    doc = json.loads(path.read_text())
    split = "val" if doc.get("sealed", True) else "test"
    cells = []
    for metric in doc["metrics"]:
        values = list(per_seed(doc, entry["arm"], split, metric).values())
        if not values:
            return "not run yet"
        cells.append(_mean_sd(values))
    n = len(per_seed(doc, entry["arm"], split, doc["metrics"][0]))
    return f"{' / '.join(cells)} ({split}, {n} seed{'s' if n > 1 else ''})"


def zoo_table(doc: dict, root: Path) -> str:
    """Markdown: the model-zoo table of ``benchmarks/results/zoo.json``: per method and setting, its
    config, the paper's number and ours (from the grids' results files), or "not run here"."""
    lines = ["| method | pretrained on | evaluated as | config | paper | here |", "|---" * 6 + "|"]
    for e in doc["entries"]:
        lines.append(f"| {e['method']} | {e['pretrain']} | {e['evaluation']} | {e['config']} | "
                     f"{e.get('paper', '-')} | {_here(e, root)} |")
    return "\n".join(lines)


def render_source(source: str, view: str, root: Path = Path(".")) -> str:
    """A marked table: ``view`` of the results file ``source`` (relative to ``root``): a measured
    table (:func:`mscl.report.write_table`, view ``table``), the model zoo (``zoo``) or a benchmark
    grid's (:func:`render`)."""
    from mscl.report import markdown_table

    if not (root / source).exists():  # not run in this clone yet
        if view == "table":
            return f"(not measured yet: `{source}` is written by the command its document names)"
        if view == "zoo":
            raise FileNotFoundError(f"{source}: the model zoo's table is committed; restore it with git")
        return f"(not run yet: `{source}` is written by `make bench PRESET=benchmarks/{Path(source).stem}.yaml`)"
    doc = json.loads((root / source).read_text())
    if view == "table":
        return markdown_table(doc)
    if view == "zoo":
        return zoo_table(doc, root)
    return render(doc, view)


def refresh_documents(root: Path = Path(".")) -> list[Path]:
    """Rewrite every marked table of README.md and docs/*.md from its results file; returns the
    documents that changed."""
    from mscl.report import refresh_tables

    changed = []
    for pattern in DOCUMENTS:
        for doc in sorted(root.glob(pattern)):
            text = doc.read_text()
            new = refresh_tables(text, lambda source, view: render_source(source, view, root))
            if new != text:
                doc.write_text(new)
                changed.append(doc)
    return changed
