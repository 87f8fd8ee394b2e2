"""Checks for snippets/optimizer_trajectories.py: test function, tuned rates, Lion's grid."""

from __future__ import annotations

import optimizer_trajectories as ot
import pytest
import torch


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


def test_outcomes_described_on_the_page(device) -> None:
    final = {
        name: ot.rosenbrock(ot.trajectory(make, ot.BEST_LR[name], device=device)[-1]).item()
        for name, make in ot.OPTIMIZERS.items()
    }
    assert final["SGD"] > 1.0  # plain SGD is still far up the valley after 1000 steps
    assert final["SGD + momentum 0.9"] < 1e-3
    assert final["Adam"] < 1e-5
    assert final["Adam"] < final["AdamW (weight_decay 0.01)"]  # decay pulls towards 0
    assert final["Lion"] > 1e-3  # fixed-size steps: Lion cannot settle without a schedule


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
