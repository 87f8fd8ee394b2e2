"""Checks for gradient_descent_2d.py: the gradient, finite differences, descent."""

from __future__ import annotations

import math

import gradient_descent_2d as gd
import pytest
import torch
from sitecheck import expanded_page


def closed_form_grad(w: torch.Tensor) -> torch.Tensor:
    """dL/dw of (w1 - 1)^2 + 3 (w2 - w1^2 / 2)^2, differentiated on paper."""
    w1, w2 = w[0], w[1]
    u = w2 - 0.5 * w1**2
    return torch.stack([2 * (w1 - 1) - 6 * w1 * u, 6 * u])


def smooth_test_function(w: torch.Tensor) -> torch.Tensor:
    """A second, unrelated smooth function of a (3, 2) tensor, to test the helpers generically."""
    A = torch.tensor([[0.3, -1.2, 0.7], [1.1, 0.4, -0.5]], dtype=w.dtype, device=w.device)
    return (torch.sin(w) * torch.exp(-(w**2))).sum() + torch.log1p((A @ w).pow(2)).sum()


def test_toy_loss_minimum(device: torch.device) -> None:
    w_star = torch.tensor([1.0, 0.5], dtype=torch.float64, device=device)
    assert gd.toy_loss(w_star).item() == 0.0
    assert torch.all(gd.grad_autograd(gd.toy_loss, w_star) == 0)


def test_autograd_matches_closed_form(device: torch.device) -> None:
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        w = (4 * torch.rand(2, generator=gen, dtype=torch.float64) - 2).to(device)
        torch.testing.assert_close(gd.grad_autograd(gd.toy_loss, w), closed_form_grad(w))


def test_gradient_quoted_on_page(device: torch.device) -> None:
    """The hand computation the page writes out at w = (-1.5, 1.5) is on the page and is what
    autograd gives."""
    w = torch.tensor([-1.5, 1.5], dtype=torch.float64, device=device)
    g = gd.grad_autograd(gd.toy_loss, w).tolist()
    r = w[1].item() - 0.5 * w[0].item() ** 2
    w1_term = 6 * w[0].item() * r  # dL/dw1 = 2 (w1 - 1) - 6 w1 r
    assert g == [2 * (w[0].item() - 1) - w1_term, 6 * r]  # exact in binary
    assert gd.toy_loss(w).item() == pytest.approx(6.671875)  # 2.5^2 + 3 r^2
    assert math.hypot(*g) == pytest.approx(math.hypot(1.625, 2.25))
    page = " ".join(expanded_page("docs/foundations/gradient.md").split())
    assert (
        f"At $w = ({w[0].item()}, {w[1].item()})$ we have $r = {r}$, so "
        f"$\\nabla L = ({2 * (w[0].item() - 1):g} + {-w1_term},\\ {6 * r}) = ({g[0]},\\ {g[1]})$."
    ) in page
    assert f"confirm the hand-computed gradient $({g[0]}, {g[1]})$" in page


@pytest.mark.parametrize("f", [gd.toy_loss, smooth_test_function])
def test_central_differences_agree_with_autograd_to_1e6(f, device: torch.device) -> None:
    gen = torch.Generator().manual_seed(2)
    shape = (2,) if f is gd.toy_loss else (3, 2)
    for _ in range(10):
        w = (4 * torch.rand(shape, generator=gen, dtype=torch.float64) - 2).to(device)
        diff = gd.grad_central_difference(f, w, h=1e-6) - gd.grad_autograd(f, w)
        assert diff.abs().max().item() < 1e-6


def test_finite_difference_error_orders() -> None:
    """Forward differences err by O(h), central by O(h^2); far too small an h loses to rounding."""
    w = torch.tensor([-1.5, 1.5], dtype=torch.float64)
    g = gd.grad_autograd(gd.toy_loss, w)

    def err(method, h):
        return (method(gd.toy_loss, w, h) - g).abs().max().item()

    fwd = err(gd.grad_forward_difference, 1e-2) / err(gd.grad_forward_difference, 1e-3)
    ctr = err(gd.grad_central_difference, 1e-2) / err(gd.grad_central_difference, 1e-3)
    assert fwd == pytest.approx(10, rel=0.05)
    assert ctr == pytest.approx(100, rel=0.05)
    assert err(gd.grad_central_difference, 1e-10) > 100 * err(gd.grad_central_difference, 1e-5)
    # page: the central error turns around between h = 1e-5 and 1e-6 (eps^(1/3) ~ 6e-6)
    best = max(err(gd.grad_central_difference, h) for h in (1e-5, 1e-6))
    assert best < 1e-9
    for h in (1e-4, 1e-7, 1e-8):
        assert err(gd.grad_central_difference, h) > 10 * best


