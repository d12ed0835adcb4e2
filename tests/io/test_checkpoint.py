import json

import torch

from mscl.io.checkpoint import load_module_state, load_state, save_module, save_state, sidecar_path


def test_module_round_trip_with_sidecar(tmp_path):
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    save_module(tmp_path / "m.pt", net, {"backbone": "toy", "width": 4})
    state, side = load_module_state(tmp_path / "m.pt")
    assert side["backbone"] == "toy" and side["width"] == 4 and "code_version" not in side
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    fresh.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), fresh.state_dict().values()))
    assert json.loads(sidecar_path(tmp_path / "m.pt").read_text())["width"] == 4


def test_training_state_loads_with_weights_only(tmp_path):
    state = {"step": 7, "rng": torch.get_rng_state(), "np_rng": {"state": {"key": 1, "pos": 2}}, "losses": [1.0, 0.5]}
    save_state(tmp_path / "s.pt", state)
    back = load_state(tmp_path / "s.pt")
    assert back["step"] == 7 and torch.equal(back["rng"], state["rng"]) and back["np_rng"] == state["np_rng"]


def test_the_same_weights_make_the_same_bytes(tmp_path):
    """No commit, date or temporary name inside: DVC hashes an unchanged encoder unchanged."""
    net = torch.nn.Linear(3, 4)
    for d in ("a", "b"):
        save_module(tmp_path / d / "encoder.pt", net, {"backbone": "toy"})
    for name in ("encoder.pt", "encoder.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
