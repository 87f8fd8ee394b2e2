"""How a 2-layer sigmoid MLP's gradients depend on input and weight scale."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

Params = dict[str, torch.Tensor]


def init_params(
    D: int,
    H: int,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> Params:
    """Unit-variance pre-activations at scale 1; zero biases."""
    kw = {"dtype": dtype, "device": device}
    return {
        "W1": torch.randn(H, D, **kw) / D**0.5,
        "b1": torch.zeros(H, **kw),
        "W2": torch.randn(1, H, **kw) / H**0.5,
        "b2": torch.zeros(1, **kw),
    }


# --8<-- [start:norms]
def grad_norms(
    p: Params, X: torch.Tensor, y: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Per-example ||dL_i/dW1||, ||dL_i/dW2|| (shape (B,)) and ||dL/dW1|| of the
    batch mean."""
    a1 = torch.sigmoid(X @ p["W1"].T + p["b1"])
    a2 = torch.sigmoid(a1 @ p["W2"].T + p["b2"])
    delta2 = (a2 - y) * a2 * (1 - a2)  # (B, 1), one row per example, no 1/B
    delta1 = (delta2 @ p["W2"]) * a1 * (1 - a1)  # (B, H)
    B = X.shape[0]
    return {
        "W1_each": delta1.norm(dim=1)
        * X.norm(dim=1),  # ||outer(delta1_i, x_i)||
        "W2_each": delta2.abs().squeeze(1) * a1.norm(dim=1),
        "W1_batch": (delta1.T @ X / B).norm(),
    }


def share_carrying_half(norms: torch.Tensor) -> float:
    """Smallest fraction of examples whose per-example norms add up to half of
    the total."""
    cumulative = norms.sort(descending=True).values.cumsum(0)
    return (
        (cumulative < 0.5 * cumulative[-1]).sum().item() + 1
    ) / norms.numel()


def sweep(
    p: Params, X: torch.Tensor, y: torch.Tensor, scales: torch.Tensor, what: str
) -> dict[str, torch.Tensor]:
    """Scale the inputs (what="input") or both weight matrices
    (what="weight") by each scale."""
    rows = []
    for c in scales.tolist():
        q = (
            {**p, "W1": c * p["W1"], "W2": c * p["W2"]}
            if what == "weight"
            else p
        )
        n = grad_norms(q, c * X if what == "input" else X, y)
        rows.append(
            [
                n["W1_each"].median().item(),
                n["W2_each"].median().item(),
                n["W1_batch"].item(),
                share_carrying_half(n["W1_each"]),
            ]
        )
    cols = torch.tensor(rows, dtype=torch.float64).T
    return dict(
        zip(
            ["W1_median", "W2_median", "W1_batch", "half_share"],
            cols,
            strict=True,
        )
    )
# --8<-- [end:norms]


def make_problem(
    D: int, H: int, B: int
) -> tuple[Params, torch.Tensor, torch.Tensor]:
    """Random weights, Gaussian inputs X: (B, D), labels y: (B, 1) from a random
    linear teacher."""
    p = init_params(D, H)
    X = torch.randn(B, D, dtype=torch.float64)
    y = (X @ torch.randn(D, 1, dtype=torch.float64) > 0).double()
    return p, X, y


def log_slope(x: torch.Tensor, y: torch.Tensor) -> float:
    """Least-squares slope of log y against log x."""
    lx, ly = x.log(), y.log()
    return (
        ((lx - lx.mean()) * (ly - ly.mean())).sum()
        / (lx - lx.mean()).pow(2).sum()
    ).item()


def main() -> None:
    torch.manual_seed(0)
    p, X, y = make_problem(D=16, H=32, B=1024)
    scales = torch.logspace(-2, 3, 21, dtype=torch.float64)
    _, axes = plt.subplots(
        1, 2, figsize=(10, 4.2), layout="constrained", sharey=True
    )
    for ax, what, symbol in zip(
        axes, ("input", "weight"), ("s", "c"), strict=True
    ):
        r = sweep(p, X, y, scales, what)
        small = scales <= 0.1
        peak = r["W1_median"].argmax()
        slope = log_slope(scales[small], r["W1_median"][small])
        print(
            f"{what} scale {symbol}: slope of median ||dL/dW1|| "
            f"for {symbol} <= 0.1: {slope:.3f}"
        )
        print(
            f"  median ||dL/dW1|| peaks at {symbol} = {scales[peak]:.3g} "
            f"({r['W1_median'][peak]:.3e})"
        )
        print(
            "    scale  median dW1  median dW2  batch dW1  "
            "rows with half the sum of norms"
        )
        for i in range(0, len(scales), 4):
            cells = "  ".join(
                f"{r[k][i]:.3e} "
                for k in ("W1_median", "W2_median", "W1_batch")
            )
            half = r["half_share"][i]
            print(f"  {symbol}={scales[i]:5.0e}  {cells} {half:.1%}")
        ax.loglog(
            scales,
            r["W1_median"],
            "o-",
            label=r"$\|\partial L_i/\partial W_1\|$, median",
        )
        ax.loglog(
            scales,
            r["W2_median"],
            "s-",
            label=r"$\|\partial L_i/\partial W_2\|$, median",
        )
        ax.loglog(
            scales,
            r["W1_batch"],
            "--",
            label=r"$\|\partial L/\partial W_1\|$, batch mean",
        )
        ax.loglog(
            scales[small],
            0.5 * r["W1_median"][0] * scales[small] / scales[0],
            "-",
            color="C5",
            linewidth=3,
            alpha=0.5,
            label="slope 1",
        )
        target = (
            "inputs $x \\to s\\,x$"
            if what == "input"
            else "weights $W_l \\to c\\,W_l$"
        )
        ax.set(
            xlabel=f"scale ${symbol}$ ({target})",
            title=f"Gradient norm vs {what} scale",
        )
    axes[0].set_ylabel("gradient norm")
    axes[0].set_ylim(1e-12, 10)
    axes[1].legend(fontsize=8, loc="lower left")
    plt.show()


if __name__ == "__main__":
    main()
