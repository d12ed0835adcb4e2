"""The paper's protocol through real DVC on miniature copies of the real layouts: pretrain on a
Kinetics-400-style folder, evaluate on UCF101- and HMDB51-style folders; one stage per (stage,
dataset), and a change to one dataset reruns that dataset's stages only."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import copy_project, moving_video, project_env
from tiny_pipeline import PROJECT, tiny_params

VIDEO = {"frames": 12, "height": 32, "width": 40}  # the tiny pipeline's videos


def _kinetics(root: Path) -> None:
    """Two classes of three train videos (their labels are never read: pretraining only)."""
    rows = ["label,youtube_id,time_start,time_end,split"]
    for c, cls in enumerate(("abseiling", "zumba")):
        for n in range(3):
            yid = f"{cls[:3]}{n}"
            moving_video(root / "train" / cls / f"{yid}_000000_000010.mp4", label=c, seed=10 * c + n, **VIDEO)
            rows.append(f"{cls},{yid},0,10,train")
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "train.csv").write_text("\n".join(rows) + "\n")


def _ucf101(root: Path) -> None:
    """Two classes: groups 8-10 in trainlist01 (one of them carved into val), group 1 in testlist01."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    train, test = [], []
    for c, cls in enumerate(("ApplyEyeMakeup", "Biking")):
        for g in (1, 8, 9, 10):
            rel = f"{cls}/v_{cls}_g{g:02d}_c01.avi"
            moving_video(root / "UCF-101" / rel, label=c, seed=100 + 10 * c + g, **VIDEO)
            (test if g == 1 else train).append(rel)
    (lists / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Biking\n")
    (lists / "trainlist01.txt").write_text("\n".join(train) + "\n")
    (lists / "testlist01.txt").write_text("\n".join(test) + "\n")


def _hmdb51(root: Path) -> None:
    """Two classes of four videos; split 1: 0-2 train, 3 test; split 2: 1-3 train, 0 test."""
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    for c, cls in enumerate(("brush_hair", "walk")):
        for n in range(4):
            moving_video(root / "hmdb51" / cls / f"clip_{cls}_u_nm_np1_fr_med_{n}.avi", label=c, seed=200 + 10 * c + n,
                         **VIDEO)
        for split, test in ((1, 3), (2, 0)):
            lines = "".join(f"clip_{cls}_u_nm_np1_fr_med_{n}.avi {2 if n == test else 1} \n" for n in range(4))
            (splits / f"{cls}_test_split{split}.txt").write_text(lines)


def _dvc(root: Path, *args: str, ok: bool = True) -> str:
    r = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True, env=project_env())
    assert (r.returncode == 0) == ok, r.stdout + r.stderr
    return r.stdout + r.stderr


def _ran(out: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", out))


def _edit(root: Path, change) -> None:
    doc = yaml.safe_load((root / "params.yaml").read_text())
    change(doc)
    (root / "params.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


EVALUATION = {"finetune", "linear", "retrieve"}


@pytest.mark.slow
def test_kinetics_pretraining_then_ucf101_and_hmdb51_one_stage_per_dataset(tmp_path):
    data, root = tmp_path / "datasets", tmp_path / "project"
    _kinetics(data / "k400")
    _ucf101(data / "ucf101")
    _hmdb51(data / "hmdb51")
    root.mkdir()
    copy_project(root)
    tiny_params(root / "params.yaml", PROJECT)
    hmdb51 = {"source": "hmdb51", "root": str(data / "hmdb51"), "splits": [1], "val_fraction": 0.0}

    def roles(doc):  # the paper's roles, at first with UCF101 alone
        doc["datasets"] = {"k400": {"source": "kinetics", "root": str(data / "k400"), "val_fraction": 0.0},
                           "ucf101": {"source": "ucf101", "root": str(data / "ucf101"), "splits": [1],
                                      "val_fraction": 0.34}}
        doc["pretrain"] |= {"data": "k400", "monitor": "ucf101", "knn_every": 1}
        doc["evaluation"]["datasets"] = ["ucf101"]

    _edit(root, roles)
    first = _ran(_dvc(root, "repro"))
    assert first == {"index@k400", "frames@k400", "index@ucf101", "frames@ucf101", "flow", "screen", "pretrain",
                     "finetune@ucf101", "linear@ucf101", "retrieve@ucf101"}
    index = json.loads((root / "logs/ucf101/index.json").read_text())
    assert (index["train"], index["val"], index["test"]) == (4, 2, 2)  # one of three groups per class carved into val
    assert not (root / "data/ucf101/flow").exists() and (root / "data/k400/flow/manifest.csv").exists()
    assert 0 <= json.loads((root / "metrics/pretrain.json").read_text())["knn_top1"] <= 100  # UCF101's val split

    # adding an evaluation set runs its own stages and nothing else: pretraining is untouched
    encoder = (root / "models/pretrain/encoder.pt").read_bytes()
    _edit(root, lambda doc: (doc["datasets"].update(hmdb51=hmdb51), doc["evaluation"]["datasets"].append("hmdb51")))
    out = _dvc(root, "repro")
    assert _ran(out) == {"index@hmdb51", "frames@hmdb51", *(f"{s}@hmdb51" for s in EVALUATION)}, out
    assert "Stage 'pretrain' didn't change" in out and (root / "models/pretrain/encoder.pt").read_bytes() == encoder
    for dataset in ("ucf101", "hmdb51"):
        for name in ("finetune", "linear", "retrieval"):
            assert set(json.loads((root / f"metrics/{dataset}/{name}.json").read_text())), (dataset, name)
    assert not _ran(_dvc(root, "repro"))  # every stage cached

    # one evaluation set's params: that set's stages only (here: two official splits of HMDB51, and their mean)
    _edit(root, lambda doc: doc["datasets"]["hmdb51"].update(splits=[1, 2]))
    out = _dvc(root, "repro")
    assert _ran(out) == {"index@hmdb51", "frames@hmdb51", *(f"{s}@hmdb51" for s in EVALUATION)}, out
    linear = json.loads((root / "metrics/hmdb51/linear.json").read_text())
    assert {"split_1", "split_2"} <= set(linear)
    assert linear["video_top1"] == round((linear["split_1"]["video_top1"] + linear["split_2"]["video_top1"]) / 2, 2)

    # bad combinations are refused before any work, with one line naming the value
    _edit(root, lambda doc: doc["evaluation"]["datasets"].append("hmdb5"))
    out = _dvc(root, "repro", ok=False)  # a name no stage indexes: DVC refuses its stage, whose input is missing
    assert not _ran(out) and "data/hmdb5/index/videos.csv" in out, out
    _edit(root, lambda doc: (doc["evaluation"]["datasets"].remove("hmdb5"), doc["pretrain"].update(monitor="k400")))
    out = _dvc(root, "repro", ok=False)  # the first stage to run stops at once (every stage checks every rule)
    assert _ran(out) == {"pretrain"} and "error: params.yaml: pretrain.monitor = 'k400' is not an evaluation set" in out
    assert (root / "models/pretrain/encoder.pt").read_bytes() == encoder
