"""Checks for noise_scale_training.py: exact and estimated B_simple on an MLP."""

from __future__ import annotations

import itertools

import noise_scale_training as nst
import pytest
import torch
from sitecheck import expanded_page
from torch import nn

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def small_model(device: torch.device, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1)).to(device).double()


def test_page_numbers() -> None:
    """The noise-scale page's model size and noise floor are on the page and true: 321
    parameters, and 1/2 * 0.3^2 = 0.045, the teacher's own loss on the 2048 examples."""
    page = " ".join(expanded_page("docs/deeper/noise-scale.md").split())
    count = sum(p.numel() for p in small_model(torch.device("cpu")).parameters())
    assert f"standard deviation 0.3; the model is an 8-32-1 tanh MLP ({count} parameters)" in page
    floor = 0.5 * 0.3**2
    assert f"just above the noise floor of {floor:.3g}." in page
    gen = torch.Generator().manual_seed(0)
    w, v = 2 * torch.randn(8, 16, generator=gen) / 8**0.5, torch.randn(16, 1, generator=gen)
    x, y = nst.make_data(2048)
    torch.testing.assert_close(x, torch.randn(2048, 8, generator=gen))
    teacher_loss = nst.loss_fn(torch.tanh(x @ w) @ v, y).item()
    assert teacher_loss == pytest.approx(floor, rel=0.1)


def test_per_example_grads_equal_one_backward_per_example(device) -> None:
    model = small_model(device)
    x, y = nst.make_data(10, device=device)
    x, y = x.double(), y.double()
    fast = nst.per_example_grads(model, x, y)
    assert fast.shape == (10, sum(p.numel() for p in model.parameters()))
    for i in range(10):
        grads = torch.autograd.grad(
            nst.loss_fn(model(x[i : i + 1]), y[i : i + 1]), list(model.parameters())
        )
        torch.testing.assert_close(fast[i], torch.cat([g.flatten() for g in grads]))
    full = torch.autograd.grad(nst.loss_fn(model(x), y), list(model.parameters()))
    torch.testing.assert_close(fast.mean(0), torch.cat([g.flatten() for g in full]))


def test_exact_stats_satisfy_the_batch_norm_identity(device) -> None:
    """Over every ordered batch of 2 (drawn with replacement): mean |G_B|^2 = |G|^2 + tr/2."""
    model = small_model(device, seed=1)
    x, y = nst.make_data(7, seed=3, device=device)
    x, y = x.double(), y.double()
    g2, tr = nst.exact_noise_stats(model, x, y)
    pairs = list(itertools.product(range(7), repeat=2))
    mean_sq = sum(nst.batch_sq_norm(model, x[list(p)], y[list(p)]) for p in pairs) / len(pairs)
    assert mean_sq == pytest.approx(g2 + tr / 2, rel=1e-10)
    assert nst.batch_sq_norm(model, x, y) == pytest.approx(g2, rel=1e-10)  # B = N, no sampling


def test_two_batch_estimate_converges_to_the_exact_value(device) -> None:
    model = small_model(device, seed=2)
    x, y = nst.make_data(2048, device=device)
    x, y = x.double(), y.double()
    g2, tr = nst.exact_noise_stats(model, x, y)
    gen = torch.Generator().manual_seed(0)
    estimate = nst.two_batch_noise_scale(model, x, y, 32, 512, 400, gen)
    assert estimate == pytest.approx(tr / g2, rel=0.15)


@pytest.fixture(scope="module")
def run(device) -> dict[str, list[float]]:
    return nst.train(device=device)


def test_noise_scale_grows_from_below_to_above_the_batch_size(run) -> None:
    exact, steps = run["exact"], run["step"]
    assert run["loss"][-1] < run["loss"][0] / 30
    assert exact[0] < 32  # at initialisation, batch 32 already averages out most noise
    later = [b for s, b in zip(steps, exact, strict=True) if s >= 100]
    assert min(later) > 3 * 32  # after 100 steps, every measurement is far above 32
    assert min(later) > 5 * exact[0]
    early_jump = [b for s, b in zip(steps, exact, strict=True) if s <= 30]
    assert max(early_jump) > 10 * exact[0]  # an order of magnitude within the first 30 steps


def test_estimates_track_the_exact_values(run) -> None:
    ratio = torch.tensor(run["estimate"]) / torch.tensor(run["exact"])
    assert 0.7 < ratio.median().item() < 1.3
    assert (ratio > 0.33).all() and (ratio < 3).all()
