"""How derivative factors compound with depth: sigmoid', tanh', 0.25^L."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch


# --8<-- [start:derivatives]
def sigmoid_prime(z: torch.Tensor) -> torch.Tensor:
    """sigma'(z) = sigma(z) (1 - sigma(z)), at most 0.25 (at z = 0)."""
    s = torch.sigmoid(z)
    return s * (1 - s)


def tanh_prime(z: torch.Tensor) -> torch.Tensor:
    """tanh'(z) = 1 - tanh(z)^2, equal to 1 at z = 0 and below 1 everywhere
    else."""
    return 1 - torch.tanh(z) ** 2
# --8<-- [end:derivatives]

# (factor, depth) pairs quoted on the page
PRODUCTS: list[tuple[float, int]] = [
    (0.25, 5),
    (0.25, 10),
    (0.25, 20),
    (0.9, 50),
    (0.9, 100),
    (1.1, 50),
    (1.1, 100),
]


def compounded(factor: float, depth: int) -> float:
    """What a signal is multiplied by after `depth` layers that each multiply it
    by `factor`."""
    return factor**depth


def main() -> None:
    torch.manual_seed(0)
    z = (
        torch.arange(-800, 801, dtype=torch.float64) / 100
    )  # -8 .. 8 in steps of 0.01, z = 0 exact
    ds, dt = sigmoid_prime(z), tanh_prime(z)
    i_s, i_t = int(ds.argmax()), int(dt.argmax())
    print(f"max sigmoid'(z) = {ds[i_s]:.4g} at z = {z[i_s]:.3g}")
    print(f"max tanh'(z)    = {dt[i_t]:.4g} at z = {z[i_t]:.3g}")
    near = torch.tensor([-0.01, 0.01, 1.0, 2.0], dtype=torch.float64)
    for v, d in zip(near.tolist(), tanh_prime(near).tolist(), strict=True):
        print(f"tanh'({v:+.2f}) = {d:.6f}")
    print()
    for factor, depth in PRODUCTS:
        name = f"{factor}^{depth}"
        print(f"{name:<8} = {compounded(factor, depth):.3e}")

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.plot(z, ds, "C0-", label=r"$\sigma'(z)=\sigma(z)(1-\sigma(z))$")
    ax.plot(z, dt, "C1--", label=r"$\tanh'(z)=1-\tanh^2(z)$")
    ax.plot([0, 0], [0.25, 1.0], "C3o", label="maxima at $z=0$: 0.25 and 1")
    ax.set(
        title="Derivatives of the saturating activations",
        xlabel="pre-activation $z$",
        ylabel="local derivative",
    )
    ax.legend()
    plt.show()

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    panels = [
        (ax1, [(0.25, "C0-")], 20),
        (ax2, [(0.9, "C1--"), (1.1, "C2-.")], 100),
    ]
    for ax, curves, max_depth in panels:
        depths = range(max_depth + 1)
        for factor, style in curves:
            ax.semilogy(
                depths,
                [compounded(factor, d) for d in depths],
                style,
                label=f"${factor}^L$",
            )
            marks = [d for f, d in PRODUCTS if f == factor]
            ax.semilogy(
                marks, [compounded(factor, d) for d in marks], style[:2] + "o"
            )
        ax.set(
            xlabel="number of layers $L$",
            ylabel="product of $L$ equal factors (log)",
        )
        ax.legend()
    ax1.set_title(r"$0.25^L$ ($\sigma'$ at its maximum), $L \leq 20$")
    ax2.set_title(r"A factor near 1: $0.9^L$ and $1.1^L$, $L \leq 100$")
    fig.suptitle("A per-layer factor compounded over $L$ layers")
    plt.show()


if __name__ == "__main__":
    main()
