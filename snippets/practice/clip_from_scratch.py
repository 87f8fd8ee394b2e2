"""clip_grad_norm_ from scratch, against torch.nn.utils.clip_grad_norm_."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable

import torch
from torch import nn


# --8<-- [start:clip]
def total_grad_norm(
    grads: list[torch.Tensor], norm_type: float = 2.0
) -> torch.Tensor:
    """The p-norm of all gradients taken together, as if concatenated into one
    vector."""
    if math.isinf(norm_type):
        return torch.stack([g.abs().max() for g in grads]).max()
    return (
        torch.stack([g.abs().pow(norm_type).sum() for g in grads])
        .sum()
        .pow(1 / norm_type)
    )


@torch.no_grad()
def clip_grad_norm(
    params: Iterable[nn.Parameter],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> torch.Tensor:
    """Scale every .grad in place by min(1, max_norm / (total_norm + 1e-6));
    return total_norm."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total_norm = total_grad_norm(grads, norm_type)
    if error_if_nonfinite and not torch.isfinite(total_norm):
        raise RuntimeError(
            f"total norm of order {norm_type} is {total_norm.item()}"
        )
    coef = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef)
    return total_norm
# --8<-- [end:clip]


def mixed_shape_model(device: torch.device | str = "cpu") -> nn.Module:
    """Parameters of shapes (16, 3, 3), (16,), (32, 16), (32,), (32,), (32,),
    (5, 32)."""
    return nn.Sequential(
        nn.Conv1d(3, 16, kernel_size=3),
        nn.Flatten(),
        nn.Linear(16, 32),
        nn.LayerNorm(32),
        nn.GELU(),
        nn.Linear(32, 5, bias=False),
    ).to(device)


def compare_with_torch(
    max_norm: float,
    norm_type: float,
    scale: float = 1.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Backprop one batch into two copies of a model, clip one each way,
    compare."""
    torch.manual_seed(seed)
    x = torch.randn(8, 3, 3, device=device, dtype=dtype)
    ours = mixed_shape_model(device).to(dtype)
    theirs = copy.deepcopy(ours)
    for model in (ours, theirs):
        (scale * model(x).pow(2).mean()).backward()
    norm_ours = clip_grad_norm(ours.parameters(), max_norm, norm_type)
    norm_torch = nn.utils.clip_grad_norm_(
        theirs.parameters(), max_norm, norm_type
    )
    grads_ours = [p.grad for p in ours.parameters()]
    grads_torch = [p.grad for p in theirs.parameters()]
    return {
        "norm_ours": norm_ours.item(),
        "norm_torch": norm_torch.item(),
        "max_grad_diff": max(
            (a - b).abs().max().item()
            for a, b in zip(grads_ours, grads_torch, strict=True)
        ),
        "norm_after": total_grad_norm(grads_ours, norm_type).item(),
    }


def main() -> None:
    torch.manual_seed(0)
    model = mixed_shape_model()
    print(
        "parameter shapes:",
        ", ".join(str(tuple(p.shape)) for p in model.parameters()),
    )
    print(
        "norm_type  max_norm  norm (ours)  norm (torch)  max |grad diff|  "
        "norm after"
    )
    for norm_type in (2.0, math.inf):
        for max_norm in (0.5, 100.0):
            r = compare_with_torch(max_norm, norm_type, scale=40.0)
            print(
                f"{norm_type:>9}  {max_norm:8.1f}  {r['norm_ours']:11.4f}  "
                f"{r['norm_torch']:12.4f}  {r['max_grad_diff']:15.1e}  "
                f"{r['norm_after']:10.4f}"
            )

    w = nn.Parameter(torch.ones(3))
    w.grad = torch.tensor([1.0, float("inf"), 2.0])
    for fn in (clip_grad_norm, nn.utils.clip_grad_norm_):
        try:
            fn([w], 1.0, error_if_nonfinite=True)
        except RuntimeError:
            print(
                f"{fn.__name__}: RuntimeError for an inf gradient with "
                "error_if_nonfinite=True"
            )
    for fn in (clip_grad_norm, nn.utils.clip_grad_norm_):
        w.grad = torch.tensor([1.0, float("inf"), 2.0])
        norm = fn([w], 1.0)
        print(
            f"{fn.__name__}: without the flag, norm = {norm.item()}, "
            f"grads after = {[round(v, 4) for v in w.grad.tolist()]}"
        )


if __name__ == "__main__":
    main()
