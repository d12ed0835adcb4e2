import pytest
import torch
import yaml
from torch import nn

from helpers import REPO
from mscl.dist import batch_shuffle, batch_unshuffle
from mscl.models.sync_bn import GlobalBatchNorm, SplitBatchNorm, convert_batchnorm, global_moments


def _input_and_reference(seed: int) -> tuple[torch.Tensor, nn.BatchNorm3d]:
    """A (6, 4, 3, 5, 5) input that needs gradients and a BatchNorm3d(4) with a random affine part."""
    torch.manual_seed(seed)
    x = torch.randn(6, 4, 3, 5, 5, requires_grad=True)
    ref = nn.BatchNorm3d(4)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-1, 1)
    return x, ref


def test_single_process_matches_batchnorm_forward_backward_and_running_stats():
    x, ref = _input_and_reference(0)
    ours = convert_batchnorm(nn.Sequential(ref.__class__(4)))[0]
    ours.load_state_dict(ref.state_dict())
    y_ref, y = ref(x), ours(x)
    assert isinstance(ours, GlobalBatchNorm)
    assert torch.allclose(y, y_ref, atol=1e-5)
    g_ref = torch.autograd.grad((y_ref ** 3).sum(), x)[0]
    g = torch.autograd.grad((y ** 3).sum(), x)[0]
    assert torch.allclose(g, g_ref, atol=1e-4)
    assert torch.allclose(ours.running_mean, ref.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, ref.running_var, atol=1e-5)
    ours.eval(), ref.eval()
    assert torch.allclose(ours(x), ref(x), atol=1e-5)


def test_moments_hand_computed():
    x = torch.tensor([[[1.0, 3.0]], [[5.0, 7.0]]])  # (B=2, C=1, L=2)
    mean, var, n = global_moments(x)
    assert n == 4 and mean.tolist() == [4.0] and var.tolist() == [5.0]


def test_convert_keeps_frozen_parameters_frozen():
    net = nn.Sequential(nn.Conv3d(1, 2, 1), nn.BatchNorm3d(2))
    for p in net.parameters():
        p.requires_grad_(False)
    net = convert_batchnorm(net)
    assert isinstance(net[1], GlobalBatchNorm) and not net[1].weight.requires_grad


def test_split_matches_batchnorm_per_interleaved_group():
    x, ref = _input_and_reference(1)
    ours = convert_batchnorm(nn.Sequential(nn.BatchNorm3d(4)), splits=3)[0]
    ours.load_state_dict(ref.state_dict())
    assert isinstance(ours, SplitBatchNorm)
    copies = [nn.BatchNorm3d(4) for _ in range(3)]
    for c in copies:
        c.load_state_dict(ref.state_dict())
    y = ours(x.contiguous(memory_format=torch.channels_last_3d))
    y_ref = torch.empty_like(y)
    for g, c in enumerate(copies):  # group g holds samples g, g + 3
        y_ref[g::3] = c(x[g::3])
    assert torch.allclose(y, y_ref, atol=1e-5)
    g_ref = torch.autograd.grad((y_ref ** 3).sum(), x)[0]
    g = torch.autograd.grad((y ** 3).sum(), x)[0]
    assert torch.allclose(g, g_ref, atol=1e-4)
    # running statistics: the mean of what each group's BatchNorm would have recorded
    assert torch.allclose(ours.running_mean, sum(c.running_mean for c in copies) / 3, atol=1e-6)
    assert torch.allclose(ours.running_var, sum(c.running_var for c in copies) / 3, atol=1e-5)
    ours.eval()
    plain = nn.BatchNorm3d(4)
    plain.load_state_dict(ours.state_dict())
    assert torch.allclose(ours(x), plain.eval()(x), atol=1e-6)


def test_split_lets_a_shuffle_change_the_statistics():
    """One group: permuting the batch permutes the output (shuffle-BN has no effect); two groups:
    samples meet other samples, so their outputs change."""
    torch.manual_seed(2)
    x = torch.randn(8, 3, 2, 4, 4)
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(3))
    whole = convert_batchnorm(nn.BatchNorm3d(3), splits=1)
    assert torch.allclose(whole(x[perm]), whole(x)[perm], atol=1e-5)
    split = convert_batchnorm(nn.BatchNorm3d(3), splits=2)
    assert not torch.allclose(split(x[perm]), split(x)[perm], atol=1e-3)


def test_split_rejects_a_batch_it_cannot_divide():
    bn = SplitBatchNorm(3, splits=4)
    with pytest.raises(ValueError, match="does not split into 4"):
        bn(torch.randn(6, 3, 2))


def _one_process_configurations():
    """(where, bn_splits, batch_size) of every configuration the project ships for one process:
    params.yaml and each benchmark preset over it (the paper preset runs one process per GPU)."""
    base = yaml.safe_load((REPO / "params.yaml").read_text())["pretrain"]
    yield "params.yaml", base["bn_splits"], base["batch_size"]
    for preset in sorted((REPO / "benchmarks").glob("*.yaml")):
        own = (yaml.safe_load(preset.read_text()).get("params") or {}).get("pretrain") or {}
        yield preset.name, own.get("bn_splits", base["bn_splits"]), own.get("batch_size", base["batch_size"])


@pytest.mark.parametrize("where, splits, batch", list(_one_process_configurations()))
def test_shuffle_bn_hides_the_positive_in_every_shipped_single_process_configuration(where, splits, batch):
    """The key encoder normalises each key with other statistics than its query's: the shortcut
    MoCo's shuffle-BN removes. With one group (bn_splits 1) every key equals its query exactly."""
    torch.manual_seed(0)
    net = convert_batchnorm(nn.BatchNorm3d(3), splits=splits) if splits > 1 else nn.BatchNorm3d(3)
    same_output, other_group = [], []
    for _ in range(50):
        x = torch.randn(batch, 3, 2, 3, 3)
        q = net(x)  # the query encoder's pass, in batch order
        shuffled, idx_unshuffle = batch_shuffle(x)
        k = batch_unshuffle(net(shuffled), idx_unshuffle)  # the key encoder's pass (same weights)
        same_output.append(torch.isclose(k, q, atol=1e-5).flatten(1).all(1).float().mean().item())
        where_key = idx_unshuffle[:batch] % splits  # BatchNorm group of sample i's key: its shuffled position mod G
        other_group.append((where_key != torch.arange(batch) % splits).float().mean().item())
    assert sum(same_output) / 50 < 0.05, f"{where}: keys normalised exactly like their queries (bn_splits {splits})"
    assert abs(sum(other_group) / 50 - (splits - 1) / splits) < 0.05, where
