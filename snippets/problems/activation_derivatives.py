"""Eight activation functions and their derivatives, by hand and by autograd."""

from __future__ import annotations

import math
from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0
# the constants of Klambauer et al. (2017), as in torch.nn.SELU
SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


# --8<-- [start:derivatives]
def sigmoid_prime(x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(x)
    return s * (1 - s)


def tanh_prime(x: torch.Tensor) -> torch.Tensor:
    return 1 - torch.tanh(x) ** 2


def relu_prime(x: torch.Tensor) -> torch.Tensor:
    return (x > 0).to(x.dtype)  # 0 at x = 0, as autograd uses


def leaky_relu_prime(
    x: torch.Tensor, slope: float = LEAKY_SLOPE
) -> torch.Tensor:
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, slope))


def elu_prime(x: torch.Tensor, alpha: float = ELU_ALPHA) -> torch.Tensor:
    return torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(x))


def selu_prime(x: torch.Tensor) -> torch.Tensor:
    return SELU_SCALE * torch.where(
        x > 0, torch.ones_like(x), SELU_ALPHA * torch.exp(x)
    )


def gelu_prime(x: torch.Tensor) -> torch.Tensor:
    """GELU(x) = x Phi(x), so GELU'(x) = Phi(x) + x phi(x) (exact, erf form)."""
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    pdf = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    return cdf + x * pdf


def silu_prime(x: torch.Tensor) -> torch.Tensor:
    """SiLU(x) = x sigma(x), so SiLU'(x) = sigma(x) (1 + x (1 - sigma(x)))."""
    s = torch.sigmoid(x)
    return s * (1 + x * (1 - s))
# --8<-- [end:derivatives]


# name -> (the activation as torch implements it, our derivative)
ACTIVATIONS: dict[
    str,
    tuple[
        Callable[[torch.Tensor], torch.Tensor],
        Callable[[torch.Tensor], torch.Tensor],
    ],
] = {
    "sigmoid": (torch.sigmoid, sigmoid_prime),
    "tanh": (torch.tanh, tanh_prime),
    "ReLU": (F.relu, relu_prime),
    "Leaky ReLU": (lambda x: F.leaky_relu(x, LEAKY_SLOPE), leaky_relu_prime),
    "ELU": (lambda x: F.elu(x, ELU_ALPHA), elu_prime),
    "SELU": (F.selu, selu_prime),
    "GELU": (F.gelu, gelu_prime),
    "SiLU": (F.silu, silu_prime),
}


# --8<-- [start:autograd]
def autograd_derivative(
    f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
) -> torch.Tensor:
    """f'(x) elementwise from autograd: the gradient of sum(f(x)) w.r.t. x."""
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x).sum(), x)
    return grad
# --8<-- [end:autograd]


# --8<-- [start:kinks]
# Where the one-sided derivatives differ, each operation's backward formula
# picks a value.
KINKS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], float]] = {
    "F.relu(x) at 0": (F.relu, 0.0),
    "x.clamp(min=0) at 0": (lambda x: x.clamp(min=0), 0.0),
    "torch.maximum(x, 0) at 0": (
        lambda x: torch.maximum(x, torch.zeros_like(x)),
        0.0,
    ),
    "x.abs() at 0": (torch.abs, 0.0),
    "F.relu6(x) at 6": (F.relu6, 6.0),
}


def derivative_at(
    f: Callable[[torch.Tensor], torch.Tensor], point: float
) -> float:
    x = torch.tensor([point], dtype=torch.float64)
    return float(autograd_derivative(f, x))
# --8<-- [end:kinks]


def main() -> None:
    torch.manual_seed(0)
    x = (
        torch.arange(-5000, 5001, dtype=torch.float64) / 1000
    )  # -5 .. 5, step 0.001, x = 0 included
    print("on x in [-5, 5], step 0.001, float64")
    print("activation  |hand - autograd|     f(0)    f'(0)   min f'   max f'")
    peaks = []
    for name, (f, f_prime) in ACTIVATIONS.items():
        hand = f_prime(x)
        gap = float((hand - autograd_derivative(f, x)).abs().max())
        i_max = int(hand.argmax())
        zero = torch.zeros(1, dtype=torch.float64)
        print(
            f"{name:11s} {'< 1e-12' if gap < 1e-12 else f'{gap:.1e}':>17s} "
            f"{float(f(zero)):8.4f} {float(f_prime(zero)):8.4f} "
            f"{float(hand.min()):8.4f} {float(hand.max()):8.4f}"
        )
        if name in ("GELU", "SiLU"):
            peaks.append(f"{name}' peaks at x = {float(x[i_max]):.3f}")
    print("; ".join(peaks))
    print("\nautograd's derivative at a kink, operation by operation:")
    for name, (f, point) in KINKS.items():
        print(f"  {name:26s} {derivative_at(f, point):.1f}")

    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(11, 4.5), layout="constrained"
    )
    styles = ["-", "--", "-", "--", "-.", ":", "-", "--"]
    for i, (name, (f, f_prime)) in enumerate(ACTIVATIONS.items()):
        ax1.plot(x, f(x), color=f"C{i}", linestyle=styles[i], label=name)
        ax2.plot(x, f_prime(x), color=f"C{i}", linestyle=styles[i], label=name)
    ax1.set(
        title="Activations $f(x)$", xlabel="$x$", ylabel="$f(x)$", ylim=(-2, 5)
    )
    ax2.set(
        title="Derivatives $f'(x)$ (by hand, equal to autograd)",
        xlabel="$x$",
        ylabel="$f'(x)$",
        ylim=(-0.2, 1.85),
    )
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8, ncols=2)
    fig.suptitle(
        "Activation functions and the local factor they put into backprop"
    )
    plt.show()


if __name__ == "__main__":
    main()
