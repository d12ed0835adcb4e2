from mscl.pipeline.splits import mean_metrics, over_splits


def test_one_official_split_is_reported_as_it_is():
    metrics, compared = over_splits(["split"], lambda column: {"top1": 50.0, "split": "test"}, ("top1",))
    assert metrics == {"top1": 50.0, "split": "test"} and compared == ("top1",)


def test_several_official_splits_report_their_mean_and_keep_each():
    runs = {"split_1": {"top1": 50.0, "views": {"top1": 40.0}, "videos": 3, "split": "test"},
            "split_2": {"top1": 60.0, "views": {"top1": 45.0}, "videos": 4, "split": "test"},
            "split_3": {"top1": 71.0, "views": {"top1": 50.0}, "videos": 4, "split": "test"}}
    metrics, compared = over_splits(list(runs), runs.__getitem__, ("top1", "views"))
    assert metrics["top1"] == 60.33 and metrics["views"] == {"top1": 45.0} and metrics["videos"] == 3.67
    assert metrics["split"] == "test"
    assert metrics["split_2"] == {"top1": 60.0, "views": {"top1": 45.0}}  # each split's compared values
    assert compared == ("top1", "views", "split_1", "split_2", "split_3")
    assert mean_metrics([{"a": True}, {"a": False}]) == {"a": True}  # flags are no numbers
