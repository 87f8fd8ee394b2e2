"""The residual identity dL/dx = dL/dy (I + dF/dx), checked with autograd."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.autograd.functional import jacobian


def make_branch(d: int, hidden: int, zero_last: bool = False) -> nn.Sequential:
    """A residual branch F: Linear -> tanh -> Linear in float64, optionally with
    a zero output."""
    branch = nn.Sequential(
        nn.Linear(d, hidden), nn.Tanh(), nn.Linear(hidden, d)
    ).double()
    if zero_last:
        nn.init.zeros_(branch[2].weight)
        nn.init.zeros_(branch[2].bias)
    return branch


# --8<-- [start:identity]
def residual_jacobians(
    branch: Callable[[Tensor], Tensor], x: Tensor
) -> tuple[Tensor, Tensor]:
    """Jacobian of y = x + F(x) at x (shape (d,)), and I + dF/dx built
    separately."""
    j_block = jacobian(lambda t: t + branch(t), x)
    j_branch = jacobian(branch, x)
    return j_block, torch.eye(
        x.numel(), dtype=x.dtype, device=x.device
    ) + j_branch


def residual_input_grad(
    branch: Callable[[Tensor], Tensor], x: Tensor, grad_y: Tensor
) -> Tensor:
    """dL/dx = dL/dy + (dF/dx)^T dL/dy: the upstream gradient unchanged, plus
    the branch's part."""
    x = x.detach().requires_grad_()
    f = branch(x)
    (grad_f,) = torch.autograd.grad(f, x, grad_y)
    return grad_y + grad_f
# --8<-- [end:identity]


# --8<-- [start:unrolled]
def unrolled_jacobians(
    branches: list[nn.Module], x_l: Tensor
) -> tuple[Tensor, Tensor]:
    """x_L = x_l + sum_i F_i(x_i): Jacobian of x_L w.r.t. x_l, and I + d(sum_i
    F_i)/dx_l."""

    def forward(x: Tensor) -> Tensor:
        for branch in branches:
            x = x + branch(x)
        return x

    def sum_of_branches(x: Tensor) -> Tensor:
        total = torch.zeros_like(x)
        for branch in branches:
            f = branch(x)
            total, x = total + f, x + f
        return total

    eye = torch.eye(x_l.numel(), dtype=x_l.dtype, device=x_l.device)
    return jacobian(forward, x_l), eye + jacobian(sum_of_branches, x_l)
# --8<-- [end:unrolled]


# --8<-- [start:scaled]
def scaled_shortcut_grad_ratio(
    lambdas: list[float], branches: list[nn.Module], x: Tensor
) -> float:
    """Blocks y = lambda * x + F(x); returns ||dL/dx_0|| / ||dL/dx_N|| for a
    random dL/dx_N."""
    x0 = x.detach().requires_grad_()
    y = x0
    for lam, branch in zip(lambdas, branches, strict=True):
        y = lam * y + branch(y)
    grad_out = torch.randn_like(y)
    y.backward(grad_out)
    return (x0.grad.norm() / grad_out.norm()).item()
# --8<-- [end:scaled]


def main() -> None:
    torch.manual_seed(0)
    d = 8
    branch, x = make_branch(d, 16), torch.randn(d, dtype=torch.float64)
    j_block, i_plus_j = residual_jacobians(branch, x)
    print(
        f"Jacobian of x + F(x) == I + dF/dx (float64): "
        f"{torch.allclose(j_block, i_plus_j, rtol=0, atol=1e-12)}"
    )
    grad_y = torch.randn(d, dtype=torch.float64)
    same = torch.allclose(
        residual_input_grad(branch, x, grad_y), grad_y @ i_plus_j, atol=1e-12
    )
    print(f"dL/dx == dL/dy (I + dF/dx):                 {same}")
    branches = [make_branch(d, 16) for _ in range(5)]
    j_stack, unrolled = unrolled_jacobians(branches, x)
    print(
        f"5 blocks: dx_L/dx_l == I + d(sum F_i)/dx_l:  "
        f"{torch.allclose(j_stack, unrolled, rtol=0, atol=1e-12)}"
    )

    print("I + dF/dx can still shrink the gradient: F(x) = -0.9 x gives")
    shrink = residual_input_grad(lambda t: -0.9 * t, x, grad_y)
    ratio = (shrink.norm() / grad_y.norm()).item()
    print(f"  ||dL/dx|| / ||dL/dy|| = {ratio:.4g}")

    n = 50
    print(
        f"scaled shortcuts y = lambda x + F(x), {n} blocks, "
        f"||dL/dx_0|| / ||dL/dx_{n}||:"
    )
    print(
        "  lambda   F zero-initialised   F random (Linear default init)   "
        "lambda^50"
    )
    for lam in [0.9, 1.0, 1.1]:
        zeros = [make_branch(d, 16, zero_last=True) for _ in range(n)]
        zero = scaled_shortcut_grad_ratio([lam] * n, zeros, x)
        rand = scaled_shortcut_grad_ratio(
            [lam] * n, [make_branch(d, 16) for _ in range(n)], x
        )
        print(f"  {lam:<8} {zero:<20.4g} {rand:<32.4g} {lam**n:.4g}")

    branch0 = make_branch(d, 16, zero_last=True)
    j_block, _ = residual_jacobians(branch0, x)
    out = x + branch0(x)
    ((out - torch.ones(d, dtype=torch.float64)) ** 2).sum().backward()
    eye = torch.eye(d, dtype=torch.float64)
    print("zero-initialised branch (last Linear = 0):")
    print(
        f"  block output == input: {torch.equal(out.detach(), x)}; "
        f"Jacobian == I: {torch.equal(j_block, eye)}"
    )
    print(
        f"  ||dL/dW_last|| = {branch0[2].weight.grad.norm().item():.4g}, "
        f"||dL/dW_first|| = {branch0[0].weight.grad.norm().item():.4g}"
    )


if __name__ == "__main__":
    main()
