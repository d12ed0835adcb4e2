"""Dataset layouts -> video records ``{video_id, path, label, label_name, split}``.

Each reader parses the official annotation files of one dataset. ``video_id`` is the video's
path relative to the videos folder without extension (unique, and usable as a relative file
name for per-video outputs); labels are 0-based.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path


from mscl.io.tables import is_test

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg")


class DatasetLayoutError(ValueError):
    """The dataset root does not have the expected annotation files."""


def _find_one(root: Path, pattern: str) -> Path:
    hits = sorted(root.rglob(pattern))
    if not hits:
        raise DatasetLayoutError(f"{root}: no file matching {pattern!r}")
    return hits[0]


def _row(video_id: str, path: Path, label: int, label_name: str, split: str) -> dict:
    return {"video_id": video_id, "path": str(path), "label": label, "label_name": label_name, "split": split}


def _record(videos: Path, rel: str, label: int, label_name: str, split: str) -> dict:
    """A video under ``videos`` at relative path ``rel``, whose id is ``rel`` without extension."""
    return _row(str(Path(rel).with_suffix("")).replace("\\", "/"), videos / rel, label, label_name, split)


def _video_files(folder: Path) -> dict[str, Path]:
    """Map of file stem -> path for every video file under ``folder``."""
    return {p.stem: p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS}


def ucf101_records(root: Path, split: int) -> list[dict]:
    """UCF101: ``classInd.txt`` ("1 ApplyEyeMakeup"), ``trainlist0N.txt`` / ``testlist0N.txt``
    ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi [label]"); videos under ``<class>/`` folders."""
    class_ind = _find_one(root, "classInd.txt")
    names = {}
    for line in class_ind.read_text().split("\n"):
        if line.strip():
            num, name = line.split()
            names[name.lower()] = (int(num) - 1, name)  # folder case differs for a few classes
    videos = _find_one(root, "v_*_g*_c*.*").parent.parent
    records = []
    for split_name, fname in (("train", f"trainlist0{split}.txt"), ("test", f"testlist0{split}.txt")):
        list_file = class_ind.parent / fname
        if not list_file.exists():
            raise DatasetLayoutError(f"{root}: missing split file {fname}")
        for line in list_file.read_text().split("\n"):
            if line.strip():
                rel = line.split()[0]
                label, name = names[rel.split("/")[0].lower()]
                records.append(_record(videos, rel, label, name, split_name))
    return records


def hmdb51_records(root: Path, split: int) -> list[dict]:
    """HMDB51: ``<class>_test_split<N>.txt`` with lines "<video> <flag>" (1 train, 2 test,
    0 unused); videos under ``<class>/`` folders."""
    split_files = sorted(root.rglob(f"*_test_split{split}.txt"))
    if not split_files:
        raise DatasetLayoutError(f"{root}: no *_test_split{split}.txt files")
    classes = sorted(f.name[: -len(f"_test_split{split}.txt")] for f in split_files)
    files = _video_files(root)
    records = []
    for f in split_files:
        cls = f.name[: -len(f"_test_split{split}.txt")]
        for line in f.read_text().split("\n"):
            parts = line.split()
            if len(parts) == 2 and parts[1] in ("1", "2"):
                path = files.get(Path(parts[0]).stem)
                if path is None:
                    raise DatasetLayoutError(f"{f.name}: video {parts[0]} not found under {root}")
                rel = str(path.relative_to(path.parent.parent))
                records.append(_record(path.parent.parent, rel, classes.index(cls), cls, "train" if parts[1] == "1" else "test"))
    return records


def ssv2_records(root: Path, split: int = 1) -> list[dict]:
    """Something-Something v2: ``labels.json`` (template -> id), ``train.json`` and
    ``validation.json`` (lists of {id, template, ...}); videos ``<id>.webm``."""
    labels = json.loads(_find_one(root, "labels.json").read_text())
    files = _video_files(root)
    names = {int(v): k for k, v in labels.items()}
    records = []
    for split_name, fname in (("train", "train.json"), ("val", "validation.json")):
        for item in json.loads(_find_one(root, fname).read_text()):
            label = int(labels[item["template"].replace("[", "").replace("]", "")])
            path = files.get(str(item["id"]))
            if path is not None:
                records.append(_row(str(item["id"]), path, label, names[label], split_name))
    return records


def kinetics_records(root: Path, split: int = 1) -> list[dict]:
    """Kinetics: csv files with ``label, youtube_id, time_start, time_end, split``; videos named
    ``<youtube_id>_<start:06d>_<end:06d>.<ext>`` anywhere under ``root``."""
    rows = []
    for f in sorted(root.rglob("*.csv")):
        with open(f, newline="") as fh:
            reader = csv.DictReader(fh)
            if {"label", "youtube_id", "time_start", "time_end", "split"} <= set(reader.fieldnames or []):
                rows.extend(reader)
    if not rows:
        raise DatasetLayoutError(f"{root}: no Kinetics annotation csv")
    classes = sorted({r["label"] for r in rows})
    files = _video_files(root)
    records = []
    for r in rows:
        stem = f"{r['youtube_id']}_{int(float(r['time_start'])):06d}_{int(float(r['time_end'])):06d}"
        split = {"validate": "val", "validation": "val"}.get(r["split"], r["split"])
        if stem in files and split in ("train", "val", "test"):
            records.append(_row(stem, files[stem], classes.index(r["label"]), r["label"], split))
    return records


def folder_records(root: Path, test_fraction: float) -> list[dict]:
    """Plain layout ``root/<class>/<video>``; every ``round(1/test_fraction)``-th video of a class
    (sorted by name) goes to the test split."""
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise DatasetLayoutError(f"{root}: no class folders")
    records = []
    for label, cls in enumerate(classes):
        vids = sorted(p for p in (root / cls).iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
        for i, p in enumerate(vids):
            split = "test" if is_test(i, test_fraction) else "train"
            records.append(_record(root, f"{cls}/{p.name}", label, cls, split))
    return records
