"""Loss scaling: small float16 gradients vanish; scaling saves them."""

from __future__ import annotations

import torch
from torch import nn


def make_problem(
    device: torch.device | str = "cpu",
) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A float32 MLP 32 -> 128 -> 1 and a regression batch of 1024 examples."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 1)).to(
        device
    )
    # drawn on the CPU and moved: every device gets the batch the page's table
    # was measured on
    # (another device's generator gives other numbers, and another count of
    # float16 zeros)
    x = torch.randn(1024, 32).to(device)
    y = torch.sin(3 * x[:, :1]) + x[:, 1:2]
    return model, x, y


# --8<-- [start:scaled]
def scaled_gradients(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_weight: float,
    scale: float,
    dtype: torch.dtype | None = torch.float16,
) -> torch.Tensor:
    """Backward of scale * loss under autocast to dtype, then unscale: all
    gradients, flat."""
    model.zero_grad()
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
        loss = loss_weight * nn.functional.mse_loss(model(x), y)
    (loss * scale).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()]) / scale
# --8<-- [end:scaled]


def compare(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_weight: float,
    scale: float,
    dtype: torch.dtype = torch.float16,
) -> dict[str, float]:
    """Zeros, relative error against float32 and finiteness of the low-precision
    gradients."""
    reference = scaled_gradients(model, x, y, loss_weight, 1.0, dtype=None)
    g = scaled_gradients(model, x, y, loss_weight, scale, dtype)
    return {
        "median_abs_ref": reference.abs().median().item(),
        "zero": (g == 0).float().mean().item(),
        "rel_error": ((g - reference).norm() / reference.norm()).item(),
        "finite": bool(g.isfinite().all()),
    }


def main() -> None:
    torch.manual_seed(0)
    model, x, y = make_problem()
    print("          loss    median |g|          grads   rel. error")
    print("autocast  weight  in fp32     scale   = 0     vs fp32    finite")
    runs = [
        (torch.float16, w, s)
        for w in (1.0, 1e-2, 1e-4)
        for s in (1.0, 2.0**16, 2.0**24)
    ]
    runs += [(torch.bfloat16, w, 1.0) for w in (1.0, 1e-4)]
    for dtype, loss_weight, scale in runs:
        r = compare(model, x, y, loss_weight, scale, dtype)
        exponent = int(scale).bit_length() - 1
        print(
            f"{str(dtype)[6:]:8s}  {loss_weight:<6g}  "
            f"{r['median_abs_ref']:.3e}   2^{exponent:<3d}  {r['zero']:>6.2%}  "
            f"{r['rel_error']:>10.3e}  {r['finite']}"
        )


if __name__ == "__main__":
    main()
