"""One mixed-precision loop: CPU (bfloat16), CUDA (float16 and GradScaler)."""

from __future__ import annotations

import torch
from torch import nn


# --8<-- [start:setup]
def amp_settings(
    device: torch.device,
) -> tuple[torch.dtype, torch.amp.GradScaler]:
    """float16 + loss scaling on CUDA; bfloat16 on CPU, where a disabled scaler
    passes through."""
    if device.type == "cuda":
        return torch.float16, torch.amp.GradScaler("cuda")
    return torch.bfloat16, torch.amp.GradScaler("cpu", enabled=False)


def train_step(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    x: torch.Tensor,
    y: torch.Tensor,
    dtype: torch.dtype | None,
    max_norm: float = 1.0,
) -> float:
    """The usual step; dtype=None turns autocast off (plain float32)."""
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
        loss = nn.functional.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    scaler.step(opt)
    scaler.update()
    opt.zero_grad(set_to_none=True)
    return loss.item()
# --8<-- [end:setup]


def make_model(device: torch.device) -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, 256), nn.LayerNorm(256), nn.GELU(), nn.Linear(256, 10)
    ).to(device)


def dtypes_under_autocast(
    model: nn.Module,
    x: torch.Tensor,
    dtype: torch.dtype,
) -> dict[str, torch.dtype]:
    """The dtype each stage produces inside autocast, and the dtype of the
    weights and grads."""
    linear, norm, act, head = model
    with torch.autocast(x.device.type, dtype=dtype):
        h1 = linear(x)
        h2 = norm(h1)
        h3 = act(h2)
        logits = head(h3)
        probs = torch.softmax(logits, dim=-1)
        loss = nn.functional.cross_entropy(
            logits, torch.zeros(len(x), dtype=torch.long, device=x.device)
        )
    loss.backward()
    out = {
        "input x": x.dtype,
        "Linear output": h1.dtype,
        "LayerNorm output": h2.dtype,
        "GELU output": h3.dtype,
        "softmax output": probs.dtype,
        "cross_entropy loss": loss.dtype,
        "weights (parameters)": linear.weight.dtype,
        "weight .grad": linear.weight.grad.dtype,
    }
    model.zero_grad()
    return out


def main() -> None:
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype, scaler = amp_settings(device)
    print(
        f"device {device.type}: autocast dtype {str(dtype)[6:]}, "
        f"GradScaler enabled: {scaler.is_enabled()}"
    )
    model = make_model(device)
    x = torch.randn(512, 64, device=device)
    y = (x[:, :10] + 0.5 * torch.randn(512, 10, device=device)).argmax(dim=1)
    for stage, dt in dtypes_under_autocast(model, x[:8], dtype).items():
        print(f"  {stage:22s} {str(dt)[6:]}")

    results = {}
    for name, run_dtype in (
        ("float32", None),
        (f"autocast {str(dtype)[6:]}", dtype),
    ):
        torch.manual_seed(1)
        model = make_model(device)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        losses = [
            train_step(model, opt, scaler, x, y, run_dtype) for _ in range(100)
        ]
        results[name] = losses
        print(
            f"{name:18s}: loss {losses[0]:.4f} -> {losses[-1]:.4f} "
            "after 100 steps"
        )
    a, b = results.values()
    gap = max(abs(u - v) for u, v in zip(a, b, strict=True))
    print(f"largest |loss difference| between the two runs: {gap:.2e}")


if __name__ == "__main__":
    main()
