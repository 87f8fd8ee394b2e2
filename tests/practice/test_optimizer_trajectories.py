"""Checks for optimizer_trajectories.py: test function, tuned rates, Lion's grid."""

from __future__ import annotations

import optimizer_trajectories as ot
import pytest
import torch
from sitecheck import expanded_page

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def test_rosenbrock_gradient_by_hand(device) -> None:
    torch.manual_seed(0)
    p = torch.randn(5, 2, dtype=torch.float64, device=device, requires_grad=True)
    (g,) = torch.autograd.grad(ot.rosenbrock(p).sum(), p)
    x, y = p[:, 0].detach(), p[:, 1].detach()
    by_hand = torch.stack([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)], dim=1)
    torch.testing.assert_close(g, by_hand, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(ot.rosenbrock, (p,))
    one = torch.ones(2, dtype=torch.float64, device=device, requires_grad=True)
    assert ot.rosenbrock(one).item() == 0.0
    assert torch.autograd.grad(ot.rosenbrock(one), one)[0].abs().max().item() == 0.0


def test_best_learning_rates_are_the_best_of_the_grid() -> None:
    for name, make_opt in ot.OPTIMIZERS.items():
        assert ot.best_lr(make_opt) == ot.BEST_LR[name], name


def one_digit(x: float) -> str:
    """5.69e-05 as the optimizers page writes it in text: 6e-5."""
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def test_outcomes_described_on_the_page(device) -> None:
    """What the optimizers page says about the 1000-step runs is on the page, and fresh runs at
    the tuned rates bear it out."""
    page = " ".join(expanded_page("docs/practice/optimizers.md").split())
    ends = {
        name: ot.trajectory(make, ot.BEST_LR[name], device=device)[-1]
        for name, make in ot.OPTIMIZERS.items()
    }
    final = {name: ot.rosenbrock(end).item() for name, end in ends.items()}
    momentum, adam, adamw = (
        final["SGD + momentum 0.9"],
        final["Adam"],
        final["AdamW (weight_decay 0.01)"],
    )
    assert final["SGD"] > 1.0  # plain SGD is still far up the valley after 1000 steps
    x, y = ends["SGD"].tolist()
    assert f"SGD's path ends early, near ({x:.2f}, {y:.2f})" in page
    assert "SGD stays above 1;" in page
    assert (
        f"momentum falls to about {one_digit(momentum)} and Adam to about {one_digit(adam)} "
        "after 1000 steps" in page
    )
    mantissa, exponent = one_digit(momentum).split("e")
    assert f"gets to $f \\approx {mantissa}\\cdot 10^{{{exponent}}}$" in page
    assert adam == min(final.values()) and "comparable steps; it gets closest" in page
    assert adam < adamw  # decay pulls towards 0
    assert f"AdamW levels off near {one_digit(adamw)}" in page
    assert "it settles short of $(1, 1)$" in page
    assert final["Lion"] > 1e-3  # fixed-size steps: Lion cannot settle without a schedule
    assert f"then oscillates around {one_digit(final['Lion'])}" in page
    x, y = ends["Lion"].tolist()
    assert f"it ends oscillating at $({x:.2f}, {y:.2f})$" in page


def test_lion_iterates_live_on_a_grid_of_spacing_lr(device) -> None:
    lr = ot.BEST_LR["Lion"]
    path = ot.trajectory(ot.OPTIMIZERS["Lion"], lr, device=device)
    start = torch.tensor([-1.5, 2.0], dtype=torch.float64, device=device)
    steps = (path - start) / lr
    torch.testing.assert_close(steps, steps.round(), rtol=0, atol=1e-6)
    moves = (path[1:] - path[:-1]).abs()
    torch.testing.assert_close(moves, torch.full_like(moves, lr), rtol=1e-9, atol=1e-12)


def test_lion_class_hand_computed_steps() -> None:
    p = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = ot.Lion([p], lr=0.1, weight_decay=0.1)
    for g, expected in ((0.5, 0.89), (-2.0, 0.9811), (0.1, 1.071289)):
        p.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        assert p.item() == pytest.approx(expected, abs=1e-12)


def test_hessian_at_the_minimum_is_ill_conditioned() -> None:
    hessian = torch.autograd.functional.hessian(ot.rosenbrock, torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(
        hessian, torch.tensor([[802.0, -400.0], [-400.0, 200.0]], dtype=torch.float64)
    )
    low, high = torch.linalg.eigvalsh(hessian).tolist()
    assert high == pytest.approx(1002, abs=0.5) and low == pytest.approx(0.4, abs=0.01)
    assert high / low == pytest.approx(2500, rel=0.01)


def test_sgd_diverges_one_grid_step_above_its_best_rate() -> None:
    path = ot.trajectory(ot.OPTIMIZERS["SGD"], 3e-3)
    f = ot.rosenbrock(path[-1]).item()
    assert not (f < 1e3)  # inf, nan or huge
