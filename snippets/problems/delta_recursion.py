"""The delta recursion in a deep sigmoid MLP: by hand, Jacobians, autograd."""

from __future__ import annotations

import math

import torch


def init_sigmoid_mlp(
    depth: int,
    width: int,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | None = None,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """`depth` square layers W_l (width, width), Xavier-normal (std
    1/sqrt(width)), zero biases."""
    weights = [
        torch.randn(width, width, dtype=dtype, device=device) / math.sqrt(width)
        for _ in range(depth)
    ]
    biases = [
        torch.zeros(width, dtype=dtype, device=device) for _ in range(depth)
    ]
    return weights, biases


def forward(
    weights: list[torch.Tensor], biases: list[torch.Tensor], x: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """z_l = W_l a_{l-1} + b_l, a_l = sigma(z_l), a_0 = x; returns [z_1..z_L]
    and [a_1..a_L]."""
    zs, acts = [], []
    a = x
    for W, b in zip(weights, biases, strict=True):
        z = W @ a + b
        a = torch.sigmoid(z)
        zs.append(z)
        acts.append(a)
    return zs, acts


def sigmoid_prime(z: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return s * (1 - s)


# --8<-- [start:recursion]
def deltas_by_hand(
    weights: list[torch.Tensor],
    zs: list[torch.Tensor],
    a_out: torch.Tensor,
    y: torch.Tensor,
) -> list[torch.Tensor]:
    """delta_l = dL/dz_l for L = 1/2 ||a_L - y||^2, from the output layer back
    to layer 1."""
    delta = (a_out - y) * sigmoid_prime(zs[-1])  # delta_L
    deltas = [delta]
    for k in range(len(zs) - 2, -1, -1):  # layers L-1, ..., 1 (0-based index k)
        delta = (weights[k + 1].T @ delta) * sigmoid_prime(zs[k])
        deltas.append(delta)
    return deltas[::-1]  # deltas[l] belongs to layer l + 1


def layer_jacobian(W_next: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """dz_{l+1}/dz_l = W_{l+1} diag(sigma'(z_l)), shape (n_{l+1}, n_l)."""
    return W_next * sigmoid_prime(z)  # scales column j by sigma'(z_j)


def delta_from_jacobian_product(
    weights: list[torch.Tensor],
    zs: list[torch.Tensor],
    delta_last: torch.Tensor,
    layer: int,
) -> torch.Tensor:
    """delta_layer = J_layer^T J_{layer+1}^T ... J_{L-1}^T delta_L (layers
    counted from 1)."""
    product = torch.eye(
        len(delta_last), dtype=delta_last.dtype, device=delta_last.device
    )
    for k in range(
        layer - 1, len(zs) - 1
    ):  # Jacobian of z_{k+2} w.r.t. z_{k+1}, 0-based k
        product = product @ layer_jacobian(weights[k + 1], zs[k]).T
    return product @ delta_last
# --8<-- [end:recursion]


def main() -> None:
    torch.manual_seed(0)
    depth, width = 20, 32
    weights, biases = init_sigmoid_mlp(depth, width)
    x = torch.randn(width, dtype=torch.float64)
    y = torch.rand(width, dtype=torch.float64)
    zs, acts = forward(weights, biases, x)
    deltas = deltas_by_hand(weights, zs, acts[-1], y)

    # the same deltas from autograd, by keeping the gradients of the
    # intermediate z_l
    ws = [W.clone().requires_grad_(True) for W in weights]
    zs_ag, acts_ag = forward(ws, biases, x)
    for z in zs_ag:
        z.retain_grad()
    (0.5 * ((acts_ag[-1] - y) ** 2).sum()).backward()
    worst = max(
        float((d - z.grad).abs().max())
        for d, z in zip(deltas, zs_ag, strict=True)
    )
    via_jac = delta_from_jacobian_product(weights, zs, deltas[-1], layer=1)
    gap = float((via_jac - deltas[0]).abs().max())
    print(
        f"delta_l by hand == autograd (all layers, to 1e-12): {worst < 1e-12}"
    )
    print(f"delta_1 by recursion == by Jacobian product (1e-12): {gap < 1e-12}")
    print()
    print("layer  ||delta_l||   ||delta_l|| / ||delta_L||   0.25^(L-l)")
    norm_last = float(deltas[-1].norm())
    for layer in [20, 15, 10, 5, 1]:
        norm = float(deltas[layer - 1].norm())
        bound = 0.25 ** (depth - layer)
        print(
            f"{layer:5d}  {norm:.3e}   {norm / norm_last:.3e}"
            f"                 {bound:.3e}"
        )


if __name__ == "__main__":
    main()
