"""Checks for critical_batch_size.py: lockstep training, the fit, the batch-size claims."""

from __future__ import annotations

import critical_batch_size as cbs
import pytest
import torch
from torch import nn

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it

LRS = [0.04 * 2 ** (j / 2) for j in range(10)]


def test_init_matches_nn_linear_and_copies_are_identical(device) -> None:
    params = cbs.init_params(3, device=device)
    assert [tuple(p.shape) for p in params] == [(3, 8, 32), (3, 1, 32), (3, 32, 1), (3, 1, 1)]
    for p in params:
        assert torch.equal(p[0], p[1]) and torch.equal(p[0], p[2])
    bound = 1 / 8**0.5  # nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
    assert params[0].abs().max() <= bound and params[0].abs().max() > 0.9 * bound
    assert params[2].abs().max() <= 1 / 32**0.5


def test_mlp_equals_the_nn_module(device) -> None:
    params = [p[0] for p in cbs.init_params(1, device=device)]
    net = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1)).to(device)
    with torch.no_grad():
        net[0].weight.copy_(params[0].T)
        net[0].bias.copy_(params[1][0])
        net[2].weight.copy_(params[2].T)
        net[2].bias.copy_(params[3][0])
    x, y = cbs.make_data(50, device=device)
    torch.testing.assert_close(cbs.mlp(params, x), net(x))
    torch.testing.assert_close(cbs.mse(params, x, y), 0.5 * nn.functional.mse_loss(net(x), y))


def test_lockstep_copies_train_independently(device) -> None:
    x, y = cbs.make_data(512, device=device)
    together, params_t = cbs.steps_to_target(16, [0.1, 0.3], 0.3, x, y, max_steps=2000)
    for k, lr in enumerate([0.1, 0.3]):
        alone, params_a = cbs.steps_to_target(16, [lr], 0.3, x, y, max_steps=2000)
        assert together[k] == alone[0] and together[k] is not None
        for a, b in zip(params_t[k], params_a[0], strict=True):
            torch.testing.assert_close(a, b)


def test_fit_recovers_a_known_curve() -> None:
    batches = [2, 4, 8, 16, 32, 64, 128, 256, 512]
    steps = [round(1000 * (1 + 40 / b)) for b in batches]
    s_min, b_crit = cbs.fit_critical_batch(batches, steps)
    assert s_min == pytest.approx(1000, rel=0.01) and b_crit == pytest.approx(40, rel=0.01)


def test_exact_noise_scale_matches_a_loop(device) -> None:
    params = [p[0].double() for p in cbs.init_params(1, device=device)]
    x, y = cbs.make_data(20, device=device)
    x, y = x.double(), y.double()
    rows = []
    for i in range(20):
        leaves = [p.clone().requires_grad_(True) for p in params]
        grads = torch.autograd.grad(cbs.mse(leaves, x[i : i + 1], y[i : i + 1]), leaves)
        rows.append(torch.cat([g.flatten() for g in grads]))
    g = torch.stack(rows)
    mean = g.mean(0)
    expected = (g - mean).pow(2).sum(1).mean() / (mean @ mean)
    assert cbs.exact_noise_scale(params, x, y) == pytest.approx(expected.item(), rel=1e-9)


def best(batch: int, x, y) -> int:
    hit, _ = cbs.steps_to_target(batch, LRS, 0.1, x, y)
    return min(h for h in hit if h is not None)


def test_doubling_a_small_batch_nearly_halves_the_steps(device) -> None:
    x, y = cbs.make_data(2048, device=device)
    assert best(8, x, y) / best(16, x, y) > 1.6


def test_doubling_a_large_batch_barely_helps(device) -> None:
    x, y = cbs.make_data(2048, device=device)
    assert best(512, x, y) / best(1024, x, y) < 1.2


@pytest.mark.slow
def test_the_whole_sweep_fits_the_model_and_b_simple_is_the_same_order(device) -> None:
    x, y = cbs.make_data(2048, device=device)
    batches = [4, 8, 16, 32, 64, 128, 256, 512, 1024]
    steps, at_target = [], []
    for b in batches:
        hit, params = cbs.steps_to_target(b, LRS, 0.1, x, y)
        k = min((h, k) for k, h in enumerate(hit) if h is not None)[1]
        steps.append(hit[k])
        at_target.append(cbs.exact_noise_scale(params[k], x, y))
    s_min, b_crit = cbs.fit_critical_batch(batches, steps)
    for b, s in zip(batches, steps, strict=True):
        assert s == pytest.approx(s_min * (1 + b_crit / b), rel=0.25)
    assert 8 < b_crit < 128
    b_simple = sorted(at_target)[len(at_target) // 2]
    assert b_crit < b_simple < 10 * b_crit  # larger than B_crit, within an order of magnitude
