"""The retrieve stage as DVC runs it, on tiny noise videos."""
import json

import pytest

from helpers import EVAL_VIEWS, run_stage


@pytest.mark.slow
def test_retrieve_writes_recalls_and_the_neighbours_picture(tmp_path, write_params, labelled_inputs):
    params = write_params({"retrieve": {**EVAL_VIEWS, "crop_size": 16, "batch_size": 4, "queries": 2, "shown": 3}})
    run_stage("retrieve", params, **labelled_inputs, metrics=tmp_path / "metrics/retrieval.json",
              picture=tmp_path / "reports/retrieve/neighbours.png")
    r = json.loads((tmp_path / "metrics/retrieval.json").read_text())
    assert list(r) == ["R@1", "R@5", "R@10", "R@20", "R@50"] and r["R@50"] == 100.0
    assert (tmp_path / "reports/retrieve/neighbours.png").stat().st_size > 0


@pytest.mark.slow
def test_bad_params_stop_before_any_work(tmp_path, write_params):
    params = write_params({"retrieve": {"crops": 2}})
    r = run_stage("retrieve", params, encoder=tmp_path / "e.pt", videos_csv=tmp_path / "v.csv",
                  frames_dir=tmp_path / "frames", metrics=tmp_path / "m.json", picture=tmp_path / "n.png", check=False)
    assert r.returncode != 0 and "retrieve.crops = 2 is not one of [1, 3]" in r.stderr
    assert not (tmp_path / "m.json").exists()
