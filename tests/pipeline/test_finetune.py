"""The finetune stage as DVC runs it, on tiny noise videos."""
import json

import pandas as pd
import pytest

from mscl.io.checkpoint import load_module_state

from helpers import EVAL_VIEWS, run_stage


@pytest.mark.slow
def test_finetune_writes_classifier_metrics_curves_and_confusion(tmp_path, write_params, labelled_inputs):
    params = write_params({"finetune": {**EVAL_VIEWS, "crop_size": 16, "test_crop_size": 16, "test_clips": 2,
                                        "test_crops": 3, "batch_size": 2, "epochs": 2, "milestones": [1]}})
    done = run_stage("finetune", params, **labelled_inputs, model_dir=tmp_path / "models/finetune",
                     metrics=tmp_path / "metrics/finetune.json", confusion=tmp_path / "reports/finetune/confusion.png",
                     live_dir=tmp_path / "dvclive/finetune")
    m = json.loads((tmp_path / "metrics/finetune.json").read_text())
    # the metrics file holds what experiments compare; counts and the split are printed
    assert set(m) == {"single_view", "multi_view", "final_train_loss"}
    assert set(m["multi_view"]) == {"clip_top1", "clip_top5", "video_top1", "video_top5"}
    assert "test_videos 2" in done.stdout and "split test" in done.stdout and "skipped_videos 1" in done.stdout
    _, sidecar = load_module_state(tmp_path / "models/finetune/classifier.pt")
    assert sidecar["classes"] == ["dark", "bright"] and sidecar["encoder"]["width"] == 4
    curve = pd.read_csv(tmp_path / "dvclive/finetune/plots/metrics/train/loss.tsv", sep="\t")
    assert list(curve["step"]) == [0, 1]
    assert (tmp_path / "reports/finetune/confusion.png").stat().st_size > 0
