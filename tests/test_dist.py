import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mscl import dist as mdist


def test_single_process_fallbacks():
    assert not mdist.is_distributed()
    assert mdist.rank() == 0 and mdist.world_size() == 1 and mdist.is_main()
    x = torch.randn(5, 3)
    assert mdist.all_gather(x) is x


def test_autocast_keeps_the_cpu_in_float32_even_when_bf16_is_asked_for():
    x, w = torch.randn(4, 8), torch.randn(3, 8)
    for asked in (False, True):
        with mdist.autocast(torch.device("cpu"), asked):
            assert torch.nn.functional.linear(x, w).dtype == torch.float32


def test_single_process_shuffle_is_a_permutation_and_round_trips():
    torch.manual_seed(0)
    x = torch.arange(12.0).view(6, 2)
    shuffled, idx = mdist.batch_shuffle(x)
    assert sorted(shuffled[:, 0].tolist()) == x[:, 0].tolist()
    assert torch.equal(mdist.batch_unshuffle(shuffled, idx), x)


def _worker(r: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=r, world_size=world)
    try:
        torch.manual_seed(100 + r)  # different local RNG: the shared permutation must come from rank 0
        x = torch.arange(4.0).view(2, 2) + 10 * r  # rank r holds rows 10r + ...
        gathered = mdist.all_gather(x)
        shuffled, idx = mdist.batch_shuffle(x)
        back = mdist.batch_unshuffle(shuffled * 2, idx)
        torch.save(
            {"rank": mdist.rank(), "world": mdist.world_size(), "gathered": gathered,
             "shuffled": shuffled, "back": back, "x": x},
            f"{out_dir}/rank{r}.pt",
        )
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_process_gather_and_shuffle_round_trip(tmp_path):
    world = 2
    mp.spawn(_worker, args=(world, str(tmp_path / "init"), str(tmp_path)), nprocs=world, join=True)
    res = [torch.load(tmp_path / f"rank{r}.pt") for r in range(world)]
    expected = torch.cat([res[0]["x"], res[1]["x"]])
    for r, out in enumerate(res):
        assert out["rank"] == r and out["world"] == world
        assert torch.equal(out["gathered"], expected)
        # the unshuffled result is the per-sample output for this rank's own samples, in order
        assert torch.equal(out["back"], 2 * out["x"])
    # the shuffled shares partition the global batch
    shares = torch.cat([res[0]["shuffled"], res[1]["shuffled"]])
    assert sorted(shares[:, 0].tolist()) == sorted(expected[:, 0].tolist())
