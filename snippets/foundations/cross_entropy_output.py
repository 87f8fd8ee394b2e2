"""With cross-entropy the output's sigmoid (softmax) derivative cancels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

Params = dict[str, torch.Tensor]


# --8<-- [start:deltas]
def delta2_mse(z2: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dz2 for L = 1/2 (sigmoid(z2) - y)^2: sigma'(z2) stays."""
    a2 = torch.sigmoid(z2)
    return (a2 - y) * a2 * torch.sigmoid(-z2)  # sigma' = a2 (1 - a2)


def delta2_bce(z2: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dz2 for L = -y ln a2 - (1 - y) ln(1 - a2), a2 = sigmoid(z2)."""
    return torch.sigmoid(z2) - y


def delta_softmax_ce(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dz for L = -ln softmax(z)[y]; z: (B, K) logits, y: (B,) labels."""
    return torch.softmax(z, dim=1) - F.one_hot(y, z.shape[1]).to(z.dtype)
# --8<-- [end:deltas]


def delta_autograd(loss_fn, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dz from autograd, with the loss summed over the batch."""
    z = z.detach().requires_grad_(True)
    loss_fn(z, y, reduction="sum").backward()
    return z.grad


def init_params(D: int, H: int) -> Params:
    """Unit-variance pre-activations, zero biases."""
    kw = {"dtype": torch.float64}
    return {
        "W1": torch.randn(H, D, **kw) / D**0.5,
        "b1": torch.zeros(H, **kw),
        "W2": torch.randn(1, H, **kw) / H**0.5,
        "b2": torch.zeros(1, **kw),
    }


Problem = tuple[Params, torch.Tensor, torch.Tensor]


def make_problem(D: int, H: int, B: int) -> Problem:
    """Inputs (B, D), 0/1 labels (B, 1) from a random linear teacher."""
    p = init_params(D, H)
    X = torch.randn(B, D, dtype=torch.float64)
    y = (X @ torch.randn(D, 1, dtype=torch.float64) > 0).double()
    return p, X, y


# --8<-- [start:sweep]
def wrong_example_norms(
    p: Params, X: torch.Tensor, y: torch.Tensor, delta2_fn
) -> dict[str, torch.Tensor]:
    """||dL_i/dW1||, ||dL_i/dW2|| of the examples on the wrong side of 1/2."""
    z1 = X @ p["W1"].T + p["b1"]
    a1 = torch.sigmoid(z1)
    z2 = a1 @ p["W2"].T + p["b2"]
    delta2 = delta2_fn(z2, y)  # (B, 1), one row per example
    delta1 = (delta2 @ p["W2"]) * a1 * torch.sigmoid(-z1)  # (B, H)
    wrong = ((torch.sigmoid(z2) - y).abs() > 0.5).squeeze(1)
    return {
        "W1": (delta1.norm(dim=1) * X.norm(dim=1))[wrong],
        "W2": (delta2.abs().squeeze(1) * a1.norm(dim=1))[wrong],
    }


def weight_sweep(
    p: Params, X: torch.Tensor, y: torch.Tensor, scales: list[float]
) -> dict[str, list[float]]:
    """Median norms over the wrong examples with W_l -> c W_l, both losses."""
    out = {f"{loss} {w}": [] for loss in ("MSE", "BCE") for w in ("W1", "W2")}
    for c in scales:
        q = {**p, "W1": c * p["W1"], "W2": c * p["W2"]}
        for loss, fn in (("MSE", delta2_mse), ("BCE", delta2_bce)):
            n = wrong_example_norms(q, X, y, fn)
            for w in ("W1", "W2"):
                out[f"{loss} {w}"].append(n[w].median().item())
    return out
# --8<-- [end:sweep]


def bound(difference: float) -> str:
    return "< 1e-15" if difference < 1e-15 else f"{difference:.1e}"


def main() -> None:
    torch.manual_seed(0)
    p, X, y = make_problem(D=16, H=32, B=1024)  # the sensitivity sweep's
    z2 = 4 * torch.randn(256, 1, dtype=torch.float64)
    y2 = torch.randint(0, 2, (256, 1)).double()
    z = 4 * torch.randn(256, 10, dtype=torch.float64)
    k = torch.randint(0, 10, (256,))
    checks = {
        "sigmoid + BCE, a2 - y": (
            delta2_bce(z2, y2),
            delta_autograd(F.binary_cross_entropy_with_logits, z2, y2),
        ),
        "softmax + CE, p - onehot(y)": (
            delta_softmax_ce(z, k),
            delta_autograd(F.cross_entropy, z, k),
        ),
    }
    print("max |hand - autograd| of dL/dz, float64, 256 examples")
    for name, (hand, auto) in checks.items():
        print(f"  {name:28s} {bound((hand - auto).abs().max().item())}")

    print("\none output, label y = 1: |dL/dz2|")
    print(" " * 16 + "MSE      BCE")
    for v in (-10.0, -5.0, 0.0, 5.0):
        t, one = torch.tensor([[v]]), torch.ones(1, 1)
        print(
            f"  {f'z2={v:g}':8s}  {delta2_mse(t, one).abs().item():.1e}  "
            f"{delta2_bce(t, one).abs().item():.1e}"
        )

    scales = torch.logspace(-2, 2, 17, dtype=torch.float64).tolist()
    r = weight_sweep(p, X, y, scales)
    print("\nweights W_l -> c W_l; median over the wrongly classified examples")
    print("      c   MSE dW2    BCE dW2    MSE dW1    BCE dW1")
    for i in range(0, len(scales), 4):
        cells = "  ".join(
            f"{r[k][i]:.2e}" for k in ("MSE W2", "BCE W2", "MSE W1", "BCE W1")
        )
        print(f"  c={scales[i]:<5.3g} {cells}")

    _, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    t = torch.linspace(-12, 12, 241, dtype=torch.float64).unsqueeze(1)
    one = torch.ones_like(t)
    ax0.semilogy(
        t, delta2_mse(t, one).abs(), label=r"MSE: $|a_2 - y|\,\sigma'(z_2)$"
    )
    ax0.semilogy(t, delta2_bce(t, one).abs(), "--", label=r"BCE: $|a_2 - y|$")
    ax0.set(
        xlabel=r"output pre-activation $z_2$ (label $y = 1$)",
        ylabel=r"$|\partial L/\partial z_2|$",
        ylim=(1e-6, 2),
        title="Error at the output, one example",
    )
    ax0.legend(fontsize=8, loc="upper right")
    styles = {"MSE W2": "o-", "BCE W2": "s--", "MSE W1": "o:", "BCE W1": "s:"}
    for key, style in styles.items():
        loss, w = key.split()
        ax1.loglog(
            scales,
            r[key],
            style,
            color="C0" if loss == "MSE" else "C1",
            alpha=1 if w == "W2" else 0.6,
            label=rf"{loss}, $\|\partial L_i/\partial {w[0]}_{w[1]}\|$",
        )
    ax1.set(
        xlabel=r"scale $c$ (weights $W_l \to c\,W_l$)",
        ylabel="median gradient norm, wrong examples",
        title="Weight-scale sweep: MSE vs BCE",
    )
    ax1.legend(fontsize=8, loc="lower left")
    plt.show()


if __name__ == "__main__":
    main()
