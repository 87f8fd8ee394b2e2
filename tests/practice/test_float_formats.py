"""Checks for float_formats.py: the ranges, against closed forms and the page."""

from __future__ import annotations

import float_formats as ff
import pytest
import torch
from sitecheck import expanded_page


def tex(x: float, decimals: int) -> str:
    """A number as the page writes it in math: 3.39\\cdot10^{38} for (3.3895e38, 2)."""
    mantissa, exponent = f"{x:.{decimals}e}".split("e")
    return f"{mantissa}\\cdot10^{{{int(exponent)}}}"


def test_values_quoted_on_the_page() -> None:
    """The limits the mixed-precision page states for float16 and bfloat16 are on the page, each
    next to the power of two it comes from, and they are torch.finfo's."""
    page = " ".join(expanded_page("docs/practice/mixed-precision.md").split())
    f16, bf16 = ff.format_info(torch.float16), ff.format_info(torch.bfloat16)
    assert f16["max"] == 65504.0
    assert "**float16** has 5 exponent bits: its largest value is 65504" in page
    assert f"$2^{{-14}} \\approx {tex(f16['smallest_normal'], 2)}$" in page
    assert f"$2^{{-24}} \\approx {tex(f16['smallest_subnormal'], 2)}$" in page
    assert f16["eps"] == 2.0**-10  # the spacing of float16 numbers just above 1
    assert f"$2^{{-10}} \\approx {tex(f16['eps'], 3)}$ apart" in page
    assert f"half that, ${tex(f16['eps'] / 2, 3)}$, is rounded away" in page
    assert (
        f"(max ${tex(bf16['max'], 2)}$, smallest normal ${tex(bf16['smallest_normal'], 2)}$)"
        in page
    )
    assert f"$\\epsilon = 2^{{-7}} \\approx {tex(bf16['eps'], 2)}$" in page
    assert (
        f"float16: max 65504, smallest normal ${tex(f16['smallest_normal'], 2)}$, smallest "
        f"subnormal ${tex(f16['smallest_subnormal'], 2)}$; bfloat16: float32's range (max "
        f"${tex(bf16['max'], 2)}$) with $\\epsilon = {tex(bf16['eps'], 2)}$" in page
    )


def test_closed_forms() -> None:
    # (bits, exponent bits, stored fraction bits, max exponent)
    layouts = {
        torch.float32: (32, 8, 23, 127),
        torch.float16: (16, 5, 10, 15),
        torch.bfloat16: (16, 8, 7, 127),
    }
    for dtype, (bits, e_bits, m_bits, e_max) in layouts.items():
        info = ff.format_info(dtype)
        assert (info["bits"], info["exponent_bits"], info["mantissa_bits"]) == (
            bits,
            e_bits,
            m_bits,
        )
        assert info["eps"] == 2.0**-m_bits
        assert info["max"] == (2 - 2.0**-m_bits) * 2.0**e_max
        assert info["smallest_normal"] == 2.0 ** (1 - e_max)
        assert info["smallest_subnormal"] == 2.0 ** (1 - e_max - m_bits)


@pytest.mark.parametrize("dtype", ff.DTYPES)
def test_probe_finds_the_smallest_subnormal(dtype) -> None:
    assert ff.smallest_positive(dtype) == ff.format_info(dtype)["smallest_subnormal"]


def test_rounding_at_the_edges(device) -> None:
    def cast(v, dt):
        return torch.tensor(v, dtype=torch.float64, device=device).to(dt).item()

    tiny16 = 2.0**-24
    assert cast(tiny16, torch.float16) == tiny16
    assert cast(tiny16 / 2, torch.float16) == 0.0  # a tie rounds to even: 0
    assert cast(tiny16 * 0.51, torch.float16) == tiny16
    assert cast(1e-8, torch.float16) == 0.0
    assert cast(1e-6, torch.float16) / 1e-6 - 1 == pytest.approx(0.013, abs=5e-4)  # subnormal
    assert cast(1e-8, torch.bfloat16) == pytest.approx(1e-8, rel=4e-3)
    assert cast(70000.0, torch.float16) == float("inf")
    assert cast(65519.0, torch.float16) == 65504.0  # below the halfway point to 65536
    assert cast(70000.0, torch.bfloat16) == 137 * 512  # spacing 2^(16 - 7) = 512 near 2^16


def test_one_plus_small_number(device) -> None:
    for dtype, lost in ((torch.float16, True), (torch.bfloat16, True), (torch.float32, False)):
        one = torch.tensor(1.0, dtype=dtype, device=device)
        assert bool(one + 1e-4 == one) is lost
        assert (torch.nextafter(one, 2 * one) - one).item() == ff.format_info(dtype)["eps"]
    one16 = torch.tensor(1.0, dtype=torch.float16, device=device)
    assert (one16 + 1e-3).item() == 1 + 2.0**-10
