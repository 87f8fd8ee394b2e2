"""Checks for activation_derivatives.py: every derivative by hand == autograd."""

from __future__ import annotations

import math

import activation_derivatives as ad
import pytest
import torch
import torch.nn.functional as F
from sitecheck import expanded_page

NAMES = list(ad.ACTIVATIONS)


def test_all_eight_activations_are_covered() -> None:
    assert NAMES == ["sigmoid", "tanh", "ReLU", "Leaky ReLU", "ELU", "SELU", "GELU", "SiLU"]


@pytest.mark.parametrize("name", NAMES)
def test_hand_derivative_equals_autograd(name: str, device: torch.device) -> None:
    f, f_prime = ad.ACTIVATIONS[name]
    x = torch.arange(-8000, 8001, dtype=torch.float64, device=device) / 1000  # includes 0
    torch.testing.assert_close(f_prime(x), ad.autograd_derivative(f, x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_hand_derivative_equals_central_differences(name: str) -> None:
    """An autograd-free check, away from the kink at 0."""
    f, f_prime = ad.ACTIVATIONS[name]
    x = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    x = x[x.abs() > 1e-3]
    h = 1e-6
    numeric = (f(x + h) - f(x - h)) / (2 * h)
    torch.testing.assert_close(f_prime(x), numeric, rtol=1e-6, atol=1e-8)


def test_autograd_derivative_helper_on_a_known_function() -> None:
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    torch.testing.assert_close(ad.autograd_derivative(lambda v: v**3, x), 3 * x**2)


def test_selu_constants_are_torchs() -> None:
    one = torch.tensor([1.0], dtype=torch.float64)
    assert float(F.selu(one)) == pytest.approx(ad.SELU_SCALE, rel=1e-7)
    very_negative = torch.tensor([-50.0], dtype=torch.float64)
    assert float(F.selu(very_negative)) == pytest.approx(-ad.SELU_SCALE * ad.SELU_ALPHA, rel=1e-7)


def test_values_at_zero_quoted_on_the_page() -> None:
    """The page's reading of the values at 0 (ReLU's, Leaky ReLU's and SELU's from the left) and
    of SELU's constants is on the page, and true of autograd and of torch's SELU."""
    page = " ".join(expanded_page("docs/problems/activations.md").split())
    zero = torch.zeros(1, dtype=torch.float64)
    at_zero = {
        name: float(ad.autograd_derivative(f, zero)) for name, (f, _) in ad.ACTIVATIONS.items()
    }
    selu = -float(F.selu(torch.tensor([-50.0], dtype=torch.float64)))  # lambda * alpha
    assert at_zero["ReLU"] == 0.0
    assert at_zero["Leaky ReLU"] == pytest.approx(0.01, abs=1e-12)
    assert at_zero["ELU"] == pytest.approx(1.0, abs=1e-12)
    assert at_zero["SELU"] == pytest.approx(selu, rel=1e-12)
    assert (
        "In the table `F.relu` gives $0$, `F.leaky_relu` its left slope $0.01$ and SELU its "
        f"left-hand limit $\\lambda\\alpha_\\text{{S}} = {selu:.4f}$ "
        "(ELU with $\\alpha = 1$ has no kink: both sides give $1$)" in page
    )
    scale = float(F.selu(torch.tensor([1.0], dtype=torch.float64)))
    alpha_s = selu / scale
    constants = f"$\\lambda \\approx {scale:.4f}$ and $\\alpha_\\text{{S}} \\approx {alpha_s:.4f}$"
    assert constants in page
    assert f"$\\lambda \\approx {scale:.4f}$ for $x > 0$" in page  # SELU's slope for x > 0
    # on the negative side SELU' = lambda alpha e^x, which is 1 at x = -ln(lambda alpha)
    crossing = -math.log(selu)
    x = torch.tensor([crossing - 1e-3, crossing + 1e-3], dtype=torch.float64)
    slopes = ad.autograd_derivative(F.selu, x)
    assert float(slopes[0]) < 1 < float(slopes[1])
    assert f"$x > -\\ln(\\lambda\\alpha_\\text{{S}}) \\approx {crossing:.3f}$" in page
    assert at_zero["GELU"] == at_zero["SiLU"] == pytest.approx(0.5, abs=1e-12)
    assert "At $x = 0$ both have slope $1/2$" in page  # GELU and SiLU


def test_gelu_derivative_peaks_at_sqrt2() -> None:
    """GELU''(x) = phi(x) (2 - x^2) = 0 at r = sqrt(2), where GELU'(r) = Phi(r) + r phi(r)."""
    peak = math.sqrt(2)
    value = 0.5 * (1 + math.erf(1.0)) + math.sqrt(2) * math.exp(-1) / math.sqrt(2 * math.pi)
    assert float(ad.gelu_prime(torch.tensor(peak, dtype=torch.float64))) == pytest.approx(value)
    x = torch.linspace(-10, 10, 200_001, dtype=torch.float64)
    g = ad.gelu_prime(x)
    assert float(x[g.argmax()]) == pytest.approx(peak, abs=1e-4)
    assert value == pytest.approx(1.1289, abs=5e-5)
    assert float(g.min()) == pytest.approx(1 - value, abs=1e-8)  # GELU'(x) + GELU'(-x) = 1


def _bisect(f, lo: float, hi: float) -> float:
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(lo) * f(mid) > 0 else (lo, mid)
    return 0.5 * (lo + hi)


def test_silu_derivative_peak() -> None:
    """SiLU''(x) = s (1 - s) (2 + x (1 - 2 s)) with s = sigmoid(x): root near 2.3994."""

    def second(x: float) -> float:
        s = 1 / (1 + math.exp(-x))
        return s * (1 - s) * (2 + x * (1 - 2 * s))

    peak = _bisect(second, 1.0, 4.0)
    value = float(ad.silu_prime(torch.tensor(peak, dtype=torch.float64)))
    assert peak == pytest.approx(2.3994, abs=5e-5)
    assert value == pytest.approx(1.0998, abs=5e-5)
    x = torch.tensor([-peak, peak], dtype=torch.float64)
    assert float(ad.silu_prime(x).sum()) == pytest.approx(1.0)  # SiLU'(x) + SiLU'(-x) = 1
    assert 1 - value == pytest.approx(-0.0998, abs=5e-5)


def test_only_smooth_relu_variants_have_derivative_above_one() -> None:
    x = torch.arange(-5000, 5001, dtype=torch.float64) / 1000
    for name in ["sigmoid", "tanh", "ReLU", "Leaky ReLU", "ELU"]:
        assert float(ad.ACTIVATIONS[name][1](x).max()) <= 1.0
    for name in ["SELU", "GELU", "SiLU"]:
        assert float(ad.ACTIVATIONS[name][1](x).max()) > 1.0


def test_autograd_picks_a_value_per_operation_at_a_kink() -> None:
    """No left-hand rule: the same function gets 0, 1 or 0.5 at its kink depending on the op."""
    values = {name: ad.derivative_at(f, point) for name, (f, point) in ad.KINKS.items()}
    assert values == {
        "F.relu(x) at 0": 0.0,
        "x.clamp(min=0) at 0": 1.0,
        "torch.maximum(x, 0) at 0": 0.5,
        "x.abs() at 0": 0.0,
        "F.relu6(x) at 6": 0.0,
    }
    x = torch.linspace(-1, 1, 11, dtype=torch.float64)
    for f, _ in list(ad.KINKS.values())[:3]:
        torch.testing.assert_close(f(x), torch.relu(x))  # three spellings of one function
    page = " ".join(expanded_page("docs/problems/activations.md").split())
    assert "`x.clamp(min=0)` gives 1.0" in page
    assert "splits the tie and gives 0.5" in page
    assert "left-hand value" not in page
