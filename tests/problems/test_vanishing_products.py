"""Checks for vanishing_products.py: derivative maxima and the quoted powers."""

from __future__ import annotations

import re

import pytest
import torch
import vanishing_products as vp
from sitecheck import expanded_page


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


# "$0.25^{20} \approx 9.1 \times 10^{-13}$" on the page: factor, exponent, mantissa, power of ten
QUOTED_POWER = re.compile(
    r"\$(\d+(?:\.\d+)?)\^\{?(\d+)\}? \\approx (\d+(?:\.\d+)?)(?: \\times 10\^\{?(-?\d+)\}?)?\$"
)


def test_powers_quoted_on_the_page() -> None:
    """Every power the page quotes as "f^n ~ x" (in math) is one the snippet prints, and x is
    f**n rounded to the digits the page gives."""
    page = expanded_page("docs/problems/vanishing-exploding.md")
    quoted = QUOTED_POWER.findall(page)
    assert len(quoted) >= 5
    for factor, depth, mantissa, exponent in quoted:
        f, n = float(factor), int(depth)
        assert (f, n) in vp.PRODUCTS, f"{factor}^{depth} is quoted but not printed"
        value = vp.compounded(f, n)
        scale = 10.0 ** int(exponent or 0)
        decimals = len(mantissa.partition(".")[2])
        assert abs(value / scale - float(mantissa)) <= 0.5001 * 10.0**-decimals, (factor, depth)


def test_twenty_sigmoid_layers_attenuate_by_about_a_trillion() -> None:
    assert 1e-13 < vp.compounded(0.25, 20) < 1e-12
