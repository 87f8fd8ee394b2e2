"""Checks for devices_ddp.py: DDP averaging, local vs global norms, clipping."""

from __future__ import annotations

import functools
import re

import devices_ddp as dd
import noise_scale_estimator as nse
import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, vmap


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return dd.run_ranks()


def _numbers(lines: list[str], pattern: str) -> list[tuple[float, ...]]:
    """Every line matching pattern, its groups as floats."""
    found = [re.fullmatch(pattern, line) for line in lines]
    return [tuple(map(float, m.groups())) for m in found if m]


def _local_grad(step: int, rank: int) -> torch.Tensor:
    return dd.one_process_grad(dd.draw(step).chunk(dd.WORLD)[rank])


def test_each_rank_prints_its_lines_in_rank_order(lines: list[str]) -> None:
    ranks = [int(m[1]) for m in map(re.compile(r"rank (\d)").match, lines) if m]
    assert ranks == sorted(ranks) and set(ranks) == set(range(dd.WORLD))


def test_hook_and_no_sync_see_the_local_gradient(lines: list[str]) -> None:
    norms = _numbers(
        lines,
        r"rank \d: local \|g\| (\S+) \(hook\), (\S+) \(no_sync\); "
        r"all-reduced \|g\| (\S+)",
    )
    assert len(norms) == dd.WORLD
    full = dd.one_process_grad(dd.draw(0)).norm().item()
    for rank, (hook, no_sync, reduced) in enumerate(norms):
        assert hook == no_sync == pytest.approx(_local_grad(0, rank).norm().item(), abs=1e-4)
        assert reduced == pytest.approx(full, abs=1e-4)
    # the ranks' local norms differ; what .grad holds after backward does not
    assert norms[0][0] != norms[1][0]


def test_all_reduced_grad_is_the_mean_of_the_local_ones() -> None:
    mean = sum(_local_grad(0, r) for r in range(dd.WORLD)) / dd.WORLD
    full = dd.one_process_grad(dd.draw(0))
    assert torch.allclose(mean, full, rtol=1e-12, atol=1e-14)


def test_clip_returns_the_global_norm_and_weights_agree(lines: list[str]) -> None:
    assert all(" < 1e-12: True;" in line for line in lines if "error vs" in line)
    totals = _numbers(lines, r"rank \d: error .*clip_grad_norm_ returns (\S+)")
    full = dd.one_process_grad(dd.draw(0)).norm().item()
    assert [t for (t,) in totals] == [pytest.approx(full, abs=1e-4)] * dd.WORLD
    assert full > dd.CLIP  # the clip was active, so the step scaled the grad
    equal = [line for line in lines if "equal rank 0's" in line]
    assert len(equal) == dd.WORLD and all(line.endswith("True") for line in equal)


@functools.cache
def _squared_norms() -> tuple[torch.Tensor, torch.Tensor]:
    """In one process, per step: each rank's local |g|^2, shape (STEPS,
    WORLD), and the global batch's |g|^2, shape (STEPS,)."""
    model, (x, y) = dd.make_model(), dd.make_data()
    params = {k: v.detach() for k, v in model.named_parameters()}

    def sq_norm(idx: torch.Tensor) -> torch.Tensor:
        def loss(p: dict[str, torch.Tensor]) -> torch.Tensor:
            return nn.functional.mse_loss(functional_call(model, p, (x[idx],)), y[idx])

        return sum(g.pow(2).sum() for g in grad(loss)(params).values())

    idx = torch.stack([dd.draw(s) for s in range(dd.STEPS)])
    small = vmap(vmap(sq_norm))(idx.reshape(dd.STEPS, dd.WORLD, dd.ROWS))
    return small, vmap(sq_norm)(idx)


def test_mean_squared_norms_match_one_process(lines: list[str]) -> None:
    means = _numbers(lines, r"rank (\d): mean \|g\|\^2 local (\S+), all-reduced (\S+)")
    assert len(means) == dd.WORLD
    s, b = _squared_norms()
    for rank, small, big in means:
        assert small == pytest.approx(s[:, int(rank)].mean().item(), abs=1e-4)
        assert big == pytest.approx(b.mean().item(), abs=1e-4)


def test_signal_and_noise_by_a_loop_over_examples() -> None:
    x, y = dd.make_data()
    grads = []
    for i in range(dd.N):
        model = dd.make_model()
        nn.functional.mse_loss(model(x[i : i + 1]), y[i : i + 1]).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    g = torch.stack(grads)
    g2, tr = dd.signal_and_noise()
    assert g2 == pytest.approx((g.mean(0) @ g.mean(0)).item(), rel=1e-10)
    assert tr == pytest.approx(g.var(0, correction=0).sum().item(), rel=1e-10)


def test_measured_means_follow_signal_plus_noise_over_b() -> None:
    g2, tr = dd.signal_and_noise()
    s, b = _squared_norms()
    for sq, batch in ((s.flatten(), dd.ROWS), (b, dd.WORLD * dd.ROWS)):
        stderr = sq.std().item() / sq.numel() ** 0.5
        assert abs(sq.mean().item() - (g2 + tr / batch)) < 4 * stderr
    # at a fixed per-rank batch the logged norm shrinks as ranks are added
    assert g2 + tr / dd.ROWS > 1.5 * (g2 + tr / (dd.WORLD * dd.ROWS))


def test_estimator_is_the_noise_scale_pages(lines: list[str]) -> None:
    ((small, big),) = _numbers(lines, r"mean over ranks: local (\S+), all-reduced (\S+)")
    ((g2, tr),) = _numbers(lines, r"two-norm estimate: \|G\|\^2 (\S+), tr\(Sigma\) (\S+)")
    b_small, b_big = dd.ROWS, dd.WORLD * dd.ROWS
    ref = nse.two_batch_estimates(torch.tensor(small), torch.tensor(big), b_small, b_big)
    assert (g2, tr) == pytest.approx((ref[0].item(), ref[1].item()), abs=2e-3)
    # fed the exact expectations, it returns the exact |G|^2 and tr(Sigma)
    g2_true, tr_true = dd.signal_and_noise()
    exact = dd.two_norm_estimate(
        g2_true + tr_true / b_small, g2_true + tr_true / b_big, b_small, b_big
    )
    assert exact == pytest.approx((g2_true, tr_true), rel=1e-10)
