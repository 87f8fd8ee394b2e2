"""Failure case: clip_grad_norm_ after optimizer.step() clips nothing used."""

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

MAX_NORM = 1.0


def regression_batches(
    steps: int, batch: int, bad_step: int, gen: torch.Generator
) -> list:
    """Batches (x, y) of a noisy linear target; batch `bad_step` (from 1) has
    targets x100."""
    w_true = torch.randn(8, 1, generator=gen)
    batches = []
    for step in range(1, steps + 1):
        x = torch.randn(batch, 8, generator=gen)
        y = x @ w_true + 0.1 * torch.randn(batch, 1, generator=gen)
        batches.append((x, 100 * y if step == bad_step else y))
    return batches


# --8<-- [start:guard]
def record_norm_seen_by_step(
    optimizer: torch.optim.Optimizer, seen: list[float]
) -> None:
    """Detection: an optimizer pre-step hook logs the gradient norm the update
    will actually use."""

    def hook(opt: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        grads = [p.grad for group in opt.param_groups for p in group["params"]]
        seen.append(
            torch.stack([g.norm() for g in grads if g is not None])
            .norm()
            .item()
        )

    optimizer.register_step_pre_hook(hook)
# --8<-- [end:guard]


# --8<-- [start:loops]
def train(
    batches: list, order: str, lr: float = 0.05, seed: int = 0
) -> tuple[dict[str, list[float]], Tensor]:
    """SGD on a small MLP; order is 'clip_after_step' (broken),
    'clip_before_step' or 'no_clip'."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    seen: list[float] = []
    record_norm_seen_by_step(optimizer, seen)
    losses, update_norms = [], []
    for x, y in batches:
        before = (
            nn.utils.parameters_to_vector(model.parameters()).detach().clone()
        )
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        if order == "clip_before_step":
            nn.utils.clip_grad_norm_(
                model.parameters(), MAX_NORM
            )  # backward -> clip -> step
        optimizer.step()
        if order == "clip_after_step":
            nn.utils.clip_grad_norm_(
                model.parameters(), MAX_NORM
            )  # too late: step has used .grad
        optimizer.zero_grad()
        after = nn.utils.parameters_to_vector(model.parameters()).detach()
        losses.append(loss.item())
        update_norms.append((after - before).norm().item())
    history = {"loss": losses, "update": update_norms, "seen": seen}
    return history, nn.utils.parameters_to_vector(model.parameters()).detach()
# --8<-- [end:loops]


def main() -> None:
    torch.manual_seed(0)
    lr, bad = 0.05, 60
    batches = regression_batches(
        120, 32, bad_step=bad, gen=torch.Generator().manual_seed(0)
    )
    results = {
        order: train(batches, order, lr)
        for order in ["clip_after_step", "clip_before_step", "no_clip"]
    }
    runs = {order: history for order, (history, _) in results.items()}
    same = torch.equal(results["clip_after_step"][1], results["no_clip"][1])
    print(f"clip after step gives bit-identical weights to no clipping: {same}")
    i = bad - 1  # list index of step `bad`
    print(f"at step {bad}, where lr * max_norm = {lr * MAX_NORM:.4g}:")
    print("order             grad norm used   |update|   loss 10 steps later")
    for order, run in runs.items():
        print(
            f"{order:<17} {run['seen'][i]:<16.4g} {run['update'][i]:<10.4g} "
            f"{run['loss'][i + 10]:.4g}"
        )

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    steps = range(1, len(batches) + 1)
    for (order, run), style in zip(runs.items(), ["-", "--", ":"], strict=True):
        if order == "no_clip":
            continue
        ax1.plot(
            steps, run["loss"], linestyle=style, label=order.replace("_", " ")
        )
        ax2.plot(
            steps, run["seen"], linestyle=style, label=order.replace("_", " ")
        )
    for ax in (ax1, ax2):
        ax.axvline(bad, color="C7", linestyle=(0, (1, 3)), label="bad batch")
        ax.set(xlabel="step", yscale="log")
    ax2.axhline(MAX_NORM, color="C3", linestyle="-.", label="max_norm")
    ax1.set(title="Training loss", ylabel="MSE")
    ax2.set(
        title="Gradient norm the optimizer step used",
        ylabel=r"$\|g\|_2$ at step()",
    )
    ax1.legend()
    ax2.legend()
    fig.suptitle("Clipping after optimizer.step() lets the bad batch through")
    plt.show()


if __name__ == "__main__":
    main()
