import dataclasses

import pytest
import yaml

from mscl.params import (SECTIONS, SOURCE_KEYS, DatasetParams, FlowParams, FramesParams, ParamsError, PretrainParams,
                         default, from_dict, load_section)

from helpers import REPO, run_stage


def test_repository_params_load_and_list_every_field():
    doc = yaml.safe_load((REPO / "params.yaml").read_text())
    for name, cls in SECTIONS.items():
        p = load_section(REPO / "params.yaml", name)
        if cls is DatasetParams:  # {dataset name: its entry}, which lists what its source reads
            assert p and all(isinstance(d, cls) for d in p.values())
            for dataset, entry in doc[name].items():
                assert set(entry) == {"source", *SOURCE_KEYS[entry["source"]]}, dataset
            continue
        assert isinstance(p, cls)
        # every field is spelled out in params.yaml, so `dvc params diff` shows every value
        assert set(doc[name]) == {f.name for f in dataclasses.fields(cls)}, name


def build(cls, raw: dict, name: str):
    """``from_dict`` over the repository's section ``name`` with ``raw`` changed."""
    return from_dict(cls, {**yaml.safe_load((REPO / "params.yaml").read_text())[name], **raw}, name)


def test_sections_have_no_defaults_and_a_missing_key_is_named():
    for name, cls in SECTIONS.items():
        assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                   for f in dataclasses.fields(cls)), name
    doc = yaml.safe_load((REPO / "params.yaml").read_text())["flow"]
    del doc["tau"]
    with pytest.raises(ParamsError, match="section 'flow' lacks tau"):
        from_dict(FlowParams, doc, "flow")
    assert default(FlowParams, workers=5) == build(FlowParams, {"workers": 5}, "flow")


def test_unknown_key_names_section_and_suggests():
    with pytest.raises(ParamsError, match=r"unknown key flow\.taus; did you mean 'tau'"):
        build(FlowParams, {"taus": 0.1}, "flow")


def test_wrong_type_is_rejected():
    with pytest.raises(ParamsError, match=r"frames\.workers = '2' has type str, expected int"):
        build(FramesParams, {"workers": "2"}, "frames")
    with pytest.raises(ParamsError, match="expected int"):
        build(FramesParams, {"workers": True}, "frames")
    with pytest.raises(ParamsError, match="expected int"):
        build(FramesParams, {"workers": 2.5}, "frames")


def test_int_accepted_for_float_and_converted():
    p = build(FlowParams, {"bound": 20}, "flow")
    assert p.bound == 20.0 and isinstance(p.bound, float)


def test_out_of_range_and_bad_choice():
    with pytest.raises(ParamsError, match=r"flow\.tau = 0\.5 is above the maximum 0\.25"):
        build(FlowParams, {"tau": 0.5}, "flow")
    with pytest.raises(ParamsError, match="below the minimum"):
        build(FramesParams, {"short_side": 0}, "frames")
    with pytest.raises(ParamsError, match=r"not one of \['auto', 'opencv', 'torch'\]"):
        build(FlowParams, {"backend": "gpu"}, "flow")


def test_missing_section_and_non_mapping(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"frames": yaml.safe_load((REPO / "params.yaml").read_text())["frames"]}))
    with pytest.raises(ParamsError, match="section 'flow' is missing"):
        load_section(path, "flow")
    path.write_text("frames: [1, 2]\n")
    with pytest.raises(ParamsError, match="must be a mapping"):
        load_section(path, "frames")
    with pytest.raises(ParamsError, match="no params section named 'nope'"):
        load_section(path, "nope")


def test_sections_are_frozen():
    p = build(FramesParams, {}, "frames")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.workers = 3


def test_every_section_is_validated_whichever_the_stage_reads(write_params):
    bad = write_params({"finetune": {"lrr": 0.1}})
    with pytest.raises(ParamsError, match=r"finetune\.lrr; did you mean 'lr'"):
        load_section(bad, "datasets")


def test_a_misspelt_section_name_is_an_error_and_other_keys_are_left_alone(tmp_path):
    doc = yaml.safe_load((REPO / "params.yaml").read_text())
    doc["notes"] = {"anything": 1}
    (tmp_path / "ok.yaml").write_text(yaml.safe_dump(doc))
    assert load_section(tmp_path / "ok.yaml", "datasets")["motion"].source == "synthetic"
    doc["pretrian"] = {"lr": 1.0}
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ParamsError, match="unknown section 'pretrian'; did you mean 'pretrain'"):
        load_section(tmp_path / "typo.yaml", "datasets")


