"""Exploding gradients: a deep ReLU net's weights past He init, to overflow."""

from __future__ import annotations

import itertools
import math

import matplotlib.pyplot as plt
import torch


def scaled_he_weights(
    depth: int, width: int, scale: float, *, device: torch.device | None = None
) -> list[torch.Tensor]:
    """`depth` (width, width) matrices with std = scale * sqrt(2 / width); scale
    = 1 is He init."""
    std = scale * math.sqrt(2 / width)
    hidden = [
        torch.randn(width, width, device=device) * std for _ in range(depth)
    ]
    head = torch.randn(1, width, device=device) / math.sqrt(width)
    return [*hidden, head]


# --8<-- [start:signal]
def backward_signals(
    weights: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor
) -> tuple[float, list[float], torch.Tensor]:
    """Bias-free ReLU MLP: MSE loss, ||dL/dz_l|| per hidden layer (input side
    first), dL/dW_1."""
    ws = [W.detach().clone().requires_grad_(True) for W in weights]
    zs = []
    a = x  # (batch, width)
    for W in ws[:-1]:
        z = a @ W.T
        z.retain_grad()
        zs.append(z)
        a = torch.relu(z)
    loss = ((a @ ws[-1].T - y) ** 2).mean()
    loss.backward()
    norms = [
        float(z.grad.double().norm()) for z in zs
    ]  # float64: the sum of squares can overflow
    return float(loss.detach()), norms, ws[0].grad


def mean_gain_per_layer(signal_norms: list[float]) -> float:
    """Geometric mean of ||delta_l|| / ||delta_{l+1}||: what one layer
    multiplies the signal by."""
    ratios = [math.log(a / b) for a, b in itertools.pairwise(signal_norms)]
    return math.exp(sum(ratios) / len(ratios))
# --8<-- [end:signal]


def scale_sweep(
    scales: list[float],
    depth: int,
    width: int,
    x: torch.Tensor,
    y: torch.Tensor,
    seed: int = 1,
) -> dict[float, tuple[float, float, bool]]:
    """scale -> (loss, largest |entry| of dL/dW_1 or nan, whether every entry is
    finite)."""
    sweep = {}
    for scale in scales:
        torch.manual_seed(seed)
        weights = scaled_he_weights(depth, width, scale, device=x.device)
        loss, _, grad_w1 = backward_signals(
            [w.to(x.dtype) for w in weights], x, y
        )
        finite = bool(torch.isfinite(grad_w1).all())
        sweep[scale] = (
            loss,
            float(grad_w1.abs().max()) if finite else math.nan,
            finite,
        )
    return sweep


def main() -> None:
    torch.manual_seed(0)
    depth, width, batch = 50, 64, 64
    x = torch.randn(batch, width)
    y = torch.randn(batch, 1)

    profiles = {}
    print("scale s   mean gain per layer   ||dL/dz_1|| / ||dL/dz_50||")
    for scale in [0.8, 1.0, 1.2, 1.5]:
        torch.manual_seed(1)
        _, norms, _ = backward_signals(
            scaled_he_weights(depth, width, scale), x, y
        )
        profiles[scale] = norms
        print(
            f"{scale:7.2f}   {mean_gain_per_layer(norms):19.3f}   "
            f"{norms[0] / norms[-1]:.3e}"
        )

    scales = [round(1.0 + 0.1 * i, 1) for i in range(21)]  # 1.0 .. 3.0
    sweep = scale_sweep(scales, depth, width, x, y)
    overflow = min(s for s, (_, _, finite) in sweep.items() if not finite)
    loss_inf = min(
        s for s, (loss, _, _) in sweep.items() if not math.isfinite(loss)
    )
    print()
    print(f"float32 max = {torch.finfo(torch.float32).max:.3e}")
    print("scale s   loss        max |dL/dW_1|")
    for scale, (loss, biggest, _) in sweep.items():
        if scale in (1.0, 1.5) or 2.0 <= scale <= overflow:
            print(f"{scale:7.1f}   {loss:9.3e}   {biggest:9.3e}")
    print(f"first scale with an inf loss:                 s = {loss_inf:.1f}")
    print(f"first scale with an inf/nan entry in dL/dW_1: s = {overflow:.1f}")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for (scale, norms), style in zip(
        profiles.items(), ["C0o-", "C1s--", "C2^-.", "C3v:"], strict=True
    ):
        ax1.semilogy(
            range(1, depth + 1),
            norms,
            style,
            markersize=3,
            label=f"$s={scale}$",
        )
    ax1.set(
        title="Backward signal per layer",
        xlabel="layer $l$",
        ylabel=r"$\|\partial L/\partial z_l\|$ (log)",
    )
    ax1.legend()
    finite = [(s, big) for s, (_, big, ok) in sweep.items() if ok]
    ax2.semilogy(
        *zip(*finite, strict=True),
        "C0o-",
        label=r"max $|\partial L/\partial W_1|$",
    )
    ax2.axhline(
        torch.finfo(torch.float32).max,
        color="C3",
        linestyle="--",
        label="float32 max",
    )
    ax2.axvline(
        overflow,
        color="C1",
        linestyle=":",
        label=f"inf/nan from $s={overflow}$",
    )
    ax2.set(
        title="First-layer gradient vs weight scale",
        xlabel=r"weight scale $s$ (std $s\sqrt{2/n}$)",
        ylabel="largest gradient entry (log)",
    )
    ax2.legend()
    fig.suptitle(f"ReLU MLP, {depth} layers of width {width}")
    plt.show()


if __name__ == "__main__":
    main()
