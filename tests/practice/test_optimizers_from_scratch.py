"""Checks for optimizers_from_scratch.py: each rule against torch.optim, Lion by hand."""

from __future__ import annotations

import inspect
import random

import optimizers_from_scratch as ofs
import pytest
import torch


@pytest.mark.parametrize("name", list(ofs.CASES))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rule_matches_torch_optim_over_many_steps(device, name, dtype) -> None:
    rule, opt_cls, hp = ofs.CASES[name]
    torch.manual_seed(3)
    theta0 = torch.randn(10, 3, device=device, dtype=dtype)
    loss_fn = ofs.softmax_regression_loss(device=device, dtype=dtype)
    ours = ofs.run_rule(rule, theta0, loss_fn, 300, **hp)
    theirs = ofs.run_torch(opt_cls, theta0, loss_fn, 300, **hp)
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, **tol)
    assert loss_fn(ours[-1]) < 0.5 * loss_fn(theta0)  # and they actually optimize


def test_defaults_match_torch() -> None:
    def defaults(fn):
        return {
            k: v.default
            for k, v in inspect.signature(fn).parameters.items()
            if v.default is not inspect.Parameter.empty
        }

    adam, adamw = defaults(torch.optim.Adam), defaults(torch.optim.AdamW)
    ours_adam, ours_adamw = defaults(ofs.adam_step), defaults(ofs.adamw_step)
    for key in ("lr", "betas", "eps", "weight_decay"):
        assert ours_adam[key] == adam[key]
        assert ours_adamw[key] == adamw[key]
    assert defaults(ofs.lion_step)["betas"] == (0.9, 0.99)  # Chen et al. 2023


def test_adam_first_step_is_lr_times_sign(device) -> None:
    g = torch.tensor([1e-6, -3.0, 250.0], device=device, dtype=torch.float64)
    theta = torch.zeros(3, device=device, dtype=torch.float64)
    new = ofs.adam_step(theta, g, {}, 1, lr=0.01)
    # m_hat = g and v_hat = g^2 after bias correction, so the step is lr * g / (|g| + eps).
    torch.testing.assert_close(new, -0.01 * g / (g.abs() + 1e-8), rtol=1e-12, atol=0)
    assert torch.allclose(new.abs(), torch.full_like(new, 0.01), rtol=1e-2)


def test_without_bias_correction_the_first_step_is_tiny(device) -> None:
    g = torch.tensor([2.0], device=device, dtype=torch.float64)
    # Raw m = 0.1 g and v = 0.001 g^2: the uncorrected step would be 0.1 / sqrt(0.001) = 3.16 lr.
    state: dict = {}
    ofs.adam_step(torch.zeros(1, device=device, dtype=torch.float64), g, state, 1, lr=1.0)
    raw = state["m"] / (state["v"].sqrt() + 1e-8)
    assert raw.item() == pytest.approx(0.1 / 0.001**0.5, rel=1e-6)


def test_adamw_decay_is_decoupled_from_the_gradient(device) -> None:
    theta = torch.tensor([2.0, -0.5, 1e-3], device=device, dtype=torch.float64)
    zero = torch.zeros_like(theta)
    lr, wd = 0.01, 0.1
    state_w: dict = {}
    state_l2: dict = {}
    w, l2 = theta.clone(), theta.clone()
    for t in range(1, 51):
        w = ofs.adamw_step(w, zero, state_w, t, lr=lr, weight_decay=wd)
        l2 = ofs.adam_step(l2, zero, state_l2, t, lr=lr, weight_decay=wd)
    # AdamW with no loss gradient: a pure exponential shrink, proportional to each weight.
    torch.testing.assert_close(w, theta * (1 - lr * wd) ** 50, rtol=1e-12, atol=0)
    # Adam + L2: the decay term goes through m / sqrt(v), so a weight moves by up to lr per
    # step whatever its size: far more than AdamW's proportional shrink, and the tiny weight
    # overshoots past zero.
    moved, shrunk = (theta - l2).abs(), (theta - w).abs()
    assert moved[0].item() == pytest.approx(50 * lr, rel=0.05)
    assert moved[1].item() > 10 * shrunk[1].item()
    assert torch.sign(l2[2]) != torch.sign(theta[2])


