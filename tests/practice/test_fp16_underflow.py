"""Checks for fp16_underflow.py: classifying values, and the trained model's gradients."""

from __future__ import annotations

import fp16_underflow as fu
import pytest
import torch

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def test_fate_in_on_hand_picked_values(device) -> None:
    v = torch.tensor([1e-9, 1e-6, 1e-3, 1e5], device=device)
    assert fu.fate_in(v, torch.float16) == {"zero": 0.25, "subnormal": 0.25, "inf": 0.25}
    assert fu.fate_in(v, torch.float16, 2.0**16) == {"zero": 0.0, "subnormal": 0.0, "inf": 0.25}
    assert fu.fate_in(v, torch.bfloat16) == {"zero": 0.0, "subnormal": 0.0, "inf": 0.0}
    edges = torch.tensor([2.0**-24, 2.0**-14, 2.0**-25], device=device)
    assert fu.fate_in(edges, torch.float16) == pytest.approx(
        {"zero": 1 / 3, "subnormal": 1 / 3, "inf": 0.0}
    )


def test_markov_batch_targets_are_the_next_tokens() -> None:
    gen = torch.Generator().manual_seed(0)
    trans = torch.softmax(torch.randn(fu.VOCAB, fu.VOCAB, generator=gen), dim=1)
    x, y = fu.markov_batch(trans, 4, gen)
    assert x.shape == y.shape == (4, fu.SEQ)
    assert torch.equal(x[:, 1:], y[:, :-1])


@pytest.fixture(scope="module")
def trained():
    return fu.train_lm()


def test_underflow_grows_with_the_batch_and_scaling_removes_it(trained) -> None:
    model, trans, gen = trained
    fractions = {}
    for batch in (16, 256):
        x, y = fu.markov_batch(trans, batch, gen)
        params, acts = fu.gradients(model, x, y)
        assert torch.all(params != 0) and torch.all(acts != 0)
        fractions[batch] = fu.fate_in(acts, torch.float16)
        assert fu.fate_in(acts, torch.float16, 2.0**16)["zero"] < 1e-5  # prints as 0.00%
        assert fu.fate_in(acts, torch.bfloat16)["zero"] == 0.0
        assert fu.fate_in(params, torch.bfloat16)["zero"] == 0.0
        assert fu.fate_in(acts, torch.float16, 2.0**16)["inf"] == 0.0
    # The loss is a mean over batch x SEQ tokens, so a larger batch shrinks each element.
    assert fractions[256]["subnormal"] > fractions[16]["subnormal"] + 0.2
    assert fractions[256]["zero"] > 0.005
    assert fractions[256]["zero"] + fractions[256]["subnormal"] > 0.95


def test_model_has_no_biases_in_the_blocks(trained) -> None:
    model, _, _ = trained
    names = [n for n, _ in model.named_parameters() if n.startswith("blocks")]
    assert names and not any("bias" in n for n in names)
