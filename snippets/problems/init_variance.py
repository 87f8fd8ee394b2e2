"""The variance argument for Xavier and He init, gains, nn.Linear's init."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from torch import nn


# --8<-- [start:variance]
def preactivation_variance(
    n_in: int, var_w: float, var_x: float, samples: int = 20_000
) -> float:
    """Empirical Var[z] for z = sum_i w_i x_i; w, x independent, zero mean."""
    w = torch.randn(samples, n_in) * math.sqrt(var_w)
    x = torch.randn(samples, n_in) * math.sqrt(var_x)
    return float((w * x).sum(dim=1).var())
# --8<-- [end:variance]


# --8<-- [start:formulas]
def xavier_uniform_bound(n_in: int, n_out: int, gain: float = 1.0) -> float:
    return gain * math.sqrt(6 / (n_in + n_out))


def xavier_std(n_in: int, n_out: int, gain: float = 1.0) -> float:
    return gain * math.sqrt(2 / (n_in + n_out))


def he_std(n_in: int, gain: float = math.sqrt(2)) -> float:
    """He (Kaiming) std for ReLU: sqrt(2 / n_in); other activations swap in
    their gain."""
    return gain / math.sqrt(n_in)


def gain_by_hand(nonlinearity: str, slope: float = 0.01) -> float:
    return {
        "linear": 1.0,
        "sigmoid": 1.0,
        "tanh": 5 / 3,
        "relu": math.sqrt(2),
        "leaky_relu": math.sqrt(2 / (1 + slope**2)),
        "selu": 3 / 4,
    }[nonlinearity]


def default_linear_bounds(n_in: int) -> tuple[float, float]:
    """nn.Linear's default: kaiming_uniform_(a=sqrt(5)), which is
    U(-1/sqrt(n_in), 1/sqrt(n_in)).

    Returns the bound and the variance bound^2 / 3 = 1 / (3 n_in)."""
    gain = math.sqrt(
        2 / (1 + 5)
    )  # leaky_relu gain with negative slope a = sqrt(5)
    bound = gain * math.sqrt(3 / n_in)  # = 1 / sqrt(n_in)
    return bound, bound**2 / 3
# --8<-- [end:formulas]


def main() -> None:
    torch.manual_seed(0)
    print("Var[z] = n_in Var[w] Var[x]")
    for n_in, var_w, var_x in [
        (16, 0.1, 1.0),
        (256, 1 / 256, 2.0),
        (1024, 2 / 1024, 0.5),
    ]:
        formula = n_in * var_w * var_x
        empirical = preactivation_variance(n_in, var_w, var_x)
        print(
            f"  n_in = {n_in:4d}: empirical {empirical:.4f}, "
            f"formula {formula:.4f}"
        )

    n_out, n_in = 384, 256
    w = torch.empty(n_out, n_in)
    print(f"\nweights of shape ({n_out}, {n_in}): empirical std vs formula")
    checks = [
        (
            "xavier_uniform_",
            nn.init.xavier_uniform_,
            {},
            xavier_std(n_in, n_out),
        ),
        ("xavier_normal_", nn.init.xavier_normal_, {}, xavier_std(n_in, n_out)),
        (
            "kaiming_uniform_ (relu)",
            nn.init.kaiming_uniform_,
            {"nonlinearity": "relu"},
            he_std(n_in),
        ),
        (
            "kaiming_normal_ (relu)",
            nn.init.kaiming_normal_,
            {"nonlinearity": "relu"},
            he_std(n_in),
        ),
    ]
    for name, init, kwargs, std in checks:
        init(w, **kwargs)
        print(f"  {name:24s} std {float(w.std()):.5f}   formula {std:.5f}")
    print(
        "  Xavier uniform bound sqrt(6/(n_in+n_out)) = "
        f"{xavier_uniform_bound(n_in, n_out):.5f}"
    )

    print("\ncalculate_gain vs by hand")
    for name in ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]:
        torch_gain = nn.init.calculate_gain(
            name, 0.01 if name == "leaky_relu" else None
        )
        print(
            f"  {name:10s} torch {torch_gain:.6f}   "
            f"by hand {gain_by_hand(name):.6f}"
        )

    layer = nn.Linear(n_in, n_out)
    bound, var = default_linear_bounds(n_in)
    weight = layer.weight.detach()
    emp_var = float(weight.var())
    print(f"\nnn.Linear({n_in}, {n_out}) default init")
    print(
        f"  max |w| = {float(weight.abs().max()):.5f}   "
        f"bound 1/sqrt(n_in) = {bound:.5f}"
    )
    print(
        f"  Var[w]  = {emp_var:.4e}   1/(3 n_in) = {var:.4e}   "
        f"He 2/n_in = {2 / n_in:.4e}"
    )
    print(
        f"  Var[w] / He variance = {emp_var / (2 / n_in):.4f}   "
        f"(1/6 = {1 / 6:.4f})"
    )
    print(
        f"  Var[w] * n_in = {emp_var * n_in:.4f}   (LeCun 1/n_in would give 1)"
    )

    he = nn.init.kaiming_uniform_(torch.empty(n_out, n_in), nonlinearity="relu")
    xavier = nn.init.xavier_uniform_(torch.empty(n_out, n_in))
    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    bins = torch.linspace(-0.16, 0.16, 81).tolist()
    for values, label, style in [
        (weight, "nn.Linear default: $U(\\pm 1/\\sqrt{n_{in}})$", "-"),
        (xavier, "xavier_uniform_", ":"),
        (he, "kaiming_uniform_(relu): He", "--"),
    ]:
        ax.hist(
            values.flatten().tolist(),
            bins=bins,
            histtype="step",
            linestyle=style,
            linewidth=1.5,
            label=label,
        )
    ax.set(
        title=f"Weight distributions for a ({n_out}, {n_in}) layer",
        xlabel="weight value",
        ylabel="count",
    )
    ax.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
