"""Dynamic loss scaling by hand, step for step against torch.amp.GradScaler."""

from __future__ import annotations

import copy

import matplotlib.pyplot as plt
import torch
from torch import nn


# --8<-- [start:scaler]
def update_scale(
    state: dict,
    found_inf: bool,
    growth_factor: float = 2.0,
    backoff_factor: float = 0.5,
    growth_interval: int = 2000,
) -> None:
    """Back off after an overflow; grow after growth_interval overflow-free
    steps in a row."""
    if found_inf:
        state["scale"] *= backoff_factor
        state["good_steps"] = 0
    else:
        state["good_steps"] += 1
        if state["good_steps"] == growth_interval:
            state["scale"] *= growth_factor
            state["good_steps"] = 0


def step_by_hand(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    state: dict,
    growth_interval: int,
) -> bool:
    """One mixed-precision step: scale, backward, unscale, skip on inf/NaN,
    update the scale."""
    with torch.autocast(x.device.type, dtype=torch.float16):
        loss = nn.functional.mse_loss(model(x), y)
    (
        loss * state["scale"]
    ).backward()  # float16 backward sees gradients times the scale
    grads = [p.grad for p in model.parameters()]
    for g in grads:
        g.mul_(1.0 / state["scale"])  # unscale into the float32 .grad
    found_inf = not all(torch.isfinite(g).all() for g in grads)
    if not found_inf:
        opt.step()  # skipped when any gradient overflowed
    opt.zero_grad()
    update_scale(state, found_inf, growth_interval=growth_interval)
    return not found_inf


def step_with_gradscaler(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    scaler: torch.amp.GradScaler,
) -> bool:
    with torch.autocast(x.device.type, dtype=torch.float16):
        loss = nn.functional.mse_loss(model(x), y)
    scale_before = scaler.get_scale()
    scaler.scale(loss).backward()
    scaler.unscale_(opt)  # here is where clip_grad_norm_ would go
    scaler.step(opt)  # skips opt.step() if unscale_ found inf/NaN
    scaler.update()
    opt.zero_grad()
    return (
        scaler.get_scale() >= scale_before
    )  # the scale only shrinks after a skipped step
# --8<-- [end:scaler]


def run_both(
    steps: int = 60,
    init_scale: float = 2.0**24,
    growth_interval: int = 8,
    device: torch.device | str = "cpu",
) -> dict[str, list]:
    """Train two copies of one MLP, by hand and with GradScaler; log scales and
    skipped steps."""
    torch.manual_seed(0)
    x = torch.randn(256, 32, device=device)
    y = torch.sin(x[:, :1] * 3) + x[:, 1:2]
    model_a = nn.Sequential(
        nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 1)
    ).to(device)
    model_b = copy.deepcopy(model_a)
    opt_a = torch.optim.SGD(model_a.parameters(), lr=0.05)
    opt_b = torch.optim.SGD(model_b.parameters(), lr=0.05)
    state = {"scale": init_scale, "good_steps": 0}
    scaler = torch.amp.GradScaler(
        x.device.type, init_scale=init_scale, growth_interval=growth_interval
    )
    log: dict[str, list] = {
        "scale_hand": [],
        "scale_torch": [],
        "stepped_hand": [],
        "stepped_torch": [],
    }
    for _ in range(steps):
        log["scale_hand"].append(state["scale"])
        log["scale_torch"].append(scaler.get_scale())
        log["stepped_hand"].append(
            step_by_hand(model_a, opt_a, x, y, state, growth_interval)
        )
        log["stepped_torch"].append(
            step_with_gradscaler(model_b, opt_b, x, y, scaler)
        )
    log["max_param_diff"] = [
        max(
            (a - b).abs().max().item()
            for a, b in zip(
                model_a.parameters(), model_b.parameters(), strict=True
            )
        )
    ]
    return log


def main() -> None:
    torch.manual_seed(0)
    s = torch.amp.GradScaler("cpu")
    print(
        f"GradScaler('cpu') defaults: init_scale = {s.get_scale():g} = 2^16, "
        f"growth_factor = {s.get_growth_factor():g},"
    )
    print(
        f"  backoff_factor = {s.get_backoff_factor():g}, "
        f"growth_interval = {s.get_growth_interval()}"
    )
    log = run_both()
    print(
        "demo run: init_scale = 2^24, growth_interval = 8, "
        "float16 autocast on cpu"
    )
    print(
        "scales identical at every step: "
        f"{log['scale_hand'] == log['scale_torch']}"
    )
    print(
        "skipped steps identical: "
        f"{log['stepped_hand'] == log['stepped_torch']}"
    )
    print(f"max |weight difference| = {log['max_param_diff'][0]:.1e}")
    skipped = [t for t, ok in enumerate(log["stepped_torch"]) if not ok]
    print(f"skipped steps (overflow): {skipped}")
    print("scale at steps 0-11:")
    print(
        "  "
        + ", ".join(
            f"2^{s.bit_length() - 1}" for s in map(int, log["scale_torch"][:12])
        )
    )

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    steps = range(len(log["scale_torch"]))
    ax.step(steps, log["scale_torch"], where="post", label="GradScaler scale")
    ax.plot(steps, log["scale_hand"], "o", markersize=3, label="by-hand scale")
    ax.plot(
        skipped,
        [log["scale_torch"][t] for t in skipped],
        "x",
        color="C3",
        markersize=9,
        label="overflow: step skipped, scale halved",
    )
    ax.set(
        xlabel="step",
        ylabel="loss scale $S$ (log scale)",
        title="Dynamic loss scaling (init 2^24, growth_interval 8)",
    )
    ax.set_yscale("log", base=2)
    ax.legend()
    plt.show()


if __name__ == "__main__":
    main()
