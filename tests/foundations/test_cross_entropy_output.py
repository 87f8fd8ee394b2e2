"""Checks for cross_entropy_output.py: cross-entropy cancels the output's sigma'."""

from __future__ import annotations

import math

import cross_entropy_output as ce
import mlp_sensitivity as ms
import pytest
import torch
import torch.nn.functional as F
from sitecheck import expanded_page

PAGE = "docs/foundations/mlp-backprop.md"
D, H, B = 16, 32, 1024


def test_bce_delta_is_autograds(device: torch.device) -> None:
    gen = torch.Generator().manual_seed(1)
    z2 = (6 * torch.randn(300, 1, generator=gen, dtype=torch.float64)).to(device)
    y = torch.randint(0, 2, (300, 1), generator=gen).double().to(device)
    auto = ce.delta_autograd(F.binary_cross_entropy_with_logits, z2, y)
    torch.testing.assert_close(ce.delta2_bce(z2, y), auto)
    # the same loss written out as on the page, -y ln a2 - (1 - y) ln(1 - a2), away from 0 and 1
    z = z2.clamp(-10, 10).detach().requires_grad_(True)
    a2 = torch.sigmoid(z)
    (-(y * a2.log() + (1 - y) * (1 - a2).log())).sum().backward()
    torch.testing.assert_close(ce.delta2_bce(z.detach(), y), z.grad)


def test_mse_delta_is_autograds(device: torch.device) -> None:
    z2 = torch.linspace(-30, 30, 121, dtype=torch.float64, device=device).unsqueeze(1)
    for label in (0.0, 1.0):
        y = torch.full_like(z2, label)
        z = z2.clone().requires_grad_(True)
        (0.5 * (torch.sigmoid(z) - y).pow(2)).sum().backward()
        torch.testing.assert_close(ce.delta2_mse(z2, y), z.grad)


@pytest.mark.parametrize("K", [2, 5, 10])
def test_softmax_ce_delta_is_autograds(K: int, device: torch.device) -> None:
    gen = torch.Generator().manual_seed(K)
    z = (4 * torch.randn(64, K, generator=gen, dtype=torch.float64)).to(device)
    y = torch.randint(0, K, (64,), generator=gen).to(device)
    torch.testing.assert_close(ce.delta_softmax_ce(z, y), ce.delta_autograd(F.cross_entropy, z, y))
    assert torch.autograd.gradcheck(
        lambda t: F.cross_entropy(t, y, reduction="sum"), (z.detach().requires_grad_(True),)
    )


def test_mse_is_bce_times_sigma_prime() -> None:
    """The factor that cross-entropy cancels: delta_MSE = delta_BCE * sigma'(z2)."""
    z2 = torch.linspace(-20, 20, 81, dtype=torch.float64).unsqueeze(1)
    y = (torch.arange(81) % 2).double().unsqueeze(1)
    s = torch.sigmoid(z2)
    torch.testing.assert_close(ce.delta2_mse(z2, y), ce.delta2_bce(z2, y) * s * (1 - s))


def test_norms_match_the_sensitivity_sweep() -> None:
    """With MSE, the per-example norms are mlp_sensitivity's on the same problem."""
    torch.manual_seed(0)
    p, X, y = ce.make_problem(D, H, B)
    torch.manual_seed(0)
    p_ms, X_ms, y_ms = ms.make_problem(D, H, B)
    torch.testing.assert_close(X, X_ms)
    torch.testing.assert_close(y, y_ms)
    q = {k: 3 * v for k, v in p.items()}
    wrong = ce.wrong_example_norms(q, X, y, ce.delta2_mse)
    n = ms.grad_norms({k: 3 * v for k, v in p_ms.items()}, X, y)
    a2 = torch.sigmoid(torch.sigmoid(X @ q["W1"].T) @ q["W2"].T)
    is_wrong = ((a2 - y).abs() > 0.5).squeeze(1)
    torch.testing.assert_close(wrong["W1"], n["W1_each"][is_wrong])
    torch.testing.assert_close(wrong["W2"], n["W2_each"][is_wrong])


