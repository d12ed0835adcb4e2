import dataclasses

import numpy as np
import pytest
import torch

from mscl.params import PretrainParams, default
from mscl.pretrain.monitor import TrainLog
from mscl.pretrain.train import build_model, build_optimizer, build_schedules, resume, save_checkpoint, train

P = default(PretrainParams, width=4, flow_width=4, queue_size=8, batch_size=2, epochs=4, warmup_epochs=1.0, lr=0.1, device="cpu")


def test_schedules_have_one_value_per_step():
    s = build_schedules(P, iters_per_epoch=5)
    assert s.total == 20 == len(s.m_rgb) == len(s.m_flow)
    assert s.lr[0] == pytest.approx(0.1 * 0.1) and s.lr[5] == pytest.approx(0.05 * (1 + np.cos(np.pi * 5 / 20)))
    assert s.m_rgb[0] == pytest.approx(0.994) and s.m_rgb[-1] < 1.0
    # the released flow branch advances its momentum twice per step: 1.0 from half-way on
    assert s.m_flow[10] == pytest.approx(1.0) and s.m_flow[9] < 1.0
    single = build_schedules(dataclasses.replace(P, single_flow_momentum_update=True), iters_per_epoch=5)
    assert np.array_equal(single.m_flow, single.m_rgb)


def test_model_follows_switches_and_weights():
    assert set(build_model(P).active) == {"rgb_moco", "flow_moco", "flow_rot_moco", "rgb_flow", "flow_rgb",
                                          "rgb_flow_rot", "flow_rot_rgb", "lmcl"}
    assert set(build_model(dataclasses.replace(P, method="moco")).active) == {"rgb_moco"}
    no_fra = build_model(dataclasses.replace(P, fra=False, lmcl_weight=0.0)).active
    assert set(no_fra) == {"rgb_moco", "flow_moco", "rgb_flow", "flow_rgb"}


def test_optimizer_skips_momentum_encoders():
    model = build_model(P)
    opt = build_optimizer(model, P)
    n_opt = sum(t.numel() for g in opt.param_groups for t in g["params"])
    assert n_opt == sum(t.numel() for t in model.parameters() if t.requires_grad) < sum(t.numel() for t in model.parameters())


class _Exploding(torch.nn.Module):
    """A toy model whose loss turns non-finite at its third step."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))
        self.calls, self.top1 = 0, {}

    def forward(self, rgb_q, rgb_k, **_):
        self.calls += 1
        scale = torch.tensor(float("inf") if self.calls == 3 else 1.0)
        return {"toy": self.w * rgb_q.mean() * scale}


def test_non_finite_loss_stops_with_a_clear_error(tmp_path):
    from mscl.data.pretrain import PretrainBatch

    views = {f: torch.rand(2, 3, 2, 4, 4) for f in ("rgb_q", "rgb_k", "flow_q", "flow_k", "flow_q_rot", "flow_k_rot")}
    batch = PretrainBatch(views=views, index=torch.arange(2), replaced=0, prepared=True)
    model = _Exploding()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = build_schedules(dataclasses.replace(P, epochs=1), iters_per_epoch=5)
    log = TrainLog(tmp_path / "live", total=5, start=0, log_every=1)
    with pytest.raises(FloatingPointError, match="non-finite loss at step 2"):
        train(model, model, [batch] * 5, opt, sched, start=0, p=P, device=torch.device("cpu"), log=log,
              checkpoint=tmp_path / "c.pt", fingerprint="x")
    log.close()


def test_checkpoint_restores_model_optimizer_and_rng(tmp_path):
    torch.manual_seed(0)
    model = build_model(P)
    opt = build_optimizer(model, P)
    model.rgb.queue.enqueue(torch.randn(4, 128))
    save_checkpoint(tmp_path / "c.pt", model, opt, step=7, run="run-a", summary={"loss": 1.5, "step": 7})
    expected_draw = torch.rand(3)
    torch.manual_seed(1)
    fresh = build_model(P)
    fresh_opt = build_optimizer(fresh, P)
    assert resume(tmp_path / "c.pt", fresh, fresh_opt, "other-run") == (0, {})  # another run's checkpoint is ignored
    assert resume(tmp_path / "c.pt", fresh, fresh_opt, "run-a") == (7, {"loss": 1.5, "step": 7})
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    assert torch.equal(torch.rand(3), expected_draw)
    assert resume(tmp_path / "missing.pt", fresh, fresh_opt, "run-a") == (0, {})
