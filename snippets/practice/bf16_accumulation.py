"""Mixed precision at scale: accumulation dtype, loss-scale logging, FP8."""

from __future__ import annotations

import torch
from torch import nn

MICRO_BATCH, COUNTS = 16, (8, 32, 128)


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
        nn.Linear(64, 1),
    )


def micro_batch_grads(n: int, seed: int = 0) -> list[torch.Tensor]:
    """Flat float32 gradients of n micro-batches (computed in float64)."""
    torch.manual_seed(seed)
    model = make_model().double()  # float64 then float32: same bits on any CPU
    x = torch.randn(n * MICRO_BATCH, 16, dtype=torch.float64)
    y = torch.sin(x[:, :1] * 2) + 0.5 * x[:, 1:2]
    out = []
    for xb, yb in zip(x.chunk(n), y.chunk(n), strict=True):
        model.zero_grad()
        nn.functional.mse_loss(model(xb), yb).backward()
        g = torch.cat([p.grad.flatten() for p in model.parameters()])
        out.append(g.float())
    return out


# --8<-- [start:accumulate]
def accumulate(grads: list[torch.Tensor], buffer_dtype: torch.dtype,
               grad_dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Sum the micro-batch gradients, each divided by M, in one buffer."""
    m = len(grads)
    buf = torch.zeros_like(grads[0], dtype=buffer_dtype)
    for g in grads:
        buf += (g / m).to(grad_dtype)  # rounded to buffer_dtype each time
    return buf


def relative_error(grads: list[torch.Tensor], buffer_dtype: torch.dtype,
                   grad_dtype: torch.dtype = torch.float32) -> float:
    exact = sum(g.double() / len(grads) for g in grads)  # float64 reference
    got = accumulate(grads, buffer_dtype, grad_dtype).double()
    return ((got - exact).norm() / exact.norm()).item()
# --8<-- [end:accumulate]


# --8<-- [start:scale_log]
def scale_log(steps: int, bad_steps: set[int]) -> list[tuple[float, bool]]:
    """Train with GradScaler, putting an inf into .grad on bad_steps; log
    (scale used, step taken) per step."""
    torch.manual_seed(0)
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16,
                                  growth_interval=4)
    x = torch.randn(64, 16)
    y = torch.sin(x[:, :1] * 2)
    log = []
    for step in range(steps):
        opt.zero_grad()
        scale = scaler.get_scale()
        scaler.scale(nn.functional.mse_loss(model(x), y)).backward()
        if step in bad_steps:
            model[0].weight.grad[0, 0] = float("inf")  # an overflow
        scaler.unscale_(opt)
        scaler.step(opt)  # skipped when unscale_ found an inf or nan
        scaler.update()
        log.append((scale, scaler.get_scale() >= scale))
    return log
# --8<-- [end:scale_log]


def float8_scaling(grad: torch.Tensor,
                   dtype: torch.dtype) -> tuple[float, float, float, float]:
    """Fraction of elements cast to 0, and relative error, without and with
    a per-tensor scale that maps the largest |element| to dtype's max."""
    scale = torch.finfo(dtype).max / grad.abs().max()
    result = []
    for s in (1.0, scale):
        back = (grad * s).to(dtype).double() / s
        zero = (back == 0) & (grad != 0)
        err = (back - grad.double()).norm() / grad.double().norm()
        result += [zero.double().mean().item(), err.item()]
    return tuple(result)


def main() -> None:
    grads = micro_batch_grads(max(COUNTS))
    print(f"{grads[0].numel()} parameters, micro-batches of {MICRO_BATCH}; "
          "relative error of the sum")
    print(f"{'':<8} {'bf16 buffer':>12} {'bf16 grads,':>14}"
          f" {'fp32 buffer':>12}")
    print(f"{'':<8} {'':>12} {'fp32 buffer':>14}")
    bf, f32 = torch.bfloat16, torch.float32
    for m in COUNTS:
        row = (relative_error(grads[:m], bf),
               relative_error(grads[:m], f32, bf),
               relative_error(grads[:m], f32))
        print(f"M = {m:<4} {row[0]:>12.3g} {row[1]:>14.3g} {row[2]:>12.3g}")

    log = scale_log(24, {6} | set(range(16, 24)))
    print("\nGradScaler('cpu'), growth_interval 4, "
          "inf in .grad at steps 6 and 16-23")
    for start in (0, 12):
        ks = " ".join(f"{int(s).bit_length() - 1:>2}"
                      for s, _ in log[start:start + 12])
        print(f"steps {start:>2}-{start + 11:>2}: scale 2^k, k = {ks}")
    print(f"steps skipped: {[t for t, (_, ok) in enumerate(log) if not ok]}")

    print(f"\n{'dtype':<14} {'max':>12} {'smallest normal':>16} {'eps':>9}")
    float8 = (torch.float8_e4m3fn, torch.float8_e5m2)
    for dtype in (*float8, torch.bfloat16):
        fi = torch.finfo(dtype)
        name = str(dtype).removeprefix("torch.")
        print(f"{name:<14} {fi.max:>12.6g} {fi.smallest_normal:>16.4g} "
              f"{fi.eps:>9.4g}")
    print(f"\n{'one micro-batch gradient':<26} {'zeros':>7} {'rel. error':>11}")
    for dtype in float8:
        name = str(dtype).removeprefix("torch.")
        z0, e0, z1, e1 = float8_scaling(grads[0], dtype)
        print(f"{name + ', unscaled':<26} {z0:>7.2%} {e0:>11.3g}")
        print(f"{name + ', max / amax':<26} {z1:>7.2%} {e1:>11.3g}")


if __name__ == "__main__":
    main()
