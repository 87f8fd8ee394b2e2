"""Backprop through a 2-layer sigmoid MLP, by hand and by autograd, a batch."""

from __future__ import annotations

import torch

Params = dict[str, torch.Tensor]


# --8<-- [start:forward]
def sigmoid(z: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + torch.exp(-z))


def sigmoid_prime(z: torch.Tensor) -> torch.Tensor:
    s = sigmoid(z)
    return s * (1 - s)


def init_params(
    D: int,
    H: int,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> Params:
    """W1: (H, D), b1: (H,), W2: (1, H), b2: (1,), laid out as in nn.Linear."""
    kw = {"dtype": dtype, "device": device}
    return {
        "W1": torch.randn(H, D, **kw) / D**0.5,
        "b1": 0.1 * torch.randn(H, **kw),
        "W2": torch.randn(1, H, **kw) / H**0.5,
        "b2": 0.1 * torch.randn(1, **kw),
    }


def forward(p: Params, X: torch.Tensor) -> dict[str, torch.Tensor]:
    """X: (B, D), one example per row. Returns every intermediate the backward
    pass needs."""
    z1 = X @ p["W1"].T + p["b1"]  # (B, H)
    a1 = sigmoid(z1)  # (B, H)
    z2 = a1 @ p["W2"].T + p["b2"]  # (B, 1)
    a2 = sigmoid(z2)  # (B, 1), y_pred
    return {"X": X, "z1": z1, "a1": a1, "z2": z2, "a2": a2}


def loss_fn(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """L = mean over the batch of 1/2 (y_pred - y_true)^2; both (B, 1)."""
    return 0.5 * (y_pred - y_true).pow(2).mean()
# --8<-- [end:forward]


# --8<-- [start:backward]
def backward_by_hand(
    p: Params, cache: dict[str, torch.Tensor], y_true: torch.Tensor
) -> Params:
    X, z1, a1, z2, a2 = (cache[k] for k in ("X", "z1", "a1", "z2", "a2"))
    B = X.shape[0]
    delta2 = (a2 - y_true) * sigmoid_prime(z2) / B  # dL/dz2: (B, 1)
    dW2 = delta2.T @ a1  # (1, B) @ (B, H) -> (1, H), sums over rows
    db2 = delta2.sum(dim=0)  # (1,)
    delta1 = (delta2 @ p["W2"]) * sigmoid_prime(
        z1
    )  # dL/dz1: (B, 1) @ (1, H) -> (B, H)
    dW1 = delta1.T @ X  # (H, B) @ (B, D) -> (H, D), sums over rows
    db1 = delta1.sum(dim=0)  # (H,)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
# --8<-- [end:backward]


# --8<-- [start:autograd]
def grads_autograd(p: Params, X: torch.Tensor, y_true: torch.Tensor) -> Params:
    D, H = p["W1"].shape[1], p["W1"].shape[0]
    model = torch.nn.Sequential(
        torch.nn.Linear(D, H),
        torch.nn.Sigmoid(),
        torch.nn.Linear(H, 1),
        torch.nn.Sigmoid(),
    )
    model.to(dtype=X.dtype, device=X.device)
    layer = {
        "W1": model[0].weight,
        "b1": model[0].bias,
        "W2": model[2].weight,
        "b2": model[2].bias,
    }
    with torch.no_grad():
        for key, param in layer.items():
            param.copy_(p[key])
    loss = 0.5 * torch.nn.functional.mse_loss(
        model(X), y_true
    )  # mse_loss averages over rows
    loss.backward()
    return {key: param.grad for key, param in layer.items()}
# --8<-- [end:autograd]


def max_abs_diff(a: Params, b: Params) -> dict[str, float]:
    return {k: (a[k] - b[k]).abs().max().item() for k in a}


def bound(difference: float) -> str:
    return "< 1e-16" if difference < 1e-16 else f"{difference:.1e}"


def main() -> None:
    torch.manual_seed(0)
    D, H = 3, 4
    p = init_params(D, H)
    x = torch.tensor(
        [[0.5, -1.0, 2.0]], dtype=torch.float64
    )  # one example, as a (1, D) row
    y_true = torch.tensor([[1.0]], dtype=torch.float64)
    cache = forward(p, x)
    grads = backward_by_hand(p, cache, y_true)
    print(
        f"one example, D = {D}, H = {H}: y_pred = {cache['a2'].item():.4f}, "
        f"L = {loss_fn(cache['a2'], y_true).item():.4f}"
    )
    for name in ("W2", "b2", "W1", "b1"):
        rows = (
            grads[name].reshape(-1, D)
            if name == "W1"
            else grads[name].reshape(1, -1)
        )
        head = f"dL/d{name} {tuple(grads[name].shape)}: "
        lines = [" ".join(f"{v:+.4f}" for v in row) for row in rows]
        # a matrix prints one row per line, aligned under the first
        print(head + ("\n" + " " * len(head)).join(lines))

    # Differences at rounding level depend on the CPU's vector kernels (often
    # exactly 0), so the table shows the bound they meet, not their last bits.
    print("\nmax |hand - autograd| in float64, over random shapes")
    print("  D   H    B   dL/dW1   dL/db1   dL/dW2   dL/db2")
    for D, H, B in [(3, 1, 1), (3, 4, 1), (10, 16, 32), (64, 32, 256)]:
        p = init_params(D, H)
        X = torch.randn(B, D, dtype=torch.float64)
        Y = torch.rand(B, 1, dtype=torch.float64)
        diff = max_abs_diff(
            backward_by_hand(p, forward(p, X), Y), grads_autograd(p, X, Y)
        )
        cells = "  ".join(bound(diff[k]) for k in diff)
        print(f"{D:3d} {H:3d} {B:4d}  {cells}")


if __name__ == "__main__":
    main()