def test_bce_at_small_scale_is_four_times_mse() -> None:
    """c -> 0: a2 = 1/2, |delta2| = 1/2 with BCE and 1/8 with MSE; ||a1|| = sqrt(H)/2."""
    torch.manual_seed(0)
    p, X, y = ce.make_problem(D, H, 256)
    r = ce.weight_sweep(p, X, y, [1e-6])
    assert r["BCE W2"][0] == pytest.approx(math.sqrt(H) / 4, rel=1e-5)
    assert r["MSE W2"][0] == pytest.approx(math.sqrt(H) / 16, rel=1e-5)
    assert r["BCE W1"][0] == pytest.approx(4 * r["MSE W1"][0], rel=1e-5)


@pytest.mark.parametrize("seed", range(8))
def test_mse_collapses_and_bce_does_not(seed: int) -> None:
    """Measured over seeds 0-11 at c = 100: median over the wrong examples of ||dL_i/dW2|| is
    1e-24..1e-12 with MSE and 3.87..4.00 with BCE; of ||dL_i/dW1||, 1e-27..2e-13 and 1.7..3.9."""
    torch.manual_seed(seed)
    p, X, y = ce.make_problem(D, H, B)
    r = ce.weight_sweep(p, X, y, [1.0, 100.0])
    assert r["MSE W2"][1] < 1e-9 and r["MSE W1"][1] < 1e-9
    assert r["MSE W2"][1] < 1e-8 * r["MSE W2"][0]
    assert r["BCE W2"][1] > 3.0  # ~ ||a1|| = sqrt(number of active hidden units), about 4
    assert r["BCE W2"][1] > r["BCE W2"][0]
    assert r["BCE W1"][1] > 1.0


def test_wrong_examples_at_c_100_have_unit_error_and_half_the_units_on() -> None:
    """The page's reading of BCE's value at c = 100: |delta2| ~ 1 and ||a1|| ~ sqrt(H / 2)."""
    torch.manual_seed(0)
    p, X, y = ce.make_problem(D, H, B)
    a1 = torch.sigmoid(100 * X @ p["W1"].T)
    z2 = 100 * a1 @ p["W2"].T
    wrong = ((torch.sigmoid(z2) - y).abs() > 0.5).squeeze(1)
    assert 0.3 < wrong.double().mean().item() < 0.7  # "about half of them"
    assert ce.delta2_bce(z2, y)[wrong].abs().median().item() > 0.99
    on = (a1[wrong] > 0.5).double().sum(dim=1)
    assert 0.35 * H < on.median().item() < 0.65 * H
    r = ce.weight_sweep(p, X, y, [100.0])
    assert r["BCE W2"][0] == pytest.approx(a1[wrong].norm(dim=1).median().item(), rel=0.05)


def tex(number: float, digits: int = 2) -> str:
    mantissa, exponent = f"{number:.{digits}e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def test_page_quotes_the_cancellation_and_the_sweep() -> None:
    page = " ".join(expanded_page(PAGE).split())
    assert "## Cross-entropy: the output sigmoid's derivative cancels" in page
    assert r"\delta_2 = y_{\text{pred}} - y ." in page
    one = torch.ones(1, 1, dtype=torch.float64)
    z = torch.tensor([[-10.0]], dtype=torch.float64)
    mse, bce = ce.delta2_mse(z, one).abs().item(), ce.delta2_bce(z, one).abs().item()
    assert mse < 1e-4 and bce > 0.99  # a confident wrong answer: no gradient with MSE
    assert f"the squared error's $|\\delta_2|$ is ${tex(mse, 1)}$" in page
    torch.manual_seed(0)
    p, X, y = ce.make_problem(D, H, B)
    r = ce.weight_sweep(p, X, y, [1.0, 100.0])
    assert f"falls from ${r['MSE W2'][0]:.3f}$ at $c = 1$ to ${tex(r['MSE W2'][1])}$" in page
    assert f"cross-entropy it rises to ${r['BCE W2'][1]:.2f}$" in page
    bce_w1, mse_w1 = f"{r['BCE W1'][1]:.2f}", tex(r["MSE W1"][1])
    assert f"first layer survives too, ${bce_w1}$ against ${mse_w1}$" in page
