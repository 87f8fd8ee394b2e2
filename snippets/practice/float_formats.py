"""Range and precision of float32, float16, bfloat16: finfo and probing."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

DTYPES = (torch.float32, torch.float16, torch.bfloat16)


# --8<-- [start:formats]
def format_info(dtype: torch.dtype) -> dict[str, float]:
    fi = torch.finfo(dtype)
    mantissa_bits = round(-torch.log2(torch.tensor(fi.eps)).item())
    return {
        "bits": fi.bits,
        # stored fraction bits; eps = 2 ** -mantissa_bits
        "mantissa_bits": mantissa_bits,
        "exponent_bits": fi.bits - 1 - mantissa_bits,
        "max": fi.max,
        "smallest_normal": fi.smallest_normal,
        "smallest_subnormal": fi.smallest_normal * fi.eps,
        "eps": fi.eps,
    }


def smallest_positive(dtype: torch.dtype) -> float:
    """Halve 1.0 in the given dtype until the next halving would give 0."""
    x = torch.tensor(1.0, dtype=dtype)
    while (x / 2) > 0:
        x = x / 2
    return x.item()
# --8<-- [end:formats]


def main() -> None:
    torch.manual_seed(0)
    print(
        f"{'dtype':9s} bits exp mant  {'max':>10s}  {'min normal':>10s}  "
        f"{'min subnormal':>13s}  {'eps':>9s}"
    )
    for dt in DTYPES:
        i = format_info(dt)
        print(
            f"{str(dt)[6:]:9s} {i['bits']:4d} {i['exponent_bits']:3d} "
            f"{i['mantissa_bits']:4d}  {i['max']:10.5g}  "
            f"{i['smallest_normal']:10.3e}  {i['smallest_subnormal']:13.3e}  "
            f"{i['eps']:9.3e}"
        )
    print("smallest positive number found by halving 1.0:")
    print(
        "  "
        + ", ".join(
            f"{str(dt)[6:]} {smallest_positive(dt):.3e}" for dt in DTYPES
        )
    )

    print("\nwhat happens to a few numbers")
    names = "".join(f"{str(dt)[6:]:<17}" for dt in DTYPES)
    print(f"  value      {names}".rstrip())
    for value in (70000.0, 1e-4, 1e-6, 1e-8, 1 + 1e-4, 1 + 1e-3):
        cast = "".join(
            f"{torch.tensor(value, dtype=dt).item():<17.8g}" for dt in DTYPES
        )
        print(f"  {value:<10g} {cast}".rstrip())
    for dt in DTYPES:
        one = torch.tensor(1.0, dtype=dt)
        spacing = (torch.nextafter(one, 2 * one) - one).item()
        print(
            f"{str(dt)[6:]:9s}: 1 + 1e-4 == 1 is {bool(one + 1e-4 == one)}, "
            f"spacing of numbers just above 1 = {spacing:.3e}"
        )

    fig, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
    for row, dt in enumerate(DTYPES):
        i = format_info(dt)
        sub, norm, top = i["smallest_subnormal"], i["smallest_normal"], i["max"]
        ax.barh(
            row,
            norm - sub,
            left=sub,
            height=0.5,
            color=f"C{row}",
            alpha=0.35,
            hatch="//",
            edgecolor=f"C{row}",
            label="subnormal range" if row == 0 else None,
        )
        ax.barh(
            row,
            top - norm,
            left=norm,
            height=0.5,
            color=f"C{row}",
            label="normal range" if row == 0 else None,
        )
    ax.set_yticks(range(len(DTYPES)), [str(dt)[6:] for dt in DTYPES])
    ax.set(
        xscale="log",
        xlim=(1e-47, 1e41),
        xlabel="magnitude |x|",
        title="Representable magnitudes (log scale)",
    )
    fig.legend(fontsize=8, loc="outside lower center", ncols=2)
    plt.show()


if __name__ == "__main__":
    main()
