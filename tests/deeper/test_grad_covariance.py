"""Checks for grad_covariance.py: per-example gradients and their covariance spectrum."""

from __future__ import annotations

import grad_covariance as gc
import pytest
import torch
from sitecheck import expanded_page
from torch import nn


def model_and_data(device, n: int = 2048):
    torch.manual_seed(0)
    x, y = gc.make_data(n, device=device)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1)).to(device)
    return model, x, y


def test_per_example_grads_equal_a_loop_and_average_to_the_batch_gradient(device) -> None:
    model, x, y = model_and_data(device, n=12)
    g = gc.per_example_grads(model, x, y)
    assert g.shape == (12, 8 * 32 + 32 + 32 + 1)
    params = list(model.parameters())
    for i in range(12):
        row = torch.autograd.grad(gc.loss_fn(model(x[i : i + 1]), y[i : i + 1]), params)
        torch.testing.assert_close(g[i], torch.cat([r.flatten() for r in row]))
    full = torch.autograd.grad(gc.loss_fn(model(x), y), params)
    torch.testing.assert_close(g.mean(0), torch.cat([r.flatten() for r in full]))


def test_covariance_equals_torch_cov_and_trace_equals_eigenvalue_sum(device) -> None:
    g = torch.randn(50, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    g = g.to(device) @ torch.diag(torch.arange(1.0, 8.0, dtype=torch.float64, device=device))
    mean, sigma = gc.grad_covariance(g)
    torch.testing.assert_close(mean, g.mean(0))
    torch.testing.assert_close(sigma, torch.cov(g.T, correction=0))
    eigs = torch.linalg.eigvalsh(sigma)
    assert eigs.min() > -1e-12  # positive semi-definite
    torch.testing.assert_close(eigs.sum(), sigma.trace())
    # tr(Sigma) is also the mean squared distance of the g_i from their mean
    torch.testing.assert_close(sigma.trace(), (g - mean).pow(2).sum(1).mean())


def test_noise_scale_from_the_covariance_matches_the_noise_scale_page(device) -> None:
    """At initialisation, Sigma's trace and |G|^2 are those of noise_scale_training.py's own
    code, and B_simple, as the curvature page states it, is the step-0 value the noise-scale
    page states."""
    import noise_scale_training as nst  # the same data and model at initialisation

    model, x, y = model_and_data(device)
    mean, sigma = gc.grad_covariance(gc.per_example_grads(model, x, y))
    g2, tr = nst.exact_noise_stats(model, *nst.make_data(2048, device=device))
    assert (mean @ mean).item() == pytest.approx(g2, rel=1e-4)
    assert sigma.trace().item() == pytest.approx(tr, rel=1e-4)
    b_simple = f"{tr / g2:.4g}"
    curvature = " ".join(expanded_page("docs/deeper/curvature.md").split())
    assert (
        f"{tr:.4g} both ways at initialisation, and divided by $|G|^2 = {g2:.4g}$ it gives "
        f"$B_{{\\text{{simple}}}} = {b_simple}$, the same value as at step 0 on the "
        "noise-scale page" in curvature
    )
    noise_scale = " ".join(expanded_page("docs/deeper/noise-scale.md").split())
    assert f"**At initialisation** $B_{{\\text{{simple}}}}$ is {b_simple}, below" in noise_scale


def test_nine_directions_dominate_at_initialisation(device) -> None:
    """The spectrum drops after 9 eigenvalues: the output layer's gradient r * [a1, 1] varies in
    about 9 directions, because tanh is nearly linear at init and a1 ~ W1 x + b1 (8 inputs + 1)."""
    model, x, y = model_and_data(device)
    _, sigma = gc.grad_covariance(gc.per_example_grads(model, x, y))
    eigs, vecs = torch.linalg.eigh(sigma.double())
    eigs, vecs = eigs.flip(0), vecs.flip(1)
    assert eigs[8] > 10 * eigs[9]
    assert (vecs[-33:, :9].pow(2).sum(0) > 0.6).all()  # mostly output-layer (W2, b2) directions
    assert (eigs[:10].sum() / eigs.sum()).item() > 0.95
    assert eigs[-1] < 1e-4 * eigs[9]  # the tail falls far below the 10th eigenvalue
    with torch.no_grad():
        a1 = torch.tanh(model[0](x))
    feats = torch.cat([a1, torch.ones(len(x), 1, device=device)], dim=1).double()
    var = torch.linalg.svdvals(feats).pow(2)
    assert var[8] > 10 * var[9]  # the hidden activations (plus bias) vary in ~9 directions


def test_training_lowers_trace_and_gradient_and_raises_the_noise_scale(device) -> None:
    model, x, y = model_and_data(device)
    before = gc.grad_covariance(gc.per_example_grads(model, x, y))
    gc.train_sgd(model, x, y, 1000)
    after = gc.grad_covariance(gc.per_example_grads(model, x, y))
    (m0, s0), (m1, s1) = before, after
    assert s1.trace() < s0.trace() / 3
    assert m1 @ m1 < (m0 @ m0) / 100
    assert s1.trace() / (m1 @ m1) > 10 * s0.trace() / (m0 @ m0)
