"""Warmup, cosine, linear and step schedules from torch.optim.lr_scheduler."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from torch.optim import lr_scheduler

Scheduler = lr_scheduler.LRScheduler
STEPS, WARMUP, BASE_LR = 1000, 100, 1e-3


# --8<-- [start:schedules]
def schedules(
    steps: int = STEPS,
    warmup: int = WARMUP,
) -> dict[str, Callable[[torch.optim.Optimizer], Scheduler]]:
    """Factories: each takes an optimizer and returns its scheduler."""

    def warm(
        opt: torch.optim.Optimizer,
    ) -> Scheduler:  # lr/warmup -> lr, linearly
        return lr_scheduler.LinearLR(
            opt, start_factor=1 / warmup, total_iters=warmup
        )

    return {
        "constant": lambda opt: lr_scheduler.ConstantLR(opt, factor=1.0),
        "step (x0.3 every 300)": lambda opt: lr_scheduler.StepLR(
            opt, step_size=300, gamma=0.3
        ),
        "cosine": lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=steps),
        "warmup + cosine to 10%": lambda opt: lr_scheduler.SequentialLR(
            opt,
            [
                warm(opt),
                lr_scheduler.CosineAnnealingLR(
                    opt, T_max=steps - warmup, eta_min=0.1 * BASE_LR
                ),
            ],
            milestones=[warmup],
        ),
        "warmup + linear decay to 0": lambda opt: lr_scheduler.SequentialLR(
            opt,
            [
                warm(opt),
                lr_scheduler.LinearLR(
                    opt,
                    start_factor=1.0,
                    end_factor=0.0,
                    total_iters=steps - warmup,
                ),
            ],
            milestones=[warmup],
        ),
    }


def lr_curve(
    make_scheduler: Callable[[torch.optim.Optimizer], Scheduler],
    steps: int = STEPS,
    base_lr: float = BASE_LR,
) -> list[float]:
    """The learning rate the optimizer uses at steps 0 .. steps-1."""
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()  # (the real training step goes here)
        sched.step()  # once per optimizer step, after it
    return lrs
# --8<-- [end:schedules]


def main() -> None:
    torch.manual_seed(0)
    curves = {name: lr_curve(make) for name, make in schedules().items()}
    print(f"base lr {BASE_LR:g}, {STEPS} steps, warmup {WARMUP}")
    shown = (0, 50, 99, 100, 400, 999)
    print(
        (
            f"{'schedule':26s} "
            + "  ".join(f"{'t=' + str(t):7s}" for t in shown)
        ).rstrip()
    )
    for name, lrs in curves.items():
        print(f"{name:26s} " + "  ".join(f"{lrs[t]:.1e}" for t in shown))

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for (name, lrs), style in zip(
        curves.items(), ("-", "--", "-.", ":", (0, (5, 1, 1, 1))), strict=True
    ):
        ax.plot(lrs, linestyle=style, linewidth=1.8, label=name)
    ax.axvline(WARMUP, color="C7", linewidth=0.8, linestyle=":")
    ax.set(
        xlabel="optimizer step $t$",
        ylabel=r"learning rate $\eta_t$",
        title="Learning-rate schedules (dotted line: end of warmup)",
    )
    ax.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
