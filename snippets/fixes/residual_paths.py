"""Gradient paths in residual stacks: 2^N terms, pre- vs post-act, DenseNet."""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn


# --8<-- [start:paths]
def product_of_blocks(mats: list[Tensor]) -> Tensor:
    """Jacobian of N linear residual blocks x -> x + A_i x: (I + A_N) ... (I +
    A_1)."""
    eye = torch.eye(
        mats[0].shape[0], dtype=mats[0].dtype, device=mats[0].device
    )
    total = eye
    for a in mats:
        total = (eye + a) @ total
    return total


def sum_over_paths(mats: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
    """Expand the product: one term per subset S of blocks (A_i for i in S,
    in order, I elsewhere).

    Returns the sum of all 2^N terms and, for k = 0..N, the sum of the terms
    of path length k."""
    n, d, like = (
        len(mats),
        mats[0].shape[0],
        {"dtype": mats[0].dtype, "device": mats[0].device},
    )
    by_length = [torch.zeros(d, d, **like) for _ in range(n + 1)]
    for subset in itertools.product([False, True], repeat=n):
        term = torch.eye(d, **like)
        for use, a in zip(subset, mats, strict=True):
            if use:
                term = a @ term
        by_length[sum(subset)] += term
    return sum(by_length), by_length
# --8<-- [end:paths]


# --8<-- [start:activation]
def identity_path_grad(
    x: Tensor, blocks: list[nn.Module], post_activation: bool
) -> Tensor:
    """dL/dx_0 with every branch's gradient blocked (F(x).detach()): only the
    shortcuts carry it.

    post_activation: x <- relu(x + F(x)) (original ResNet); else
    x <- x + F(relu(x)) (pre-activation)."""
    x0 = x.detach().requires_grad_()
    h = x0
    for branch in blocks:
        if post_activation:
            h = torch.relu(h + branch(h).detach())
        else:
            h = h + branch(torch.relu(h)).detach()
    h.backward(torch.ones_like(h))  # dL/dx_N = 1 everywhere
    return x0.grad
# --8<-- [end:activation]


# --8<-- [start:dense]
def dense_block(
    x: Tensor, layers: list[nn.Module], detach_branches: bool = False
) -> Tensor:
    """DenseNet-style: each layer sees the concatenation of everything before it
    and appends k."""
    features = x
    for layer in layers:
        new = layer(features)
        features = torch.cat(
            [features, new.detach() if detach_branches else new], dim=-1
        )
    return features
# --8<-- [end:dense]


def make_branch(d: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))


def main() -> None:
    torch.manual_seed(0)
    d = 6
    print("product of (I + A_i) == sum over all 2^N paths (float64):")
    for n in range(1, 7):
        mats = [
            0.3 * torch.randn(d, d, dtype=torch.float64) / math.sqrt(d)
            for _ in range(n)
        ]
        total, _ = sum_over_paths(mats)
        same = torch.allclose(
            product_of_blocks(mats), total, rtol=0, atol=1e-12
        )
        print(f"  N = {n}: {2**n:>3} paths, equal: {same}")

    n = 10
    mats = [
        0.3 * torch.randn(d, d, dtype=torch.float64) / math.sqrt(d)
        for _ in range(n)
    ]
    _, by_length = sum_over_paths(mats)
    print(
        f"N = {n} blocks, ||A_i|| small: paths of length k, their number "
        "and summed norm:"
    )
    for k, term in enumerate(by_length):
        print(
            f"  k = {k:>2}  C(N, k) = {math.comb(n, k):>3}  "
            f"||sum|| = {term.norm().item():.3e}"
        )

    width, batch = 64, 256
    x = torch.randn(batch, width)
    print(
        "coordinates of dL/dx_0 that the shortcuts alone reach "
        "(branches blocked):"
    )
    print("  blocks   pre-activation   post-activation")
    for depth in [1, 2, 5, 10, 20, 50]:
        torch.manual_seed(1)
        blocks = [make_branch(width) for _ in range(depth)]
        pre = (
            (identity_path_grad(x, blocks, post_activation=False) != 0)
            .float()
            .mean()
        )
        post = (
            (identity_path_grad(x, blocks, post_activation=True) != 0)
            .float()
            .mean()
        )
        print(f"  {depth:<8} {pre.item():<16.3f} {post.item():.3f}")

    torch.manual_seed(2)
    x = torch.randn(4, 8, dtype=torch.float64, requires_grad=True)
    layers = [
        nn.Linear(8 + 4 * i, 4).double() for i in range(3)
    ]  # growth rate k = 4
    out = dense_block(x, layers, detach_branches=True)
    grad_out = torch.randn_like(out)
    out.backward(grad_out)
    print(
        f"dense block, output {tuple(out.shape)}, "
        "with the layers' gradients blocked:"
    )
    print(f"  dL/dx == dL/dout[:, :8]: {torch.equal(x.grad, grad_out[:, :8])}")


if __name__ == "__main__":
    main()
