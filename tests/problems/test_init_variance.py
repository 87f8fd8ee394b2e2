"""Checks for init_variance.py: Var[z], Xavier/He formulas, gains, nn.Linear's default."""

from __future__ import annotations

import math

import init_variance as iv
import pytest
import torch
from torch import nn


@pytest.mark.parametrize(
    ("n_in", "var_w", "var_x"), [(16, 0.1, 1.0), (256, 1 / 256, 2.0), (1024, 2 / 1024, 0.5)]
)
def test_preactivation_variance_formula(n_in: int, var_w: float, var_x: float) -> None:
    """Var[z] = n_in Var[w] Var[x]; the sample variance of 20000 draws is within ~1% (1 s.e.)."""
    torch.manual_seed(0)
    assert iv.preactivation_variance(n_in, var_w, var_x) == pytest.approx(
        n_in * var_w * var_x, rel=0.05
    )
    # relative s.e. of a sample variance: sqrt((kurtosis - 1) / N), kurtosis of z = 3 + 6 / n_in
    se = math.sqrt((2 + 6 / n_in) / 20_000)
    assert 0.0099 < se < 0.011  # "about 1%"


def _rel_tol(n: int) -> float:
    """Five standard errors of a sample std from n draws: about 5 / sqrt(2 n)."""
    return 5 / math.sqrt(2 * n)


@pytest.mark.parametrize(("n_out", "n_in"), [(384, 256), (100, 300), (512, 512)])
def test_xavier_and_he_formulas_match_torch(n_out: int, n_in: int, device: torch.device) -> None:
    torch.manual_seed(0)
    w = torch.empty(n_out, n_in, device=device)
    tol = _rel_tol(w.numel())
    nn.init.xavier_uniform_(w)
    assert float(w.abs().max()) <= iv.xavier_uniform_bound(n_in, n_out)
    assert float(w.abs().max()) > 0.99 * iv.xavier_uniform_bound(n_in, n_out)
    assert float(w.std()) == pytest.approx(iv.xavier_std(n_in, n_out), rel=tol)
    nn.init.xavier_normal_(w)
    assert float(w.std()) == pytest.approx(math.sqrt(2 / (n_in + n_out)), rel=tol)
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert float(w.std()) == pytest.approx(math.sqrt(2 / n_in), rel=tol)
    assert iv.he_std(n_in) == pytest.approx(math.sqrt(2 / n_in))
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    assert float(w.std()) == pytest.approx(iv.he_std(n_in), rel=tol)
    assert float(w.abs().max()) <= math.sqrt(6 / n_in)  # uniform with variance 2/n_in


def test_xavier_uniform_bound_gives_xavier_variance() -> None:
    """U(-b, b) has variance b^2 / 3, so b = sqrt(6 / (n_in + n_out)) gives 2 / (n_in + n_out)."""
    for n_in, n_out in [(3, 5), (256, 384)]:
        assert iv.xavier_uniform_bound(n_in, n_out) ** 2 / 3 == pytest.approx(
            iv.xavier_std(n_in, n_out) ** 2
        )


@pytest.mark.parametrize("name", ["linear", "sigmoid", "tanh", "relu", "selu"])
def test_gains(name: str) -> None:
    expected = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5 / 3, "relu": math.sqrt(2), "selu": 0.75}
    assert nn.init.calculate_gain(name) == pytest.approx(expected[name])
    assert iv.gain_by_hand(name) == pytest.approx(expected[name])


@pytest.mark.parametrize("slope", [0.01, 0.2, 1.0, math.sqrt(5)])
def test_leaky_relu_gain(slope: float) -> None:
    expected = math.sqrt(2 / (1 + slope**2))
    assert nn.init.calculate_gain("leaky_relu", slope) == pytest.approx(expected)
    assert iv.gain_by_hand("leaky_relu", slope) == pytest.approx(expected)
    assert nn.init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))


def test_default_linear_bound_formula() -> None:
    for n_in in [1, 7, 256, 4096]:
        bound, var = iv.default_linear_bounds(n_in)
        assert bound == pytest.approx(1 / math.sqrt(n_in))
        assert var == pytest.approx(1 / (3 * n_in))
        assert var / (2 / n_in) == pytest.approx(1 / 6)  # a sixth of He's variance
        assert var / (1 / n_in) == pytest.approx(1 / 3)  # a third of LeCun's


@pytest.mark.parametrize(("n_in", "n_out"), [(256, 384), (64, 1024), (1000, 50)])
def test_installed_nn_linear_default_init(n_in: int, n_out: int, device: torch.device) -> None:
    """The installed torch: weights in U(-1/sqrt(n_in), 1/sqrt(n_in)), variance 1/(3 n_in)."""
    torch.manual_seed(0)
    layer = nn.Linear(n_in, n_out, device=device)
    w = layer.weight.detach()
    bound = 1 / math.sqrt(n_in)
    assert float(w.abs().max()) <= bound
    assert float(w.abs().max()) > 0.99 * bound
    assert float(layer.bias.detach().abs().max()) <= bound  # the bias uses the same bound
    # Var[w^2] for U(-b, b) is 4 b^4 / 45, so the mean of w^2 has s.e. sqrt(4/45 / N) b^2
    se = math.sqrt(4 / 45 / w.numel()) * bound**2
    assert abs(float((w**2).mean()) - 1 / (3 * n_in)) < 5 * se
    assert abs(float((w**2).mean()) - 2 / n_in) > 100 * se  # and clearly not He's 2 / n_in


def test_nn_linear_draws_exactly_a_uniform_with_that_bound() -> None:
    """Same seed, same draws: nn.Linear's weight is uniform_(-1/sqrt(n_in), 1/sqrt(n_in))."""
    n_in, n_out = 300, 20
    torch.manual_seed(123)
    layer = nn.Linear(n_in, n_out)
    torch.manual_seed(123)
    manual = torch.empty(n_out, n_in).uniform_(-1 / math.sqrt(n_in), 1 / math.sqrt(n_in))
    torch.testing.assert_close(layer.weight.detach(), manual, rtol=1e-6, atol=1e-7)
