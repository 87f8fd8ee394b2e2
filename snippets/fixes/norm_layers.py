"""BatchNorm, LayerNorm, RMSNorm, weight norm from scratch, against torch.nn."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm


# --8<-- [start:batch_norm]
def batch_norm(
    x: Tensor,
    gamma: Tensor,
    beta: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """x: (N, C). Training: this batch's statistics, and update the running
    ones. Eval: running."""
    if training:
        mean = x.mean(dim=0)
        var = x.var(
            dim=0, unbiased=False
        )  # biased (divide by N): used to normalise
        n = x.shape[0]
        with torch.no_grad():
            running_mean.lerp_(mean, momentum)
            running_var.lerp_(
                var * n / (n - 1), momentum
            )  # unbiased: kept for eval
    else:
        mean, var = running_mean, running_var
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta
# --8<-- [end:batch_norm]


# --8<-- [start:layer_norm]
def layer_norm(
    x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5
) -> Tensor:
    """x: (..., D). Each row is normalised over its own D features; same in
    train and eval."""
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=False, keepdim=True)  # biased: divide by D
    return (x - mean) / torch.sqrt(var + eps) * gamma + beta
# --8<-- [end:layer_norm]


# --8<-- [start:rms_norm]
def rms_norm(x: Tensor, gamma: Tensor, eps: float | None = None) -> Tensor:
    """x: (..., D). No mean subtraction, no shift: divide by the root mean
    square."""
    eps = (
        torch.finfo(x.dtype).eps if eps is None else eps
    )  # torch.nn.RMSNorm's default
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * gamma
# --8<-- [end:rms_norm]


# --8<-- [start:weight_norm]
def weight_norm_weight(v: Tensor, g: Tensor) -> Tensor:
    """w = g * v / ||v||, one norm per output row: v (out, in), g (out, 1)."""
    return g * v / v.norm(dim=1, keepdim=True)
# --8<-- [end:weight_norm]


def max_abs_diff_with_torch(kind: str, x: Tensor) -> tuple[float, float]:
    """Run the from-scratch layer and its torch module on x (N, D); max |diff|
    of output, grads."""
    d = x.shape[-1]
    ours_in = x.clone().requires_grad_()
    ref_in = x.clone().requires_grad_()
    g_out = torch.randn_like(x)
    if kind == "weight_norm":
        module = weight_norm(nn.Linear(d, d, dtype=x.dtype, device=x.device))
        g = (
            module.parametrizations.weight.original0.detach()
            .clone()
            .requires_grad_()
        )
        v = (
            module.parametrizations.weight.original1.detach()
            .clone()
            .requires_grad_()
        )
        ours = ours_in @ weight_norm_weight(v, g).T + module.bias
        ours_params = [g, v]
        ref_params = [
            module.parametrizations.weight.original0,
            module.parametrizations.weight.original1,
        ]
    else:
        module = {
            "batch_norm_train": nn.BatchNorm1d,
            "batch_norm_eval": nn.BatchNorm1d,
            "layer_norm": nn.LayerNorm,
            "rms_norm": nn.RMSNorm,
        }[kind](d)
        module = module.to(device=x.device, dtype=x.dtype)
        with (
            torch.no_grad()
        ):  # non-trivial affine parameters, so they are tested too
            module.weight.uniform_(0.5, 1.5)
            if getattr(module, "bias", None) is not None:
                module.bias.uniform_(-0.5, 0.5)
        gamma = module.weight.detach().clone().requires_grad_()
        ours_params = [gamma]
        ref_params = [module.weight]
        if kind == "rms_norm":
            ours = rms_norm(ours_in, gamma)
        else:
            beta = module.bias.detach().clone().requires_grad_()
            ours_params.append(beta)
            ref_params.append(module.bias)
            if kind == "layer_norm":
                ours = layer_norm(ours_in, gamma, beta)
            else:
                training = kind == "batch_norm_train"
                with (
                    torch.no_grad()
                ):  # eval uses running statistics: give it some
                    module.running_mean.uniform_(-1, 1)
                    module.running_var.uniform_(0.5, 2)
                mean, var = (
                    module.running_mean.clone(),
                    module.running_var.clone(),
                )
                module.train(training)
                ours = batch_norm(ours_in, gamma, beta, mean, var, training)
    ref = module(ref_in)
    ours.backward(g_out)
    ref.backward(g_out)
    grads = [(ours_in.grad, ref_in.grad)] + [
        (a.grad, b.grad) for a, b in zip(ours_params, ref_params, strict=True)
    ]
    fwd = (ours - ref).abs().max().item()
    bwd = max((a - b).abs().max().item() for a, b in grads)
    return fwd, bwd


def batch_norm_depends_on_batch(
    x: Tensor, other: Tensor
) -> tuple[float, float]:
    """Normalise row 0 of x inside two different batches; max |diff| in train
    and in eval mode."""
    bn = nn.BatchNorm1d(x.shape[1]).to(device=x.device, dtype=x.dtype)
    bn.train()
    for _ in range(20):  # let the running statistics settle
        bn(torch.cat([x, other]))
    batch_a, batch_b = x, torch.cat([x[:1], other])
    train_diff = (bn(batch_a)[0] - bn(batch_b)[0]).abs().max().item()
    bn.eval()
    eval_diff = (bn(batch_a)[0] - bn(batch_b)[0]).abs().max().item()
    return train_diff, eval_diff


def main() -> None:
    torch.manual_seed(0)
    shapes = [(8, 4), (32, 16), (128, 64)]
    print(
        "from scratch vs torch.nn in float64, x shapes "
        f"{', '.join(str(s) for s in shapes)}:"
    )
    print("  layer              forward, backward < 1e-12")
    for kind in [
        "batch_norm_train",
        "batch_norm_eval",
        "layer_norm",
        "rms_norm",
        "weight_norm",
    ]:
        diffs = [
            max_abs_diff_with_torch(kind, torch.randn(s, dtype=torch.float64))
            for s in shapes
        ]
        print(f"  {kind:<18} {all(f < 1e-12 and b < 1e-12 for f, b in diffs)}")
    x = 3 + 2 * torch.randn(16, 8)
    train_diff, eval_diff = batch_norm_depends_on_batch(
        x, 3 + 2 * torch.randn(15, 8)
    )
    print(
        "BatchNorm, the same sample in two different batches, "
        "max |output difference|:"
    )
    print(f"  train mode (batch statistics):  {train_diff:.3f}")
    print(f"  eval mode (running statistics): {eval_diff:.3f}")


if __name__ == "__main__":
    main()