def test_a_stage_stops_before_any_work_with_one_line_and_no_traceback(write_params, tmp_path):
    bad = write_params({"retrieve": {"clips": 0}})
    done = run_stage("index", bad, dataset="motion", videos_csv=tmp_path / "videos.csv", raw_dir=tmp_path / "raw",
                     log=tmp_path / "index.json", check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == ["error: params.yaml: retrieve.clips = 0 is below the minimum 1"]
    assert not (tmp_path / "raw").exists() and not (tmp_path / "videos.csv").exists()


def test_pretrain_rejects_checkpoints_between_log_windows():
    with pytest.raises(ParamsError, match=r"checkpoint_every \(50\) must be a multiple of pretrain.log_every \(7\)"):
        build(PretrainParams, {"checkpoint_every": 50, "log_every": 7}, "pretrain")
    build(PretrainParams, {"checkpoint_every": 49, "log_every": 7}, "pretrain")


@pytest.mark.parametrize("values, message", [
    ({"queue_size": 8, "batch_size": 16}, r"queue_size \(8\) must hold at least one batch"),
    ({"batch_size": 10, "gpus": 4}, r"batch_size \(10\) must divide evenly over 4 processes"),
    ({"width": 16, "flow_width": 8}, r"width \(16\) must equal pretrain.flow_width \(8\)"),
    ({"bn_splits": 2, "sync_bn": True}, r"bn_splits \(2\) needs pretrain.sync_bn: false"),
    ({"bn_splits": 3, "batch_size": 16, "gpus": 2}, r"bn_splits \(3\) .* divide each process's batch \(8\)"),
    ({"method": "dclr", "dclr_topk": 16, "queue_size": 16}, r"dclr_topk \(16\) must be below pretrain.queue_size"),
])
def test_pretrain_rejects_combinations_that_cannot_train(values, message):
    with pytest.raises(ParamsError, match=message):
        build(PretrainParams, values, "pretrain")
    if "width" in values:  # without LMCL (or with MoCo) the widths may differ
        build(PretrainParams, {**values, "lmcl": False}, "pretrain")
        build(PretrainParams, {**values, "method": "moco"}, "pretrain")


def test_flow_compose_needs_every_frame_between_pairs_chained():
    with pytest.raises(ParamsError, match=r"flow.step \(4\) must not exceed flow.offset \(2\)"):
        build(FlowParams, {"compose": True, "offset": 2, "step": 4}, "flow")
    build(FlowParams, {"compose": False, "offset": 2, "step": 4}, "flow")
    build(FlowParams, {"compose": True, "offset": 8, "step": 2}, "flow")


def test_every_backbone_the_models_build_is_a_valid_choice_for_each_method():
    from mscl.models.r3d import BACKBONES

    fields = {f.name: f for f in dataclasses.fields(PretrainParams)}
    assert fields["backbone"].metadata["choices"] == fields["dclr_backbone"].metadata["choices"] == BACKBONES
    p = build(PretrainParams, {"method": "dclr", "backbone": "r2plus1d_18", "dclr_backbone": "r2plus1d_10",
                               "clip_len": 8, "dclr_clip_len": 16}, "pretrain")
    assert (p.method_backbone, p.frames_per_clip) == ("r2plus1d_10", 16)
    p = dataclasses.replace(p, method="moco")
    assert (p.method_backbone, p.frames_per_clip) == ("r2plus1d_18", 8)


# --------------------------------------------------------------------------- named datasets and roles


def _datasets(**entries):
    doc = yaml.safe_load((REPO / "params.yaml").read_text())["datasets"]
    return from_dict(DatasetParams, {**doc, **entries}, "datasets")


def test_a_dataset_lists_exactly_the_keys_its_source_reads():
    ucf = {"source": "ucf101", "root": "/data/ucf101", "splits": [1, 2, 3], "val_fraction": 0.1}
    p = _datasets(ucf101=ucf)["ucf101"]
    assert p.splits == (1, 2, 3) and p.root == "/data/ucf101" and p.seed is None and p.test_fraction is None
    for entry, message in [
        ({**ucf, "seed": 0}, r"datasets\.ucf101\.seed is not read by source ucf101 \(it reads root, splits, val_fraction\)"),
        ({k: v for k, v in ucf.items() if k != "splits"}, r"datasets\.ucf101 lacks splits"),
        ({**ucf, "split": 1}, r"unknown key datasets\.ucf101\.split; did you mean 'splits'"),
        ({**ucf, "splits": [4]}, r"datasets\.ucf101\.splits = 4 is above the maximum 3"),
        ({**ucf, "splits": [1, 1]}, r"datasets\.ucf101\.splits = \[1, 1\] must name official splits"),
        ({**ucf, "source": "ucf"}, r"datasets\.ucf101\.source = 'ucf' is not one of"),
        ({"root": "/x"}, r"datasets\.ucf101 needs a source"),
    ]:
        with pytest.raises(ParamsError, match=message):
            _datasets(ucf101=entry)
    with pytest.raises(ParamsError, match=r"datasets\.motion: test_fraction \(0\.5\) \+ val_fraction \(0\.5\) leave no train"):
        _datasets(motion={**yaml.safe_load((REPO / "params.yaml").read_text())["datasets"]["motion"],
                          "test_fraction": 0.5, "val_fraction": 0.5})
    with pytest.raises(ParamsError, match="dataset name 'ucf 101' may hold only letters"):
        _datasets(**{"ucf 101": ucf})


@pytest.mark.parametrize("overrides, message", [
    ({"pretrain": {"data": "motoin"}}, r"pretrain\.data = 'motoin' names no dataset; did you mean 'motion'\? "
                                       r"\(datasets: motion, relative\)"),
    ({"evaluation": {"datasets": ["motion", "ucf101"]}}, r"evaluation\.datasets = 'ucf101' names no dataset"),
    ({"evaluation": {"datasets": []}}, r"evaluation\.datasets = \[\] must name one or more datasets"),
    ({"evaluation": {"datasets": ["relative"]}}, r"pretrain\.monitor = 'motion' is not an evaluation set"),
    ({"datasets": {"relative": {"val_fraction": 0.0}}, "evaluation": {"split": "val"}},
     r"evaluation\.split = 'val', but datasets\.relative\.val_fraction is 0"),
    ({"datasets": {"motion": {"val_fraction": 0.0}}}, r"pretrain\.monitor = 'motion', whose val_fraction is 0"),
    ({"flow": {"splits": ["val"]}}, r"flow\.splits = \['val'\] lacks train: pretrain\.method mscl reads"),
    ({"datasets": {"ucf101": {"source": "ucf101", "root": "/x", "splits": [1, 2], "val_fraction": 0.1}},
      "pretrain": {"data": "ucf101"}}, r"datasets\.ucf101\.splits = \[1, 2\]: the pretraining set"),
])
def test_bad_combinations_of_roles_and_datasets_stop_with_one_line(write_params, overrides, message):
    with pytest.raises(ParamsError, match=message):
        load_section(write_params(overrides), "frames")


def test_roles_that_fit_load(write_params):
    # one dataset in both roles (the single-dataset case), the monitor's val off with knn_every 0
    one = write_params({"evaluation": {"datasets": ["motion"]}, "datasets": {"motion": {"val_fraction": 0.0}},
                        "pretrain": {"knn_every": 0}})
    assert load_section(one, "evaluation").datasets == ("motion",)
    assert load_section(write_params({"flow": {"splits": ["val"]}, "pretrain": {"method": "moco"}}), "flow")


def test_the_index_stage_refuses_a_bad_combination_before_any_work(write_params, tmp_path):
    bad = write_params({"pretrain": {"data": "kinetics400"}})
    done = run_stage("index", bad, dataset="motion", videos_csv=tmp_path / "videos.csv", raw_dir=tmp_path / "raw",
                     log=tmp_path / "index.json", check=False)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "pretrain.data = 'kinetics400' names no dataset" in done.stderr
    assert not (tmp_path / "raw").exists()
    unknown = run_stage("index", write_params(), dataset="hmdb51", videos_csv=tmp_path / "videos.csv",
                        raw_dir=tmp_path / "raw", log=tmp_path / "index.json", check=False)
    assert unknown.returncode == 1 and "no dataset named 'hmdb51' (datasets: motion, relative)" in unknown.stderr
