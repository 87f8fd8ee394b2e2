"""A 50-layer sigmoid stack at weight gains 1 to 16: vanishing, then growth."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch


# --8<-- [start:sweep]
def gained_weights(depth: int, width: int, gain: float) -> list[torch.Tensor]:
    """`depth` (width, width) float64 matrices, std gain / sqrt(width)."""
    std = gain / math.sqrt(width)
    return [
        torch.randn(width, width, dtype=torch.float64) * std
        for _ in range(depth)
    ]


def sigmoid_stack_grads(
    weights: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor
) -> tuple[list[float], float]:
    """a_l = sigmoid(a_{l-1} W_l^T), no biases, MSE against y.

    Returns ||dL/dW_l|| per layer (input side first) and the RMS of
    sigma'(z_l) over every unit, example and layer.
    """
    ws = [W.clone().requires_grad_(True) for W in weights]
    a, sq_slopes = x, []
    for W in ws:
        a = torch.sigmoid(a @ W.T)
        sq_slopes.append((a * (1 - a)).detach().pow(2).mean())  # sigma'(z)^2
    ((a - y) ** 2).mean().backward()
    rms_slope = float(torch.stack(sq_slopes).mean().sqrt())
    return [float(W.grad.norm()) for W in ws], rms_slope


def factor_per_layer(norms: list[float]) -> float:
    """Geometric mean of what one layer multiplies the gradient by."""
    return (norms[0] / norms[-1]) ** (1 / (len(norms) - 1))
# --8<-- [end:sweep]


GAINS = [1.0, 2.0, 4.0, 8.0, 12.0, 16.0]


def main() -> None:
    torch.manual_seed(0)
    depth, width, batch = 50, 128, 256
    x = torch.randn(batch, width, dtype=torch.float64)
    y = torch.randn(batch, width, dtype=torch.float64)
    print(
        f"sigmoid MLP, {depth} layers of width {width}, no biases, "
        f"batch {batch}, float64"
    )
    print("W_l std = gain / sqrt(n); ratio = ||dL/dW_1|| / ||dL/dW_50||")
    print(
        f"{'gain':>6} {'ratio':>10} {'per layer':>10} "
        f"{'RMS sigma_prime':>16} {'gain x RMS':>11}"
    )
    profiles = {}
    for gain in GAINS:
        torch.manual_seed(1)
        norms, rms = sigmoid_stack_grads(
            gained_weights(depth, width, gain), x, y
        )
        profiles[gain] = norms
        print(
            f"gain {gain:>4.0f} {norms[0] / norms[-1]:10.3g} "
            f"{factor_per_layer(norms):10.3f} {rms:16.4f} "
            f"{gain * rms:11.3f}"
        )

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    styles = ["C0o-", "C1s--", "C2^-.", "C3v:", "C4D-", "C5x--"]
    for (gain, norms), style in zip(profiles.items(), styles, strict=True):
        rel = [n / norms[-1] for n in norms]
        ax1.semilogy(
            range(1, depth + 1),
            rel,
            style,
            markersize=3,
            label=f"gain {gain:.0f}",
        )
    ax1.set(
        title="Gradient per layer, relative to layer 50",
        xlabel="layer $l$ (1 = next to the input)",
        ylabel=r"$\|\partial L/\partial W_l\| \,/\, "
        r"\|\partial L/\partial W_{50}\|$ (log)",
    )
    ax1.legend(fontsize="small")
    ratios = [p[0] / p[-1] for p in profiles.values()]
    ax2.semilogy(GAINS, ratios, "C0o-", label="measured ratio, layer 1 / 50")
    ax2.axhline(1.0, color="0.5", linestyle=":", label="ratio 1")
    ax2.set(
        title="First-to-last ratio against the weight gain",
        xlabel=r"weight gain $g$ (std $g/\sqrt{n}$)",
        ylabel=r"$\|\partial L/\partial W_1\| / "
        r"\|\partial L/\partial W_{50}\|$ (log)",
    )
    ax2.legend()
    fig.suptitle(f"Sigmoid MLP, {depth} layers of width {width}")
    plt.show()


if __name__ == "__main__":
    main()
