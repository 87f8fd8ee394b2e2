"""Checks for input_scaling.py: gradient scale follows input scale; the page's runs."""

from __future__ import annotations

import math

import input_scaling as isc
import pytest
import torch
from torch import nn

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def test_linear_gradient_scales_with_the_column(device: torch.device) -> None:
    """For y_hat = x w at w = 0, dL/dw_j = -(2/N) sum_i y_i x_ij: exactly linear in column j."""
    torch.manual_seed(0)
    x = torch.randn(64, 4, dtype=torch.float64, device=device)
    y = torch.randn(64, 1, dtype=torch.float64, device=device)

    def grad_at_zero(inputs: torch.Tensor) -> torch.Tensor:
        w = torch.zeros(4, 1, dtype=torch.float64, device=device, requires_grad=True)
        (g,) = torch.autograd.grad(((inputs @ w - y) ** 2).mean(), w)
        return g.flatten()

    scaled = x.clone()
    scaled[:, 2] *= 1000
    g, g_scaled = grad_at_zero(x), grad_at_zero(scaled)
    torch.testing.assert_close(g_scaled[2], 1000 * g[2])
    torch.testing.assert_close(g_scaled[[0, 1, 3]], g[[0, 1, 3]])
    torch.testing.assert_close(g, -(2 / 64) * (x * y).sum(0))


def test_standardize_gives_zero_mean_unit_std(device: torch.device) -> None:
    torch.manual_seed(0)
    x, _ = isc.make_data(4096)
    x = x.to(device)
    z = isc.standardize(x, x.mean(0), x.std(0))
    torch.testing.assert_close(z.mean(0), torch.zeros(4, device=device), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(0), torch.ones(4, device=device))
    assert float(x.std(0)[2]) == pytest.approx(1000, rel=0.05)


def test_grad_norm_is_the_global_norm() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    nn.functional.mse_loss(model(torch.randn(16, 4)), torch.randn(16, 1)).backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=math.inf)
    assert isc.grad_norm(model) == pytest.approx(float(total), rel=1e-6)


@pytest.fixture(scope="module")
def page_runs() -> dict[str, list[float]]:
    torch.manual_seed(0)
    x_raw, y = isc.make_data(4096)
    x_std = isc.standardize(x_raw, x_raw.mean(0), x_raw.std(0))
    return {
        "raw": isc.train_grad_norms(x_raw, y),
        "std": isc.train_grad_norms(x_std, y),
        "spiky": isc.train_grad_norms(x_std, y, outlier_step=100),
    }


def test_unscaled_column_blows_up_the_gradient(page_runs) -> None:
    raw, std = page_runs["raw"], page_runs["std"]
    assert raw[0] / std[0] > 1000
    assert not math.isfinite(raw[-1]) and len(raw) <= 5  # diverges within a few steps


def test_standardised_run_stays_finite_and_falls(page_runs) -> None:
    std = page_runs["std"]
    assert len(std) == 200 and all(math.isfinite(v) for v in std)
    assert std[-1] < std[0] / 5


def test_one_outlier_row_makes_a_spike_and_training_survives(page_runs) -> None:
    spiky, std = page_runs["spiky"], page_runs["std"]
    assert spiky[:100] == std[:100]  # identical until the outlier batch
    median = sorted(spiky[80:100])[10]
    assert spiky[100] > 100 * median
    assert len(spiky) == 200 and all(math.isfinite(v) for v in spiky)
