import pytest
import torch

from mscl.losses.objective import ROTATED_TERMS, TERMS, active_terms, nce_terms, needed_streams, total_loss

ALL_ONE = {name: 1.0 for name in TERMS}


def test_all_terms_active_by_default_in_order():
    assert list(active_terms(ALL_ONE, method="mscl", lmcl=True, fra=True)) == list(TERMS)


def test_switches_and_zero_weights_remove_terms():
    assert list(active_terms(ALL_ONE, method="moco", lmcl=True, fra=True)) == ["rgb_moco"]
    no_fra = active_terms(ALL_ONE, method="mscl", lmcl=True, fra=False)
    assert set(no_fra) == set(TERMS) - ROTATED_TERMS
    assert "lmcl" not in active_terms(ALL_ONE, method="mscl", lmcl=False, fra=True)
    some = active_terms({**ALL_ONE, "rgb_flow": 0.0, "lmcl": 0.5}, method="mscl", lmcl=True, fra=True)
    assert "rgb_flow" not in some and some["lmcl"] == 0.5


@pytest.mark.parametrize(
    "weights, method",
    [({"rgb_moco": -1.0}, "mscl"), ({"typo": 1.0}, "mscl"), ({"flow_moco": 1.0}, "moco"),
     (ALL_ONE, "dclr"), ({name: 0.0 for name in TERMS}, "mscl")],
)
def test_invalid_configurations_raise(weights, method):
    with pytest.raises(ValueError):
        active_terms(weights, method=method, lmcl=True, fra=True)


def test_literal_and_corrected_negative_banks():
    literal = nce_terms(exclude_positives_from_queue=False)
    corrected = nce_terms(exclude_positives_from_queue=True)
    # a term's own positive key must not sit in its bank when corrected
    for name, t in corrected.items():
        assert not (t.negatives == "flow_enqueued" and t.key == "flow"), name
    assert literal["rgb_flow"].negatives == "flow_enqueued"
    assert corrected["rgb_flow"].negatives == "flow"
    # the FRA negatives (original flow of the same clip) stay in both
    assert literal["flow_rot_moco"] == corrected["flow_rot_moco"] == ("flow_rot", "flow_rot", "flow_enqueued")
    # MoCo terms always read their own queue before this step's keys arrive
    assert literal["rgb_moco"].negatives == "rgb" and literal["flow_moco"].negatives == "flow"


def test_needed_streams():
    terms = nce_terms()
    everything = active_terms(ALL_ONE, method="mscl", lmcl=True, fra=True)
    assert needed_streams(everything, terms, fra=True) == (("rgb", "flow", "flow_rot"),) * 2
    # rgb -> flow alone: RGB queries; flow keys (positive and queue filler)
    assert needed_streams({"rgb_flow": 1.0}, terms, fra=True) == (("rgb",), ("flow",))
    # rotated flow -> RGB: rotated queries; RGB keys fill the RGB queue
    assert needed_streams({"flow_rot_rgb": 1.0}, terms, fra=True) == (("flow_rot",), ("rgb",))
    # rotated-flow MoCo reads the flow queue, which only original-flow keys fill
    assert needed_streams({"flow_rot_moco": 1.0}, terms, fra=True) == (("flow_rot",), ("flow", "flow_rot"))
    assert needed_streams({"lmcl": 1.0}, terms, fra=False) == (("rgb", "flow"), ())
    assert needed_streams({"lmcl": 1.0}, terms, fra=True) == (("rgb", "flow", "flow_rot"), ())


def test_total_loss_sums_terms():
    losses = {"a": torch.tensor(1.5), "b": torch.tensor(2.0)}
    assert total_loss(losses).item() == 3.5
