"""Print where the pipeline's outputs, metrics and plots are, with the headline numbers.

Run after ``dvc repro`` (``make repro`` does): ``python -m mscl.report``.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

OUTPUTS = {
    "data/index/videos.csv": "video index",
    "data/frames/": "decoded frames (one zip of JPEGs per video) + manifest.csv",
    "data/flow/": "quantised TV-L1 flow (one zip of PNGs per video) + manifest.csv",
    "reports/flow/": "flow pictures (colour wheel: hue = direction, saturation = magnitude)",
    "data/samples/": "MDS-screened pretraining samples",
    "reports/": "pictures of every stage",
    "models/": "trained encoders (.pt state_dict + .json sidecar)",
    "dvclive/": "training curves (show them with `dvc plots show`)",
}


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def main(root: str = ".") -> None:
    """Print the outputs that exist and every metric file declared in dvc.yaml."""
    root = Path(root)
    print("\nOutputs:")
    for path, what in OUTPUTS.items():
        if (root / path).exists():
            print(f"  {path:26s} {what}")
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    print("\nMetrics (`dvc metrics show`, compare runs with `dvc exp show`):")
    for name, stage in stages.items():
        for entry in stage.get("metrics", []):
            path = root / (entry if isinstance(entry, str) else next(iter(entry)))
            if path.exists():
                flat = _flatten(json.loads(path.read_text()))
                shown = ", ".join(f"{k}={v}" for k, v in list(flat.items())[:8])
                print(f"  {str(path.relative_to(root)):26s} {shown}")
    print("\nPlots: `dvc plots show` writes dvc_plots/index.html\n")


if __name__ == "__main__":
    main()