def test_adamw_with_zero_decay_is_adam(device) -> None:
    loss_fn = ofs.softmax_regression_loss(device=device)
    theta0 = torch.randn(10, 3, device=device, dtype=torch.float64)
    a = ofs.run_rule(ofs.adam_step, theta0, loss_fn, 50, lr=0.01)
    b = ofs.run_rule(ofs.adamw_step, theta0, loss_fn, 50, lr=0.01, weight_decay=0.0)
    torch.testing.assert_close(a[-1], b[-1], rtol=0, atol=0)
    c = ofs.run_rule(ofs.adam_step, theta0, loss_fn, 50, lr=0.01, weight_decay=0.1)
    d = ofs.run_rule(ofs.adamw_step, theta0, loss_fn, 50, lr=0.01, weight_decay=0.1)
    assert (c[-1] - d[-1]).abs().max() > 1e-3  # L2-in-Adam and AdamW are different methods


def test_lion_hand_computed_steps(device) -> None:
    # c = b1 m + (1 - b1) g;  theta <- theta - lr (sign(c) + wd theta);  m <- b2 m + (1 - b2) g
    # lr = 0.1, wd = 0.1, betas = (0.9, 0.99), theta_0 = 1, gradients 0.5, -2, 0.1:
    # t=1: c = 0.05 > 0,     theta = 1 - 0.1 (1 + 0.1)            = 0.89,     m = 0.005
    # t=2: c = -0.1955 < 0,  theta = 0.89 - 0.1 (-1 + 0.089)       = 0.9811,   m = -0.01505
    # t=3: c = -0.003545 < 0 (momentum outvotes g = 0.1),
    #                        theta = 0.9811 - 0.1 (-1 + 0.09811)   = 1.071289, m = -0.0138995
    theta = torch.tensor([1.0], device=device, dtype=torch.float64)
    state: dict = {}
    expected = [(0.89, 0.005), (0.9811, -0.01505), (1.071289, -0.0138995)]
    for t, (g, (th, m)) in enumerate(zip((0.5, -2.0, 0.1), expected, strict=True), start=1):
        grad = torch.tensor([g], device=device, dtype=torch.float64)
        theta = ofs.lion_step(theta, grad, state, t, lr=0.1, weight_decay=0.1)
        assert theta.item() == pytest.approx(th, abs=1e-12)
        assert state["m"].item() == pytest.approx(m, abs=1e-12)


def _lion_reference(
    theta: list[float], grads: list[list[float]], lr: float, b1: float, b2: float, wd: float
) -> list[float]:
    """The published rule, one float at a time, with no torch at all."""
    m = [0.0] * len(theta)
    theta = list(theta)
    for g in grads:
        for i, gi in enumerate(g):
            c = b1 * m[i] + (1 - b1) * gi
            sign = (c > 0) - (c < 0)
            theta[i] = theta[i] - lr * (sign + wd * theta[i])
            m[i] = b2 * m[i] + (1 - b2) * gi
    return theta


def test_lion_matches_an_independent_implementation(device) -> None:
    rng = random.Random(0)
    theta0 = [rng.gauss(0, 1) for _ in range(20)]
    grads = [[rng.gauss(0, 1) for _ in range(20)] for _ in range(300)]
    expected = _lion_reference(theta0, grads, lr=3e-3, b1=0.9, b2=0.99, wd=0.5)
    theta = torch.tensor(theta0, device=device, dtype=torch.float64)
    state: dict = {}
    for t, g in enumerate(grads, start=1):
        grad = torch.tensor(g, device=device, dtype=torch.float64)
        theta = ofs.lion_step(theta, grad, state, t, lr=3e-3, weight_decay=0.5)
    torch.testing.assert_close(
        theta.cpu(), torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=1e-12
    )


def test_lion_moves_every_coordinate_by_exactly_lr(device) -> None:
    loss_fn = ofs.softmax_regression_loss(device=device)
    theta0 = torch.randn(10, 3, device=device, dtype=torch.float64)
    path = ofs.run_rule(ofs.lion_step, theta0, loss_fn, 100, lr=3e-3)
    moves = torch.stack([b - a for a, b in zip([theta0, *path], path, strict=False)]).abs()
    torch.testing.assert_close(moves, torch.full_like(moves, 3e-3), rtol=1e-9, atol=1e-12)
    assert not hasattr(torch.optim, "Lion")  # the page says torch 2.13 has none; update it if so


