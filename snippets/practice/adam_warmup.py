"""Why Adam wants warmup: its first steps are full size, from 1 or 2 grads."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn


def make_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """4096 noisy regression examples: x of shape (4096, 32), y of shape (4096,
    1)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(4096, 32, generator=gen)
    y = torch.tanh(
        x @ torch.randn(32, 1, generator=gen) / 4
    ) + 0.3 * torch.randn(4096, 1, generator=gen)
    return x, y


# --8<-- [start:train]
def train_adam(
    lr: float,
    warmup: int,
    steps: int = 300,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> dict[str, list[float]]:
    """Adam on an MLP with a linear warmup over `warmup` steps (0: none).

    Logs the RMS of each step's weight change divided by the peak lr, and the
    loss.
    """
    torch.manual_seed(seed)
    x, y = (t.to(device) for t in make_data(seed))
    model = nn.Sequential(
        nn.Linear(32, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 1),
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: min(1.0, (t + 1) / warmup) if warmup else 1.0
    )
    gen = torch.Generator().manual_seed(seed)
    log: dict[str, list[float]] = {"update_rms": [], "loss": []}
    with torch.no_grad():
        log["initial_loss"] = [
            nn.functional.mse_loss(model(x[:1024]), y[:1024]).item()
        ]
    for _ in range(steps):
        idx = torch.randint(0, len(x), (32,), generator=gen).to(device)
        before = nn.utils.parameters_to_vector(model.parameters()).detach()
        opt.zero_grad()
        nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
        opt.step()
        sched.step()
        change = (
            nn.utils.parameters_to_vector(model.parameters()).detach() - before
        )
        log["update_rms"].append((change.pow(2).mean().sqrt() / lr).item())
        with torch.no_grad():
            log["loss"].append(
                nn.functional.mse_loss(model(x[:1024]), y[:1024]).item()
            )
    return log
# --8<-- [end:train]


def main() -> None:
    torch.manual_seed(0)
    runs = {(lr, w): train_adam(lr, w) for lr in (1e-2, 3e-2) for w in (0, 100)}
    print(
        f"Adam, MLP 32-256-256-1, batch 32, 300 steps; loss at initialization "
        f"{runs[(1e-2, 0)]['initial_loss'][0]:.3f}"
    )
    print("                 RMS update/lr at step          loss")
    print(
        "peak lr  warmup       1     10    100    300   after step 1      max"
        "   final"
    )
    for (lr, w), log in runs.items():
        u, loss = log["update_rms"], log["loss"]
        print(
            f"{lr:7g}  {w:6d}  "
            + " ".join(f"{u[i]:6.3f}" for i in (0, 9, 99, -1))
            + f"   {loss[0]:12.3f} {max(loss):8.3f} {loss[-1]:7.3f}"
        )
    for w, name in ((0, "without"), (100, "with")):
        late = runs[(3e-2, w)]["update_rms"][99:]
        print(
            f"steps 100-300 at peak lr 0.03, RMS update/lr {name} warmup: "
            f"{min(late):.3f} to {max(late):.3f}"
        )

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for w, style in ((0, "-"), (100, "--")):
        label = "no warmup" if w == 0 else f"warmup {w} steps"
        ax0.plot(
            range(1, 301), runs[(3e-2, w)]["update_rms"], style, label=label
        )
        ax1.plot(range(1, 301), runs[(3e-2, w)]["loss"], style, label=label)
    ax0.set(
        yscale="log",
        xlabel="step",
        ylabel=r"RMS$(\theta_{t+1} - \theta_t)$ / peak lr",
        title="Adam's step size, peak lr 0.03",
    )
    ax1.set(
        yscale="log",
        xlabel="step",
        ylabel="MSE on 1024 training examples",
        title="Loss, peak lr 0.03",
    )
    ax0.legend()
    ax1.legend()
    fig.get_layout_engine().set(w_pad=0.2)
    plt.show()


if __name__ == "__main__":
    main()
