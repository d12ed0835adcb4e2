import dataclasses

from mscl.params import FlowParams, FramesParams, PretrainParams, default, output_values
from mscl.pipeline.resume import job_fingerprint


def test_fingerprint_follows_the_fields_declared_to_change_the_output():
    p = default(FramesParams)
    assert job_fingerprint(p, "digest") == job_fingerprint(dataclasses.replace(p, workers=7), "digest")
    assert job_fingerprint(p, "digest") != job_fingerprint(dataclasses.replace(p, short_side=64), "digest")
    assert job_fingerprint(p, "digest") != job_fingerprint(p, "other digest")
    # min_frames decides a status only; the frames stage applies it again to a reused container
    assert job_fingerprint(p, "d") == job_fingerprint(dataclasses.replace(p, min_frames=24), "d")


def test_output_values_leave_out_how_a_stage_works():
    how = {"workers", "device", "batch_pairs", "pictures", "compile", "backend", "splits"}
    assert how.isdisjoint(output_values(default(FlowParams)))
    assert {"offset", "step", "bound", "storage", "tau"} <= set(output_values(default(FlowParams)))
    kept = output_values(default(PretrainParams))
    assert "workers" not in kept and "log_every" not in kept and {"lr", "method", "seed"} <= set(kept)
