"""LayerNorm in detail: the formula, its backward by hand, scale invariance."""

from __future__ import annotations

import torch
from torch import Tensor


# --8<-- [start:variants]
def layer_norm_torch_formula(x: Tensor, eps: float = 1e-5) -> Tensor:
    """What torch.nn.LayerNorm computes: (x - mean) / sqrt(biased variance +
    eps)."""
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(
        x.var(dim=-1, unbiased=False, keepdim=True) + eps
    )


def layer_norm_std_plus_eps(x: Tensor, eps: float = 1e-5) -> Tensor:
    """A variant some texts write: (x - mean) / (std + eps)."""
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / (x.std(dim=-1, unbiased=False, keepdim=True) + eps)


def layer_norm_unbiased_var(x: Tensor, eps: float = 1e-5) -> Tensor:
    """Another easy slip: torch's x.var() divides by D - 1 unless told
    otherwise."""
    mean = x.mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(dim=-1, keepdim=True) + eps)
# --8<-- [end:variants]


# --8<-- [start:backward]
def layer_norm_backward(
    x: Tensor, gamma: Tensor, grad_y: Tensor, eps: float = 1e-5
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of y = gamma * x_hat + beta for x (..., D), given grad_y =
    dL/dy."""
    s = torch.sqrt(x.var(dim=-1, unbiased=False, keepdim=True) + eps)
    x_hat = (x - x.mean(dim=-1, keepdim=True)) / s
    g = grad_y * gamma  # dL/dx_hat
    grad_x = (
        g
        - g.mean(dim=-1, keepdim=True)
        - x_hat * (g * x_hat).mean(dim=-1, keepdim=True)
    ) / s
    d = x.shape[-1]
    grad_gamma = (grad_y * x_hat).reshape(-1, d).sum(dim=0)
    grad_beta = grad_y.reshape(-1, d).sum(dim=0)
    return grad_x, grad_gamma, grad_beta
# --8<-- [end:backward]


def rows_with_std(
    n: int,
    d: int,
    std: float,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> Tensor:
    """n rows of length d, each with mean 5 and biased standard deviation
    exactly std."""
    z = torch.randn(n, d, dtype=dtype, device=device)
    z = (z - z.mean(dim=-1, keepdim=True)) / z.std(
        dim=-1, unbiased=False, keepdim=True
    )
    return 5 + std * z


# --8<-- [start:scale]
def weight_grad_at_scale(
    w: Tensor, x: Tensor, target: Tensor, c: float
) -> tuple[Tensor, Tensor]:
    """Loss of LayerNorm(x @ (c w).T) against target; returns (output, gradient
    w.r.t. c w)."""
    weight = (c * w).detach().requires_grad_()
    y = layer_norm_torch_formula(x @ weight.T)
    ((y - target) ** 2).mean().backward()
    return y.detach(), weight.grad


def relative_step(weight: Tensor, grad: Tensor, lr: float) -> float:
    """||lr * grad|| / ||weight||: how far one SGD step turns the weights.

    The output sees only the direction of W, so this is the step that counts.
    With grad ~ 1/||W|| it goes as lr / ||W||^2: the effective learning rate.
    """
    return float((lr * grad).norm() / weight.norm())
# --8<-- [end:scale]


def main() -> None:
    torch.manual_seed(0)
    d = 16
    print(
        f"output std of each variant, rows of D = {d} features with std s "
        "(eps = 1e-5):"
    )
    print("  s        torch LayerNorm   (x-mean)/(std+eps)   unbiased variance")
    for s in [1.0, 1e-1, 1e-2, 1e-3]:
        x = rows_with_std(4, d, s)
        stds = [
            f(x).std(dim=-1, unbiased=False).mean().item()
            for f in (
                layer_norm_torch_formula,
                layer_norm_std_plus_eps,
                layer_norm_unbiased_var,
            )
        ]
        print(f"  {s:<8.0e} {stds[0]:<17.4f} {stds[1]:<20.4f} {stds[2]:.4f}")

    # --8<-- [start:autograd]
    x = torch.randn(8, d, dtype=torch.float64, requires_grad=True)
    gamma = torch.rand(d, dtype=torch.float64, requires_grad=True)
    beta = torch.randn(d, dtype=torch.float64, requires_grad=True)
    grad_y = torch.randn(
        8, d, dtype=torch.float64
    )  # stands in for dL/dy from the layers above
    torch.nn.functional.layer_norm(x, (d,), gamma, beta, eps=1e-5).backward(
        grad_y
    )
    # --8<-- [end:autograd]
    grad_x, grad_gamma, grad_beta = layer_norm_backward(
        x.detach(), gamma.detach(), grad_y
    )
    same = all(
        torch.allclose(a, b, atol=1e-12)
        for a, b in [
            (grad_x, x.grad),
            (grad_gamma, gamma.grad),
            (grad_beta, beta.grad),
        ]
    )
    print(
        f"backward by hand == autograd through F.layer_norm (float64): {same}"
    )
    x_hat = layer_norm_torch_formula(x.detach())
    along_ones = grad_x.sum(dim=-1).abs().max().item()
    along_x_hat = (grad_x * x_hat).sum(dim=-1) / (
        grad_x.norm(dim=-1) * x_hat.norm(dim=-1)
    )
    print(f"dL/dx has no component along (1, ..., 1): {along_ones < 1e-12}")
    print(
        "largest cosine between dL/dx and x_hat in a row: "
        f"{along_x_hat.abs().max():.1e}"
    )

    w, xs, target = (
        torch.randn(n, 32, dtype=torch.float64) for n in (32, 64, 64)
    )
    y1, g1 = weight_grad_at_scale(w, xs, target, 1.0)
    lr, step1 = 0.1, relative_step(w, g1, 0.1)
    print("LayerNorm(x W^T) with the weights scaled by c (ratios to c = 1):")
    print(
        "  c          max |output change|  |grad|            |SGD step| / |cW|"
    )
    for c in [0.5, 1.0, 2.0, 10.0, 100.0]:
        y, g = weight_grad_at_scale(w, xs, target, c)
        change = (y - y1).abs().max().item()
        grad = (g.norm() / g1.norm()).item()
        step = relative_step(c * w, g, lr) / step1
        print(f"  c = {c:<6} {change:<20.1e} {grad:<17.4f} {step:.3e}")
    cos = (g1 * w).sum() / (g1.norm() * w.norm())
    print(
        f"cosine between the weight gradient and the weights: {cos.item():.1e}"
    )


if __name__ == "__main__":
    main()
