"""Checks for noise_scale_estimator.py: B_simple, E|G_B|^2 and the two-batch estimator."""

from __future__ import annotations

import itertools
import math

import noise_scale_estimator as ns
import pytest
import torch
from sitecheck import expanded_page
from torch.func import grad, vmap


def linreg_point(d: int, u_norm: float, device: torch.device, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    w_star = torch.randn(d, generator=gen, dtype=torch.float64)
    u = torch.randn(d, generator=gen, dtype=torch.float64)
    u = u_norm * u / u.norm()
    return w_star.to(device), (w_star + u).to(device), u.to(device)


def per_example_grads(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """torch.func route, independent of the snippet's batched autograd: shape (N, d)."""

    def loss(w, xi, yi):
        return 0.5 * (xi @ w - yi) ** 2

    return vmap(grad(loss), in_dims=(None, 0, 0))(w, x, y)


def test_page_numbers_from_the_closed_form(device: torch.device) -> None:
    """The noise-scale page's worked example is on the page, and for its d, s and |u|^2 the
    snippet's exact statistics give its numbers, with B_simple = d + 1 + d s^2 / |u|^2."""
    page = " ".join(expanded_page("docs/deeper/noise-scale.md").split())
    d, s, u2 = 16, 1.0, 0.25
    _, _, u = linreg_point(d, math.sqrt(u2), device)
    g2, tr = ns.linreg_exact_stats(u, s)
    b_simple = ns.simple_noise_scale(g2, tr)
    assert b_simple == pytest.approx(d + 1 + d * s**2 / u2)
    assert (
        f"With $d = {d}$, $s = {s:g}$ and $|u|^2 = {u2:g}$: $|G|^2 = {g2:.4g}$, "
        f"$\\operatorname{{tr}}(\\Sigma) = {tr:.4g}$ and $B_{{\\text{{simple}}}} = {b_simple:.4g}$."
        in page
    )


@pytest.mark.parametrize(
    ("d", "u_norm", "noise_std"), [(16, 0.5, 1.0), (5, 2.0, 0.0), (3, 1.0, 3.0)]
)
def test_closed_form_matches_per_example_gradients(d, u_norm, noise_std, device) -> None:
    """G and tr(Sigma) measured from 200k per-example gradients agree with the derivation."""
    w_star, w, u = linreg_point(d, u_norm, device, seed=d)
    gen = torch.Generator().manual_seed(1)
    x, y = ns.sample_batches(w_star, noise_std, 1, 200_000, gen)
    g = per_example_grads(w, x[0], y[0])
    n = g.shape[0]
    g2, tr = ns.linreg_exact_stats(u, noise_std)
    mean = g.mean(0)
    sigma = torch.cov(g.T, correction=0)
    # G = u: each coordinate within 5 standard errors
    assert torch.all((mean - u).abs() < 5 * (sigma.diagonal() / n).sqrt())
    # the whole covariance, not only its trace: (|u|^2 + s^2) I + u u^T
    expected = (g2 + noise_std**2) * torch.eye(d, dtype=torch.float64, device=device)
    expected += torch.outer(u, u)
    torch.testing.assert_close(sigma, expected, rtol=0, atol=0.03 * expected.diagonal().max())
    assert torch.trace(sigma).item() == pytest.approx(tr, rel=0.02)


def test_batch_gradients_are_means_of_per_example_gradients(device) -> None:
    w_star, w, _ = linreg_point(6, 1.0, device)
    x, y = ns.sample_batches(w_star, 0.5, 7, 9, torch.Generator().manual_seed(2))
    batched = ns.batch_gradients(w, x, y)
    assert batched.shape == (7, 6)
    by_hand = ((x @ w - y).unsqueeze(-1) * x).mean(dim=1)  # g_i = (x_i.w - y_i) x_i
    torch.testing.assert_close(batched, by_hand)


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_expected_batch_norm_is_exact_on_a_finite_population(batch, device) -> None:
    """E|G_B|^2 = |G|^2 + tr(Sigma)/B, averaged over every ordered batch drawn with replacement."""
    gen = torch.Generator().manual_seed(3)
    pop = torch.randn(11, 4, generator=gen, dtype=torch.float64).to(device) + 0.3
    g2 = pop.mean(0).pow(2).sum()
    tr = torch.cov(pop.T, correction=0).trace()  # population covariance: divide by N
    idx = torch.tensor(list(itertools.product(range(len(pop)), repeat=batch)), device=device)
    mean_sq = pop[idx].mean(dim=1).pow(2).sum(dim=1).mean()
    torch.testing.assert_close(mean_sq, g2 + tr / batch, rtol=1e-12, atol=0)


def test_estimator_recovers_exact_values_from_exact_expectations(device) -> None:
    gen = torch.Generator().manual_seed(4)
    pop = torch.randn(9, 3, generator=gen, dtype=torch.float64).to(device) - 0.5
    g2 = pop.mean(0).pow(2).sum()
    tr = torch.cov(pop.T, correction=0).trace()
    expect = {}
    for b in (2, 3):
        idx = torch.tensor(list(itertools.product(range(len(pop)), repeat=b)), device=device)
        expect[b] = pop[idx].mean(dim=1).pow(2).sum(dim=1).mean()
    g2_est, tr_est = ns.two_batch_estimates(expect[2], expect[3], 2, 3)
    torch.testing.assert_close(g2_est, g2, rtol=1e-10, atol=0)
    torch.testing.assert_close(tr_est, tr, rtol=1e-10, atol=0)


def test_two_batch_estimates_are_unbiased_and_converge(device) -> None:
    w_star, w, u = linreg_point(16, 0.5, device)
    g2, tr = ns.linreg_exact_stats(u, 1.0)
    gen = torch.Generator().manual_seed(5)
    pairs = 20_000
    small = ns.batch_gradients(w, *ns.sample_batches(w_star, 1.0, pairs, 8, gen)).pow(2).sum(1)
    big = ns.batch_gradients(w, *ns.sample_batches(w_star, 1.0, pairs, 128, gen)).pow(2).sum(1)
    g2_est, tr_est = ns.two_batch_estimates(small, big, 8, 128)
    for est, true in ((g2_est, g2), (tr_est, tr)):  # each within 4 standard errors
        assert abs(est.mean().item() - true) < 4 * est.std().item() / pairs**0.5
    b_est = ns.simple_noise_scale(g2_est.mean(), tr_est.mean()).item()
    assert b_est == pytest.approx(81.0, rel=0.05)
    # a single pair is useless: its |G|^2 estimate is often negative
    assert (g2_est < 0).float().mean().item() > 0.05


def test_naive_quantity_is_not_the_noise_scale(device) -> None:
    w_star, w, u = linreg_point(16, 0.5, device)
    true = ns.simple_noise_scale(*ns.linreg_exact_stats(u, 1.0))
    gen = torch.Generator().manual_seed(6)
    naive = {}
    for b in (8, 128):
        norms = ns.batch_gradients(w, *ns.sample_batches(w_star, 1.0, 2000, b, gen)).norm(dim=1)
        naive[b] = ns.naive_noise_scale(norms.mean().item(), b)
        assert naive[b] < true / 100  # off by orders of magnitude
    assert naive[8] / naive[128] > 10  # and it depends on B, which B_simple does not

    # scaling the loss by c scales |G_B|/B by c but leaves tr(Sigma)/|G|^2 unchanged
    x_s, y_s = ns.sample_batches(w_star, 1.0, 500, 8, gen)
    x_b, y_b = ns.sample_batches(w_star, 1.0, 500, 128, gen)
    g_s, g_b = ns.batch_gradients(w, x_s, y_s), ns.batch_gradients(w, x_b, y_b)
    c = 10.0  # loss * c <=> gradients * c
    plain = ns.simple_noise_scale(
        *ns.two_batch_estimates(g_s.pow(2).sum(1).mean(), g_b.pow(2).sum(1).mean(), 8, 128)
    )
    scaled = ns.simple_noise_scale(
        *ns.two_batch_estimates(
            (c * g_s).pow(2).sum(1).mean(), (c * g_b).pow(2).sum(1).mean(), 8, 128
        )
    )
    torch.testing.assert_close(scaled, plain)
    # float(): pytest.approx turns a tensor into a numpy array, which fails for a CUDA tensor
    assert float(ns.naive_noise_scale((c * g_s).norm(dim=1).mean(), 8)) == pytest.approx(
        c * ns.naive_noise_scale(g_s.norm(dim=1).mean(), 8).item()
    )


@pytest.mark.parametrize("batch", [2**k for k in range(11)])
def test_mean_squared_batch_norm_follows_the_line(batch, device) -> None:
    """The left panel: 2^16 examples per batch size, mean |G_B|^2 within 4 standard errors."""
    w_star, w, u = linreg_point(16, 0.5, device)
    g2, tr = ns.linreg_exact_stats(u, 1.0)
    gen = torch.Generator().manual_seed(batch)
    sq = ns.batch_gradients(w, *ns.sample_batches(w_star, 1.0, 2**16 // batch, batch, gen))
    sq = sq.pow(2).sum(1)
    assert abs(sq.mean().item() - (g2 + tr / batch)) < 4 * sq.std().item() / len(sq) ** 0.5


def test_running_estimate_of_the_page(device) -> None:
    """As in main(): seed 1, 4000 pairs of batches 8 and 128. The running estimates the
    noise-scale page quotes, and its "more than a thousand pairs" to stay within 10%."""
    page = " ".join(expanded_page("docs/deeper/noise-scale.md").split())
    w_star, w, _ = linreg_point(16, 0.5, device)
    running = ns.running_estimates(w, w_star, 1.0, 8, 128, 4000)["running"]
    after = [f"{running[n - 1].item():.4g}" for n in (10, 100, 4000)]
    assert (
        f"With batches of 8 and 128, ten pairs give {after[0]}, a hundred give {after[1]} and "
        f"4000 give {after[2]} against the exact 81, and it takes more than a thousand pairs "
        "before the running estimate stays within 10%" in page
    )
    assert "only after more than a thousand pairs" in page  # the figure's alt text
    off = ((running - 81).abs() > 8.1).nonzero().flatten() + 1  # pair counts outside +-10%
    assert off.max().item() > 1000  # more than a thousand pairs to stay within 10% ...
    assert off.max().item() < 2000  # ... and inside from 2000 pairs on
    assert 0.9 * 81 < running[-1].item() < 81
