"""The linear stage as DVC runs it, on tiny noise videos."""
import json

import pandas as pd
import pytest

from helpers import EVAL_VIEWS, run_stage


@pytest.mark.slow
def test_linear_writes_the_compared_metrics(tmp_path, write_params, labelled_inputs):
    params = write_params({"linear": {**EVAL_VIEWS, "crop_size": 16, "batch_size": 4, "epochs": 5, "probe_batch": 4}})
    done = run_stage("linear", params, **labelled_inputs, metrics=tmp_path / "metrics/linear.json")
    assert "train_videos 4" in done.stdout and "(pretrained init)" in done.stdout
    assert set(json.loads((tmp_path / "metrics/linear.json").read_text())) == {
        "clip_top1", "clip_top5", "video_top1", "video_top5"}
    params = write_params({"linear": {**EVAL_VIEWS, "crop_size": 16, "batch_size": 4, "epochs": 5, "probe_batch": 4},
                           "evaluation": {"init": "random"}})
    assert "(random init)" in run_stage("linear", params, **labelled_inputs, metrics=tmp_path / "m.json").stdout


@pytest.mark.slow
def test_linear_scores_the_split_asked_and_the_mean_of_several_official_splits(tmp_path, write_params, labelled_inputs):
    views = {"linear": {**EVAL_VIEWS, "crop_size": 16, "batch_size": 4, "epochs": 5, "probe_batch": 4}}
    done = run_stage("linear", write_params({**views, "evaluation": {"split": "val"}}), **labelled_inputs,
                     metrics=tmp_path / "val.json")
    assert "split val" in done.stdout and "test_videos 2" in done.stdout  # the two val videos are scored
    # two official splits: the second swaps the roles of the test and one train video per class
    videos = pd.read_csv(labelled_inputs["videos_csv"], keep_default_na=False)
    n = videos["video_id"].str.extract(r"_(\d)$")[0]
    videos["split_1"] = videos["split"]
    videos["split_2"] = videos["split"].where(~n.isin(["0", "1"]), n.map({"0": "train", "1": "test"}))
    videos.to_csv(labelled_inputs["videos_csv"], index=False)
    done = run_stage("linear", write_params(views), **labelled_inputs, metrics=tmp_path / "splits.json")
    m = json.loads((tmp_path / "splits.json").read_text())
    assert set(m) == {"clip_top1", "clip_top5", "video_top1", "video_top5", "split_1", "split_2"}
    assert set(m["split_1"]) == {"clip_top1", "clip_top5", "video_top1", "video_top5"}
    assert m["video_top1"] == round((m["split_1"]["video_top1"] + m["split_2"]["video_top1"]) / 2, 2)