def test_documented_defaults_and_momentum_speed_up(device) -> None:
    sig = inspect.signature(ofs.adam_step).parameters
    assert (sig["lr"].default, sig["betas"].default, sig["eps"].default) == (
        1e-3,
        (0.9, 0.999),
        1e-8,
    )
    # A constant gradient builds the velocity up to g / (1 - mu): 10 g for mu = 0.9.
    g = torch.ones(2, device=device, dtype=torch.float64)
    state: dict = {}
    theta = torch.zeros_like(g)
    for t in range(1, 400):
        theta = ofs.momentum_step(theta, g, state, t, lr=0.1, momentum=0.9)
    torch.testing.assert_close(state["v"], 10 * g, rtol=1e-12, atol=1e-12)


def _quadratic_grad(theta: torch.Tensor) -> torch.Tensor:
    """Gradient of 0.5 theta^T A theta for a fixed, ill-conditioned diagonal A."""
    return torch.tensor([1.0, 10.0, 100.0], dtype=theta.dtype, device=theta.device) * theta


def _momentum_paths(lrs: list[float], mu: float = 0.9, device="cpu") -> dict[str, torch.Tensor]:
    """PyTorch's form, the EMA form at lr / (1 - mu), and the eta-folded form (Sutskever et
    al. 2013), from the same start, under the per-step learning rates `lrs`."""
    theta0 = torch.tensor([1.0, -0.5, 0.02], dtype=torch.float64, device=device)
    paths: dict[str, list[torch.Tensor]] = {"torch": [], "ema": [], "folded": []}
    state: dict = {}
    theta = theta0.clone()
    for t, lr in enumerate(lrs, start=1):
        theta = ofs.momentum_step(theta, _quadratic_grad(theta), state, t, lr=lr, momentum=mu)
        paths["torch"].append(theta)
    theta, v = theta0.clone(), torch.zeros_like(theta0)
    for lr in lrs:
        v = mu * v + (1 - mu) * _quadratic_grad(theta)
        theta = theta - lr / (1 - mu) * v
        paths["ema"].append(theta)
    theta, v = theta0.clone(), torch.zeros_like(theta0)
    for lr in lrs:
        v = mu * v + lr * _quadratic_grad(theta)
        theta = theta - v
        paths["folded"].append(theta)
    return {name: torch.stack(p) for name, p in paths.items()}


def test_momentum_forms_agree_at_constant_lr_and_part_under_a_schedule(device) -> None:
    """The page: the EMA form is PyTorch's at lr / (1 - mu) under any schedule; the eta-folded
    form is PyTorch's only while the learning rate is constant."""
    constant = _momentum_paths([0.005] * 100, device=device)
    torch.testing.assert_close(constant["ema"], constant["torch"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(constant["folded"], constant["torch"], rtol=1e-10, atol=1e-12)
    schedule = _momentum_paths([0.01] * 50 + [0.005] * 50, device=device)
    torch.testing.assert_close(schedule["ema"], schedule["torch"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(
        schedule["folded"][:50], schedule["torch"][:50], rtol=1e-10, atol=1e-12
    )
    gap = (schedule["folded"][50:] - schedule["torch"][50:]).abs().max().item()
    assert gap > 1e-3  # after the change the two forms take different steps


def test_lion_leaves_a_coordinate_with_zero_gradient_and_momentum(device) -> None:
    """sign(0) = 0: where c_t = 0 (gradient and momentum both exactly zero, an unused embedding
    row), Lion moves the weight only by the decay term, not by lr."""
    theta = torch.tensor([0.5, 0.5], dtype=torch.float64, device=device)
    g = torch.tensor([0.3, 0.0], dtype=torch.float64, device=device)
    state: dict = {}
    for t in range(1, 4):
        new = ofs.lion_step(theta, g, state, t, lr=0.1)
        assert (new - theta).abs().tolist() == pytest.approx([0.1, 0.0], abs=1e-15)
        theta = new
    decayed = ofs.lion_step(theta, g, state, 4, lr=0.1, weight_decay=0.5)
    assert decayed[1].item() == pytest.approx(theta[1].item() * (1 - 0.1 * 0.5), rel=1e-15)
