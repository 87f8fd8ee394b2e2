"""Checks for mlp_sensitivity.py: gradient norms vs input scale and weight scale."""

from __future__ import annotations

import math

import mlp_sensitivity as ms
import pytest
import torch

D, H, B = 16, 32, 1024  # main()'s problem


def per_example_grads_autograd(p, X, y):
    """Per-example dL_i/dW1 and dL_i/dW2 of L_i = 1/2 (y_pred_i - y_i)^2, with torch.func."""

    def loss_one(W1, W2, x, t):
        a1 = torch.sigmoid(x @ W1.T + p["b1"])
        a2 = torch.sigmoid(a1 @ W2.T + p["b2"])
        return 0.5 * (a2 - t).pow(2).sum()

    grad_fn = torch.func.vmap(torch.func.grad(loss_one, argnums=(0, 1)), in_dims=(None, None, 0, 0))
    return grad_fn(p["W1"], p["W2"], X, y)


def test_grad_norms_match_autograd(device: torch.device) -> None:
    torch.manual_seed(0)
    p = {k: v.to(device) for k, v in ms.init_params(5, 7).items()}
    p["b1"] = 0.3 * torch.randn(7, dtype=torch.float64, device=device)  # exercise the biases
    X = 2 * torch.randn(40, 5, dtype=torch.float64, device=device)
    y = torch.randint(0, 2, (40, 1), device=device).double()
    n = ms.grad_norms(p, X, y)
    dW1, dW2 = per_example_grads_autograd(p, X, y)
    torch.testing.assert_close(n["W1_each"], dW1.flatten(1).norm(dim=1))
    torch.testing.assert_close(n["W2_each"], dW2.flatten(1).norm(dim=1))
    leaves = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    a2 = torch.sigmoid(torch.sigmoid(X @ leaves["W1"].T + leaves["b1"]) @ leaves["W2"].T)
    (gW1,) = torch.autograd.grad(0.5 * (a2 - y).pow(2).mean(), leaves["W1"])
    torch.testing.assert_close(n["W1_batch"], gW1.norm())


def test_share_carrying_half() -> None:
    assert ms.share_carrying_half(torch.tensor([4.0, 1.0, 1.0, 1.0, 1.0])) == 0.2
    assert ms.share_carrying_half(torch.ones(10)) == 0.5
    assert ms.share_carrying_half(torch.tensor([0.0, 0.0, 0.0, 5.0])) == 0.25


def test_log_slope_recovers_a_power_law() -> None:
    x = torch.logspace(-3, 2, 11, dtype=torch.float64)
    assert ms.log_slope(x, 3 * x**1.7) == pytest.approx(1.7)


def test_small_scale_closed_forms() -> None:
    """Zero biases, c -> 0: a1 = a2 = 1/2, delta2 = (1/2 - y)/4 = +-1/8, delta1 = c W2^T delta2 / 4.

    So ||dL_i/dW2|| = ||a1|| / 8 = sqrt(H) / 16 and ||dL_i/dW1|| = c ||W2|| ||x_i|| / 32.
    """
    torch.manual_seed(3)
    p, X, y = ms.make_problem(D, H, 64)
    c = 1e-5
    n = ms.grad_norms({**p, "W1": c * p["W1"], "W2": c * p["W2"]}, X, y)
    torch.testing.assert_close(
        n["W2_each"], torch.full((64,), math.sqrt(H) / 16).double(), rtol=1e-4, atol=0
    )
    expected = c * p["W2"].norm() * X.norm(dim=1) / 32
    torch.testing.assert_close(n["W1_each"], expected, rtol=1e-4, atol=0)


@pytest.fixture(scope="module")
def sweeps() -> dict[str, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    p, X, y = ms.make_problem(D, H, B)
    scales = torch.logspace(-2, 3, 21, dtype=torch.float64)
    return {"scales": scales, **{w: ms.sweep(p, X, y, scales, w) for w in ("input", "weight")}}


def at(sweeps, what: str, key: str, scale: float) -> float:
    i = int(torch.argmin((sweeps["scales"] - scale).abs()))
    assert sweeps["scales"][i].item() == pytest.approx(scale, rel=1e-6)
    return sweeps[what][key][i].item()


@pytest.mark.parametrize("what", ["input", "weight"])
def test_linear_growth_at_small_scales(sweeps, what: str) -> None:
    small = sweeps["scales"] <= 0.1
    slope = ms.log_slope(sweeps["scales"][small], sweeps[what]["W1_median"][small])
    assert slope == pytest.approx(1.0, abs=0.01)


def test_input_scale_peak_and_collapse(sweeps) -> None:
    med = sweeps["input"]["W1_median"]
    peak = sweeps["scales"][med.argmax()].item()
    assert 10 <= peak <= 100  # quoted: peak at s = 31.6
    assert at(sweeps, "input", "W1_median", 1000) < 1e-9 * med.max().item()  # quoted: ~1e-10
    w2 = sweeps["input"]["W2_median"]  # layer 2 barely notices the input scale:
    assert w2.min().item() > 0.3 and w2.max().item() < 0.6
    assert w2.max().item() / w2.min().item() < 2  # quoted: less than a factor of two


def test_weight_scale_peak_and_collapse(sweeps) -> None:
    med = sweeps["weight"]["W1_median"]
    peak = sweeps["scales"][med.argmax()].item()
    assert 1 <= peak <= 10  # quoted: peak at c = 3.16
    assert at(sweeps, "weight", "W1_median", 100) < 1e-20  # quoted: ~3e-23
    assert at(sweeps, "weight", "W2_median", 100) < 1e-20
    assert at(sweeps, "weight", "W2_median", 0.01) == pytest.approx(math.sqrt(H) / 16, rel=1e-3)
    # the batch gradient falls only slowly: still > 1e-3 at c = 1000, where the medians are 0
    assert at(sweeps, "weight", "W1_batch", 1000) > 1e-3
    assert at(sweeps, "weight", "W1_batch", 100) > 1e15 * at(sweeps, "weight", "W1_median", 100)


def test_batch_gradient_is_carried_by_few_rows_when_saturated(sweeps) -> None:
    assert at(sweeps, "input", "half_share", 1) > 0.35  # quoted: 42%
    assert at(sweeps, "input", "half_share", 1000) < 0.02  # quoted: 1.3%
    assert at(sweeps, "weight", "half_share", 100) < 0.01  # quoted: 0.6%
    assert at(sweeps, "input", "W1_batch", 1000) > 1e8 * at(sweeps, "input", "W1_median", 1000)
    assert at(sweeps, "input", "W1_batch", 1000) > at(sweeps, "input", "W1_batch", 1)
    # at small scales per-example gradients partly cancel: batch norm below the median
    assert at(sweeps, "input", "W1_batch", 0.01) < at(sweeps, "input", "W1_median", 0.01)
