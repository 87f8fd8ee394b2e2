"""Checks for layer_norm_details.py: exact LayerNorm, its backward, scale invariance."""

from __future__ import annotations

import math

import layer_norm_details as lnd
import pytest
import torch
from sitecheck import expanded_page
from torch import nn

EPS = 1e-5
D = 16


def test_torch_layer_norm_default_eps_and_formula(device):
    assert nn.LayerNorm(8).eps == EPS
    torch.manual_seed(0)
    x = torch.randn(3, 7, D, dtype=torch.float64, device=device)
    ref = torch.nn.functional.layer_norm(x, (D,))
    torch.testing.assert_close(lnd.layer_norm_torch_formula(x), ref, rtol=0, atol=1e-12)
    # the two variants are different functions: they do not match torch
    assert (lnd.layer_norm_std_plus_eps(x) - ref).abs().max() > 1e-7
    assert (lnd.layer_norm_unbiased_var(x) - ref).abs().max() > 1e-3


@pytest.mark.parametrize("s", [1.0, 1e-1, 1e-2, 1e-3])
def test_output_std_of_each_variant_matches_closed_form(s, device):
    """Rows with biased std s: output std s/sqrt(s^2+eps), s/(s+eps), s/sqrt(s^2 D/(D-1)+eps)."""
    torch.manual_seed(1)
    x = lnd.rows_with_std(5, D, s, device=device)
    torch.testing.assert_close(
        x.std(dim=-1, unbiased=False), torch.full((5,), s, dtype=torch.float64, device=device)
    )
    closed = {
        lnd.layer_norm_torch_formula: s / math.sqrt(s**2 + EPS),
        lnd.layer_norm_std_plus_eps: s / (s + EPS),
        lnd.layer_norm_unbiased_var: s / math.sqrt(s**2 * D / (D - 1) + EPS),
    }
    for f, expected in closed.items():
        got = f(x).std(dim=-1, unbiased=False)
        torch.testing.assert_close(got, torch.full_like(got, expected), rtol=1e-9, atol=0)


def test_numbers_quoted_on_the_page():
    """The output stds the page quotes (D = 16) are the closed forms, to the 4 decimals shown."""

    def torch_ln(s):
        return s / math.sqrt(s**2 + EPS)

    def std_plus_eps(s):
        return s / (s + EPS)

    page = " ".join(expanded_page("docs/fixes/normalization.md").split())
    sentence = (
        "At $s = 10^{{-2}}$ PyTorch's output has standard deviation {:.4f} against {:.4f} for the "
        "$\\sigma + \\varepsilon$ version; at $s = 10^{{-3}}$ it is {:.4f} against {:.4f}:"
    )
    stds = torch_ln(1e-2), std_plus_eps(1e-2), torch_ln(1e-3), std_plus_eps(1e-3)
    assert sentence.format(*stds) in page
    unbiased = 1.0 / math.sqrt(D / (D - 1) + EPS)  # s = 1, unbiased variance
    assert f"{unbiased:.4f}" == f"{math.sqrt((D - 1) / D):.4f}"
    assert f"$\\sqrt{{(D-1)/D}} = {unbiased:.4f}$ for $D = {D}$" in page


@pytest.mark.parametrize("shape", [(1, 4), (8, 16), (2, 5, 32)])
def test_backward_by_hand_equals_autograd(shape, device):
    torch.manual_seed(2)
    d = shape[-1]
    x = (3 * torch.randn(shape, dtype=torch.float64, device=device)).requires_grad_()
    gamma = torch.rand(d, dtype=torch.float64, device=device, requires_grad=True)
    beta = torch.randn(d, dtype=torch.float64, device=device, requires_grad=True)
    grad_y = torch.randn(shape, dtype=torch.float64, device=device)
    torch.nn.functional.layer_norm(x, (d,), gamma, beta, eps=EPS).backward(grad_y)
    gx, gg, gb = lnd.layer_norm_backward(x.detach(), gamma.detach(), grad_y)
    torch.testing.assert_close(gx, x.grad, rtol=0, atol=1e-12)
    torch.testing.assert_close(gg, gamma.grad, rtol=0, atol=1e-12)
    torch.testing.assert_close(gb, beta.grad, rtol=0, atol=1e-12)


def test_gradcheck_variants_float64():
    torch.manual_seed(3)
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    for f in (
        lnd.layer_norm_torch_formula,
        lnd.layer_norm_std_plus_eps,
        lnd.layer_norm_unbiased_var,
    ):
        assert torch.autograd.gradcheck(f, (x,))


