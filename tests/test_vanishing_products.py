"""Checks for snippets/vanishing_products.py: derivative maxima and the quoted powers."""

from __future__ import annotations

import pytest
import torch
import vanishing_products as vp

# the values quoted in CONTENT.md / on the page, with the digits they are quoted to
QUOTED = {
    (0.25, 5): 9.77e-4,
    (0.25, 10): 9.54e-7,
    (0.25, 20): 9.09e-13,
    (0.9, 50): 5.15e-3,
    (0.9, 100): 2.66e-5,
    (1.1, 50): 117.4,
    (1.1, 100): 1.378e4,
}


def autograd_derivative(f, z: torch.Tensor) -> torch.Tensor:
    z = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(z).sum(), z)
    return g


def test_derivatives_match_autograd(device: torch.device) -> None:
    z = torch.linspace(-10, 10, 2001, dtype=torch.float64, device=device)
    torch.testing.assert_close(vp.sigmoid_prime(z), autograd_derivative(torch.sigmoid, z))
    torch.testing.assert_close(vp.tanh_prime(z), autograd_derivative(torch.tanh, z))


def test_sigmoid_prime_max_is_a_quarter_at_zero_only(device: torch.device) -> None:
    zero = torch.zeros(1, dtype=torch.float64, device=device)
    assert float(vp.sigmoid_prime(zero)) == 0.25
    z = torch.logspace(-6, 1, 200, dtype=torch.float64, device=device)
    z = torch.cat([-z, z])
    assert bool((vp.sigmoid_prime(z) < 0.25).all())


def test_tanh_prime_is_one_at_zero_and_below_one_elsewhere(device: torch.device) -> None:
    zero = torch.zeros(1, dtype=torch.float64, device=device)
    assert float(vp.tanh_prime(zero)) == 1.0
    z = torch.logspace(-4, 1, 200, dtype=torch.float64, device=device)
    z = torch.cat([-z, z])
    assert bool((vp.tanh_prime(z) < 1).all())
    # the values printed on the page: tanh'(+-0.01) = 1 - tanh(0.01)^2, tanh'(1), tanh'(2)
    for v, expected in [(0.01, 0.999900), (1.0, 0.419974), (2.0, 0.070651)]:
        assert float(vp.tanh_prime(torch.tensor(v, dtype=torch.float64))) == pytest.approx(
            expected, abs=5e-7
        )


@pytest.mark.parametrize(("factor", "depth"), list(QUOTED))
def test_quoted_powers(factor: float, depth: int) -> None:
    value = vp.compounded(factor, depth)
    quoted = QUOTED[factor, depth]
    digits = len(f"{quoted:e}".split("e")[0].replace(".", "").rstrip("0"))
    assert float(f"{value:.{digits}g}") == quoted
    assert value == pytest.approx(torch.tensor(factor, dtype=torch.float64).pow(depth).item())


def test_snippet_prints_every_quoted_power() -> None:
    assert set(vp.PRODUCTS) == set(QUOTED)


def test_twenty_sigmoid_layers_attenuate_by_about_a_trillion() -> None:
    assert 1e-13 < vp.compounded(0.25, 20) < 1e-12
