import pandas as pd
import torch

from mscl.pretrain.monitor import TrainLog, truncate_curves


def test_log_means_and_resume_drops_rows_after_the_checkpoint(tmp_path):
    live = tmp_path / "live"
    log = TrainLog(live, total=6, start=0, log_every=2)
    for step in range(1, 7):
        log.step(step, {"a": torch.tensor(float(step)), "b": torch.tensor(1.0)}, lr=0.1, clips_per_s=10.0, replaced=1)
    log.close()
    curve = pd.read_csv(live / "plots/metrics/train/a.tsv", sep="\t")
    assert curve["step"].tolist() == [2, 4, 6] and curve["a"].tolist() == [1.5, 3.5, 5.5]
    assert pd.read_csv(live / "plots/metrics/train/loss.tsv", sep="\t")["loss"].tolist() == [2.5, 4.5, 6.5]
    assert log.summary()["replaced_samples"] == 6  # every replacement of the run
    assert pd.read_csv(live / "plots/metrics/train/replaced_samples.tsv", sep="\t")["replaced_samples"].tolist() == [2, 2, 2]
    truncate_curves(live, start=3)  # a checkpoint after 3 steps: the row of step 4 came later
    assert pd.read_csv(live / "plots/metrics/train/a.tsv", sep="\t")["step"].tolist() == [2]
    # the checkpoint's summary carries the replacements so far (2 in the window of step 2)
    resumed = TrainLog(live, total=6, start=3, log_every=2, last={"replaced_samples": 2.0})
    for step in (4, 5, 6):
        resumed.step(step, {"a": torch.tensor(9.0), "b": torch.tensor(0.0)}, lr=0.1, clips_per_s=1.0, replaced=1)
    resumed.close()
    assert pd.read_csv(live / "plots/metrics/train/a.tsv", sep="\t")["step"].tolist() == [2, 4, 6]
    assert resumed.summary()["replaced_samples"] == 5


def test_the_last_step_is_logged_even_off_the_logging_period(tmp_path):
    # 3 steps with log_every 5 used to end with nothing logged (KeyError 'loss' in the stage)
    log = TrainLog(tmp_path / "live", total=3, start=0, log_every=5)
    for step in range(1, 4):
        log.step(step, {"a": torch.tensor(float(step))}, lr=0.1, clips_per_s=1.0, replaced=0,
                 top1={"a": torch.tensor(0.5)})
    log.log_value(3, "knn_top1", 40.0)
    log.close()
    summary = log.summary()
    assert summary["step"] == 3 and summary["loss"] == 2.0 and summary["top1_a"] == 50.0 and summary["knn_top1"] == 40.0
    assert pd.read_csv(tmp_path / "live/plots/metrics/train/knn_top1.tsv", sep="\t")["step"].tolist() == [3]