def test_gradient_has_no_component_along_ones_or_x_hat(device):
    """Row sums are exactly zero; <dL/dx, x_hat> is zero when eps = 0."""
    torch.manual_seed(4)
    x = torch.randn(8, D, dtype=torch.float64, device=device)
    gamma = torch.rand(D, dtype=torch.float64, device=device)
    grad_y = torch.randn(8, D, dtype=torch.float64, device=device)
    gx, _, _ = lnd.layer_norm_backward(x, gamma, grad_y)
    assert gx.sum(dim=-1).abs().max() < 1e-12
    gx0, _, _ = lnd.layer_norm_backward(x, gamma, grad_y, eps=0.0)
    x_hat = lnd.layer_norm_torch_formula(x, eps=0.0)
    assert (gx0 * x_hat).sum(dim=-1).abs().max() < 1e-12
    # with eps > 0 the cosine is small but not zero: the page prints it
    cos = (gx * x_hat).sum(-1) / (gx.norm(dim=-1) * x_hat.norm(dim=-1))
    assert cos.abs().max() < 1e-3


def test_scale_invariance_divides_gradient_by_c(device):
    """LN(x (cW)^T) = LN(x W^T) up to eps, and dL/d(cW) = (1/c) dL/dW (Euler, degree 0)."""
    torch.manual_seed(5)
    # Drawn on the CPU and moved: eps makes the 1/c rule inexact by up to ~3e-6 of the largest
    # entry, near atol for some draws, so every device checks this (passing) CPU draw.
    w, x, target = (torch.randn(n, 32, dtype=torch.float64).to(device) for n in (32, 64, 64))
    y1, g1 = lnd.weight_grad_at_scale(w, x, target, 1.0)
    for c in [0.5, 2.0, 10.0]:
        y, g = lnd.weight_grad_at_scale(w, x, target, c)
        assert (y - y1).abs().max() < 1e-4
        torch.testing.assert_close(g * c, g1, rtol=1e-4, atol=1e-8)
    cos = (g1 * w).sum() / (g1.norm() * w.norm())
    assert abs(cos.item()) < 1e-4


def test_effective_learning_rate_goes_as_one_over_norm_squared():
    """One SGD step turns cW by ||lr g|| / ||cW||, which is 1/c^2 of the turn at c = 1: with
    the same learning rate, ten times larger weights learn a hundred times more slowly."""
    torch.manual_seed(6)
    w, x, target = (torch.randn(n, 32, dtype=torch.float64) for n in (32, 64, 64))
    _, g1 = lnd.weight_grad_at_scale(w, x, target, 1.0)
    base = lnd.relative_step(w, g1, 0.1)
    for c in [0.5, 2.0, 10.0, 100.0]:
        _, g = lnd.weight_grad_at_scale(w, x, target, c)
        assert lnd.relative_step(c * w, g, 0.1) / base == pytest.approx(1 / c**2, rel=1e-4)
    # the step that counts: after it, the output moves as much as the turn says, so the
    # output change of a step at scale c is 1/c^2 of the one at c = 1 (to first order)
    moved = []
    for c in [1.0, 10.0]:
        _, g = lnd.weight_grad_at_scale(w, x, target, c)
        y0 = lnd.layer_norm_torch_formula(x @ (c * w).T)
        y1 = lnd.layer_norm_torch_formula(x @ (c * w - 1e-3 * g).T)
        moved.append(float((y1 - y0).norm()))
    assert moved[1] / moved[0] == pytest.approx(1e-2, rel=0.02)


def test_page_draws_the_effective_learning_rate_conclusion():
    page = " ".join(expanded_page("docs/fixes/normalization.md").split())
    assert "\\eta / \\|W\\|^2" in page
    assert "[Santurkar et al.](../reference/references.md#santurkar2018) (2018" in page


def test_layer_norm_jacobian_closed_form(device):
    """dx_hat/dx = (1/s) (I - 1 1^T / D - x_hat x_hat^T / D), exactly, eps included."""
    torch.manual_seed(6)
    d = 7
    x = torch.randn(d, dtype=torch.float64, device=device)
    jac = torch.autograd.functional.jacobian(lnd.layer_norm_torch_formula, x)
    s = torch.sqrt(x.var(unbiased=False) + EPS)
    x_hat = (x - x.mean()) / s
    eye = torch.eye(d, dtype=torch.float64, device=device)
    expected = (
        eye
        - torch.ones(d, d, dtype=torch.float64, device=device) / d
        - torch.outer(x_hat, x_hat) / d
    ) / s
    torch.testing.assert_close(jac, expected, rtol=1e-10, atol=1e-12)
