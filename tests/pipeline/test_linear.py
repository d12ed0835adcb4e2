"""The linear stage as DVC runs it, on tiny noise videos."""
import json

import pytest

from helpers import EVAL_VIEWS, run_stage


@pytest.mark.slow
def test_linear_writes_the_compared_metrics(tmp_path, write_params, labelled_inputs):
    params = write_params({"linear": {**EVAL_VIEWS, "crop_size": 16, "batch_size": 4, "epochs": 5, "probe_batch": 4}})
    done = run_stage("linear", params, **labelled_inputs, metrics=tmp_path / "metrics/linear.json")
    assert "train_videos 4" in done.stdout and "(pretrained init)" in done.stdout
    assert set(json.loads((tmp_path / "metrics/linear.json").read_text())) == {
        "clip_top1", "clip_top5", "video_top1", "video_top5", "videos_per_second"}
    params = write_params({"linear": {**EVAL_VIEWS, "crop_size": 16, "batch_size": 4, "epochs": 5, "probe_batch": 4},
                           "evaluation": {"init": "random"}})
    assert "(random init)" in run_stage("linear", params, **labelled_inputs, metrics=tmp_path / "m.json").stdout
