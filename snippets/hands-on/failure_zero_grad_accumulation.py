"""Failure case: zero_grad() inside accumulation keeps one micro-batch."""

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn


# --8<-- [start:loops]
def accumulate(
    model: nn.Module, x: Tensor, y: Tensor, micro: int, zero_inside: bool
) -> Tensor:
    """The gradient left in .grad after one cycle over `micro` micro-batches."""
    model.zero_grad()  # correct place: once per cycle
    for xb, yb in zip(x.chunk(micro), y.chunk(micro), strict=True):
        if zero_inside:
            model.zero_grad()  # the bug: wipes what earlier micro-batches added
        loss = nn.functional.mse_loss(model(xb), yb) / micro  # batch mean
        loss.backward()
    return flat_grad(model)
# --8<-- [end:loops]


def flat_grad(model: nn.Module) -> Tensor:
    """All parameter gradients concatenated into one vector."""
    return torch.cat([p.grad.flatten() for p in model.parameters()])


# --8<-- [start:detect]
def full_batch_grad(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """Detection: the reference an accumulation cycle must reproduce."""
    model.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    return flat_grad(model)
# --8<-- [end:detect]


RUNS = {
    "accumulation": (4, False),
    "zero_grad inside": (4, True),
    "one micro-batch": (1, False),
    "full batch": (1, False),
}
OPTIMIZERS = {"SGD": (torch.optim.SGD, 0.1), "AdamW": (torch.optim.AdamW, 3e-3)}


# --8<-- [start:train]
def train(
    x: Tensor,
    y: Tensor,
    run: str,
    optimizer: str,
    steps: int = 300,
    batch: int = 256,
    seed: int = 0,
    eps: float = 1e-8,
) -> dict:
    """One cycle per step on a fresh batch; logs loss, |g|, update RMS."""
    micro, zero_inside = RUNS[run]
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(x.shape[1], 32), nn.Tanh(), nn.Linear(32, 1)
    )
    opt_class, lr = OPTIMIZERS[optimizer]
    kwargs = {"eps": eps} if optimizer == "AdamW" else {}
    opt = opt_class(model.parameters(), lr=lr, **kwargs)
    batches = torch.Generator().manual_seed(seed + 1)
    log = {"loss": [], "grad norm": [], "update rms": []}
    for _ in range(steps):
        idx = torch.randint(len(x), (batch,), generator=batches)
        if run == "one micro-batch":  # the last quarter of the same batch
            idx = idx[-batch // 4 :]
        with torch.no_grad():
            log["loss"].append(nn.functional.mse_loss(model(x), y).item())
        g = accumulate(model, x[idx], y[idx], micro, zero_inside)
        before = nn.utils.parameters_to_vector(model.parameters()).detach()
        opt.step()
        after = nn.utils.parameters_to_vector(model.parameters()).detach()
        log["grad norm"].append(g.norm().item())
        log["update rms"].append((after - before).pow(2).mean().sqrt().item())
    return log
# --8<-- [end:train]


def make_data(n: int = 4096, noise: float = 0.5) -> tuple[Tensor, Tensor]:
    """Inputs x ~ N(0, I_8), targets sin(x_1) + x_2 / 2 plus Gaussian noise."""
    x = torch.randn(n, 8)
    y = torch.sin(x[:, :1]) + 0.5 * x[:, 1:2] + noise * torch.randn(n, 1)
    return x, y


def mean(values: list[float]) -> float:
    """Arithmetic mean."""
    return sum(values) / len(values)


def main() -> None:
    torch.manual_seed(0)
    x, y = make_data()
    micro = 4
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
    reference = full_batch_grad(model, x[:256], y[:256])
    for zero_inside in (True, False):
        g = accumulate(model, x[:256], y[:256], micro, zero_inside)
        cos = nn.functional.cosine_similarity(g, reference, dim=0).item()
        same = torch.allclose(g, reference, atol=1e-6)
        ratio = (g.norm() / reference.norm()).item()
        name = "zero_grad " + ("inside loop" if zero_inside else "once/cycle")
        print(
            f"{name:<22} |g|/|g_full| = {ratio:.4f}, cosine {cos:.4f}, "
            f"same as full: {same}"
        )

    print(
        f"\n{'300 steps, batch 256':<29} {'|g| logged':>10} "
        f"{'update RMS':>11} {'loss, last 100':>15}"
    )
    logs = {}
    for optimizer in OPTIMIZERS:
        for run in ("accumulation", "zero_grad inside", "one micro-batch"):
            log = logs[optimizer, run] = train(x, y, run, optimizer)
            print(
                f"{optimizer + ', ' + run:<29} "
                f"{mean(log['grad norm']):10.4f} "
                f"{mean(log['update rms']):11.3e} "
                f"{mean(log['loss'][-100:]):15.4f}"
            )
    for optimizer in OPTIMIZERS:
        first = [
            logs[optimizer, run]["update rms"][0]
            for run in ("zero_grad inside", "one micro-batch")
        ]
        print(
            f"{optimizer} step 1: update RMS, zero_grad inside / one "
            f"micro-batch {first[0] / first[1]:.4f}"
        )
    buggy = logs["AdamW", "zero_grad inside"]["loss"]
    twin = train(x, y, "one micro-batch", "AdamW", eps=micro * 1e-8)["loss"]
    gap = max(abs(a - b) / b for a, b in zip(buggy, twin, strict=True))
    print(
        f"AdamW zero_grad inside vs one micro-batch, eps x {micro}: "
        f"max rel. loss diff {gap:.1e}"
    )

    _, axes = plt.subplots(
        1, 2, figsize=(10, 4), layout="constrained", sharey=True
    )
    for ax, optimizer in zip(axes, OPTIMIZERS, strict=True):
        for run, style in zip(
            ("accumulation", "zero_grad inside", "one micro-batch"),
            ["-", "--", ":"],
            strict=True,
        ):
            ax.plot(
                logs[optimizer, run]["loss"],
                linestyle=style,
                linewidth=2 if style == "-" else 1.5,
                label=run,
            )
        lr = OPTIMIZERS[optimizer][1]
        ax.set(
            title=f"{optimizer}, lr {lr:g}, {micro} micro-batches of 64",
            xlabel="optimizer step",
            yscale="log",
        )
        ax.legend()
    axes[0].set(ylabel="MSE on all 4096 examples")
    plt.show()


if __name__ == "__main__":
    main()