def test_gradient_is_the_steepest_ascent_direction() -> None:
    gen = torch.Generator().manual_seed(3)
    w = torch.tensor([-1.5, 1.5], dtype=torch.float64)
    g = gd.grad_autograd(gd.toy_loss, w)
    u_star = g / g.norm()
    h = 1e-6

    def slope(u):  # directional derivative by central differences, independent of u . g
        return ((gd.toy_loss(w + h * u) - gd.toy_loss(w - h * u)) / (2 * h)).item()

    assert slope(u_star) == pytest.approx(g.norm().item(), rel=1e-8)
    for _ in range(200):
        u = torch.randn(2, generator=gen, dtype=torch.float64)
        u = u / u.norm()
        assert slope(u) <= slope(u_star) + 1e-9
        assert slope(u) == pytest.approx(u.dot(g).item(), abs=1e-8)


def test_one_step_decrease_is_first_order() -> None:
    w = torch.tensor([-1.5, 1.5], dtype=torch.float64)
    g = gd.grad_autograd(gd.toy_loss, w)
    ratios = []
    for lr in (1e-1, 1e-2, 1e-3):
        actual = (gd.toy_loss(w) - gd.toy_loss(w - lr * g)).item()
        ratios.append(actual / (lr * g.dot(g).item()))
    errors = [abs(r - 1) for r in ratios]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-4  # page: agree to four digits at lr = 1e-3
    assert 1e-3 < errors[0] < 1e-2  # page: they differ in the third digit at lr = 0.1


def test_gradient_descent_path(device: torch.device) -> None:
    w0 = torch.tensor([0.0, 2.0], dtype=torch.float64, device=device)
    path = gd.gradient_descent(gd.toy_loss, w0, lr=0.05, steps=3)
    assert path.shape == (4, 2)
    w = w0.clone()
    for k in range(1, 4):
        w = w - 0.05 * closed_form_grad(w)
        torch.testing.assert_close(path[k], w)
    assert gd.toy_loss(w0).item() == 13.0


def test_hessian_and_step_size_limit() -> None:
    """At the minimum the Hessian is [[8, -6], [-6, 6]]: eigenvalues 7 -/+ sqrt(37)."""
    hessian = torch.autograd.functional.hessian(gd.toy_loss, torch.tensor([1.0, 0.5]).double())
    torch.testing.assert_close(hessian, torch.tensor([[8.0, -6.0], [-6.0, 6.0]]).double())
    lam = torch.linalg.eigvalsh(hessian)
    assert lam[0].item() == pytest.approx(7 - math.sqrt(37))
    assert lam[1].item() == pytest.approx(7 + math.sqrt(37))
    assert 2 / lam[1].item() == pytest.approx(0.1529, abs=1e-4)


def test_descent_outcomes_quoted_on_page() -> None:
    """lr 0.02 crawls, lr 0.1 converges, lr 0.18 (beyond 2 / lambda_max) never settles."""
    w0 = torch.tensor([0.0, 2.0], dtype=torch.float64)
    final = {
        lr: gd.toy_loss(gd.gradient_descent(gd.toy_loss, w0, lr, 30)[-1]).item()
        for lr in (0.02, 0.1, 0.18)
    }
    assert final[0.1] < 1e-3
    assert 1e-3 < final[0.02] < 0.1
    assert final[0.18] > 0.1
    assert 2 / (7 + math.sqrt(37)) < 0.18
    path = gd.gradient_descent(gd.toy_loss, w0, 0.18, 200)
    assert gd.toy_loss(path[-50:]).min().item() > 1e-2  # still bouncing after 200 steps
    page = " ".join(expanded_page("docs/foundations/gradient.md").split())
    assert (
        "With $\\eta = 0.02$ the path is still on its way down; with $\\eta = 0.1$ it gets close "
        "to the minimum; with $\\eta = 0.18$ it never settles."
    ) in page
    bound = 2 / (7 + math.sqrt(37))
    assert f"$\\eta < 2 / \\lambda_{{\\max}} \\approx {bound:.4f}$" in page


def test_float32_central_differences_are_too_crude() -> None:
    """Why gradient checks run in float64: at h = 1e-6 float32 rounding swamps the result."""
    w = torch.tensor([-1.5, 1.5], dtype=torch.float32)
    err32 = gd.grad_central_difference(gd.toy_loss, w, 1e-6) - torch.tensor([-1.625, 2.25])
    assert err32.abs().max().item() > 1e-2
