"""Checks for sharpness_vs_lr.py: the sharpness measurement and the edge of stability."""

from __future__ import annotations

import pytest
import sharpness_vs_lr as sl
import torch
from torch.func import functional_call

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it

LRS = (0.03, 0.15, 0.3)


@pytest.fixture(scope="module")
def runs(device) -> dict[float, dict[str, list[float]]]:
    return {lr: sl.train_gd(lr, device=device) for lr in LRS}


def exact_top_eigenvalue(model, x, y) -> float:
    """Full Hessian of the flattened parameters, independent of the snippet's HVP loop."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    theta = torch.cat([p.detach().flatten() for p in model.parameters()])

    def loss(theta):
        chunks = theta.split([s.numel() for s in shapes])
        params = {n: c.view(s) for n, c, s in zip(names, chunks, shapes, strict=True)}
        return 0.5 * (functional_call(model, params, (x,)) - y).pow(2).mean()

    hessian = torch.autograd.functional.hessian(loss, theta, vectorize=True)
    return torch.linalg.eigvalsh(hessian)[-1].item()


def sgd_losses(lr: float, steps: int, device) -> list[float]:
    """The same full-batch run through torch.optim.SGD."""
    model, x, y = sl.make_problem(device=device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * (model(x) - y).pow(2).mean()
        losses.append(loss.item())
        loss.backward()
        opt.step()
    return losses


@pytest.mark.parametrize(("lr", "steps"), [(0.03, 1500), (0.15, 120), (0.3, 1500)])
def test_train_gd_is_gradient_descent(runs, lr, steps, device) -> None:
    if device.type != "cpu":
        steps = min(steps, 120)  # long runs at large lr amplify device-specific rounding
    torch.testing.assert_close(
        torch.tensor(runs[lr]["loss"][:steps]),
        torch.tensor(sgd_losses(lr, steps, device)),
        rtol=1e-3,
        atol=1e-6,
    )


def nudged_losses(lr: float, steps: int, weight: int | None) -> torch.Tensor:
    """Full-batch GD as in the snippet, with one first-layer weight moved up by one float32 ulp:
    a difference the size of one rounding, which every CPU and kernel can produce."""
    model, x, y = sl.make_problem()
    params = list(model.parameters())
    if weight is not None:
        with torch.no_grad():
            w = params[0].view(-1)
            w[weight] = torch.nextafter(w[weight], torch.tensor(float("inf")))
    losses = []
    for _ in range(steps):
        loss = 0.5 * (model(x) - y).pow(2).mean()
        losses.append(loss.item())
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
    return torch.tensor(losses)


@pytest.mark.parametrize("lr", [0.03, 0.15, 0.3])
def test_edge_of_stability_amplifies_rounding(lr) -> None:
    """One ulp in one weight: at lr 0.15 the runs agree for the first 120 steps, part ways
    around the overshoot (by 5% to 264% at some step, over the three nudged weights), and keep
    the same late average (within 0.04%). At 0.03 and 0.3 they agree throughout (within 0.06%).
    Measured with the kernel settings of tools/kernels.py; the bounds leave a margin of 5 to 25x."""
    base = nudged_losses(lr, 1500, None)
    nudged = torch.stack([nudged_losses(lr, 1500, w) for w in (0, 7, 19)])
    rel = (nudged - base).abs() / base
    if lr != 0.15:
        assert rel.max() < 5e-3
        return
    assert rel[:, :120].max() < 1e-3
    assert rel.max() > 0.5
    tails = nudged[:, -500:].mean(dim=1)
    torch.testing.assert_close(tails, base[-500:].mean().expand(3), rtol=1e-2, atol=0)


def test_parameter_count() -> None:
    model, _, _ = sl.make_problem()
    assert sum(p.numel() for p in model.parameters()) == 1377


@pytest.mark.parametrize("lr", [0.15, 0.3])
def test_warm_started_sharpness_equals_the_full_hessian_value(runs, lr, device) -> None:
    steps = 1500
    log = runs[lr]
    model, x, y = sl.make_problem(device=device)  # replay the run with the same operations
    params = list(model.parameters())
    for step in range(steps + 1):
        loss = 0.5 * (model(x) - y).pow(2).mean()
        assert loss.item() == pytest.approx(log["loss"][step], rel=1e-5)
        if step == steps:
            break
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
    # the value logged at step 1500 came from 10 warm-started HVPs
    assert log["step"][-1] == steps
    assert log["sharpness"][-1] == pytest.approx(exact_top_eigenvalue(model, x, y), rel=0.01)


def test_small_lr_sharpens_progressively_and_stays_stable(runs) -> None:
    log = runs[0.03]
    assert max(log["sharpness"]) < 2 / 0.03 / 3  # far below the threshold, the whole run
    assert log["sharpness"][-1] > 4 * log["sharpness"][0]  # progressive sharpening
    assert all(b <= a for a, b in zip(log["loss"], log["loss"][1:], strict=False))  # monotone


@pytest.mark.parametrize("lr", [0.15, 0.3])
def test_large_lr_runs_sit_at_the_edge_of_stability(runs, lr) -> None:
    log = runs[lr]
    late = torch.tensor(log["sharpness"][100:])  # steps 1000-1500
    assert late.mean().item() == pytest.approx(2 / lr, rel=0.02)
    assert (late - 2 / lr).abs().max().item() < 0.15 * 2 / lr
    assert max(log["sharpness"]) > 1.2 * 2 / lr  # overshoot, then back down to 2/lr
    assert log["sharpness"][0] < 2 / lr  # starts below the threshold: it is reached by sharpening
    rises = sum(b > a for a, b in zip(log["loss"], log["loss"][1:], strict=False))
    assert rises > 100  # not monotone ...
    assert log["loss"][-1] < runs[0.03]["loss"][-1] / 5  # ... and yet lower than the stable run


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_stability_threshold_on_a_quadratic(momentum, device) -> None:
    """L = lambda/2 theta^2: GD with momentum beta is stable iff lr lambda < 2(1+beta)."""
    lam = 4.0
    threshold = 2 * (1 + momentum) / lam
    for factor, stable in ((0.97, True), (1.03, False)):
        theta = torch.tensor([1.0], dtype=torch.float64, device=device, requires_grad=True)
        opt = torch.optim.SGD([theta], lr=factor * threshold, momentum=momentum)
        for _ in range(3000):
            opt.zero_grad()
            (0.5 * lam * theta.pow(2)).sum().backward()
            opt.step()
        assert (abs(theta.item()) < 1e-3) == stable
