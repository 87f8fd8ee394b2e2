"""Optimizer state per parameter: SGD 0, momentum 1, Adam 2, Lion 1."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


# --8<-- [start:lion]
class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023) as a torch.optim.Optimizer; one state buffer per
    parameter."""

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, {"lr": lr, "betas": betas, "weight_decay": weight_decay}
        )

    @torch.no_grad()
    def step(self, closure: Callable | None = None) -> None:
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                c = beta1 * m + (1 - beta1) * p.grad
                p.sub_(
                    group["lr"] * (torch.sign(c) + group["weight_decay"] * p)
                )
                m.mul_(beta2).add_(p.grad, alpha=1 - beta2)
# --8<-- [end:lion]


# --8<-- [start:count]
def state_per_parameter(opt: torch.optim.Optimizer) -> dict[str, int]:
    """How many buffers the optimizer keeps per parameter tensor, and how many
    numbers in all."""
    sd = opt.state_dict()["state"]
    buffers = {
        name
        for s in sd.values()
        for name, v in s.items()
        if torch.is_tensor(v) and v.dim() > 0
    }
    full = sum(
        v.numel()
        for s in sd.values()
        for v in s.values()
        if torch.is_tensor(v) and v.dim() > 0
    )
    scalars = sum(
        1
        for s in sd.values()
        for v in s.values()
        if torch.is_tensor(v) and v.dim() == 0
    )
    return {"buffers": len(buffers), "numbers": full, "scalars": scalars}
# --8<-- [end:count]


def make_optimizers(model: nn.Module) -> dict[str, torch.optim.Optimizer]:
    ps = list(model.parameters())
    return {
        "SGD": torch.optim.SGD(ps, lr=1e-2),
        "SGD + momentum": torch.optim.SGD(ps, lr=1e-2, momentum=0.9),
        "Adam": torch.optim.Adam(ps, lr=1e-3),
        "AdamW": torch.optim.AdamW(ps, lr=1e-3),
        "Lion": Lion(ps, lr=1e-4),
    }


def main() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(512, 2048), nn.GELU(), nn.Linear(2048, 512))
    n_params = sum(p.numel() for p in model.parameters())
    mib = 4 / 2**20  # float32 bytes, in MiB
    print(
        f"MLP 512 -> 2048 -> 512: {n_params} parameters, "
        f"{n_params * mib:.2f} MiB in float32"
    )
    print("total = weights + grads + state")
    print(
        f"{'optimizer':15s} {'state per parameter tensor':27s} numbers/param  "
        "state MiB  total MiB"
    )
    totals = {}
    for name, opt in make_optimizers(model).items():
        model.zero_grad()
        model(torch.randn(8, 512)).pow(2).mean().backward()
        opt.step()  # state is created lazily, at the first step
        names = sorted(
            {k for s in opt.state_dict()["state"].values() for k in s}
        )
        c = state_per_parameter(opt)
        totals[name] = (c["numbers"], 2 * n_params + c["numbers"])
        print(
            f"{name:15s} {', '.join(names) or '-':27s} "
            f"{c['numbers'] / n_params:13.0f}{c['numbers'] * mib:11.2f}  "
            f"{totals[name][1] * mib:9.2f}"
        )
    lion, adam = totals["Lion"], totals["Adam"]
    print(
        f"Lion / Adam: optimizer state {lion[0] / adam[0]:.2f}x, "
        f"weights + grads + state {lion[1] / adam[1]:.2f}x"
    )


if __name__ == "__main__":
    main()
