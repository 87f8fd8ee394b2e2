"""Choosing max_norm from observed norms; too-tight clipping as a smaller lr."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn


def make_data(
    n: int,
    seed: int = 0,
    noise_scale: float = 0.1,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """x of shape (n, 16); y = teacher(x) + heavy-tailed (Student-t, 2 dof)
    noise, shape (n, 1)."""
    teacher = torch.Generator().manual_seed(1234)
    w1, w2 = (
        torch.randn(16, 32, generator=teacher) / 4,
        torch.randn(32, 1, generator=teacher) / 2,
    )
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=gen)
    z, u = torch.randn(n, 1, generator=gen), torch.rand(n, 1, generator=gen)
    noise = z / torch.sqrt(
        -torch.log1p(-u)
    )  # Student-t with 2 degrees of freedom
    return x.to(device), (torch.tanh(x @ w1) @ w2 + noise_scale * noise).to(
        device
    )


# --8<-- [start:train]
def train(
    max_norm: float | None,
    lr: float = 0.05,
    steps: int = 600,
    batch: int = 32,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> dict[str, list[float]]:
    """SGD on an MLP; log the pre-clip gradient norm of every step and the test
    loss."""
    torch.manual_seed(seed)
    x, y = make_data(4096, seed, device=device)
    x_test, y_test = make_data(1024, seed + 1, noise_scale=0.0, device=device)
    model = nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 1)).to(
        device
    )
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    log: dict[str, list[float]] = {"norm": [], "test_loss": []}
    for step in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=gen).to(device)
        nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
        bound = max_norm if max_norm is not None else float("inf")
        log["norm"].append(
            nn.utils.clip_grad_norm_(model.parameters(), bound).item()
        )
        opt.step()
        opt.zero_grad()
        if step % 10 == 9:
            with torch.no_grad():
                log["test_loss"].append(
                    nn.functional.mse_loss(model(x_test), y_test).item()
                )
    return log
# --8<-- [end:train]


def fraction_clipped(norms: list[float], max_norm: float) -> float:
    return sum(n > max_norm for n in norms) / len(norms)


def main() -> None:
    torch.manual_seed(0)
    lr = 0.05
    base = train(None, lr)
    norms = torch.tensor(base["norm"])
    p50, p90, p99 = (torch.quantile(norms, q).item() for q in (0.5, 0.9, 0.99))
    print(f"unclipped run, lr = {lr}, {len(norms)} steps, gradient norm:")
    print(
        f"  median {p50:.4g}, 90th percentile {p90:.4g}, 99th {p99:.4g}, "
        f"max {norms.max():.4g}"
    )
    tight = p50 / 20
    runs = {"no clipping": base, f"max_norm = p90 = {p90:.3g}": train(p90, lr)}
    tight_name = f"max_norm = median/20 = {tight:.3g}"
    runs[tight_name] = train(tight, lr)
    effective = lr * tight / torch.tensor(runs[tight_name]["norm"])
    lr_small = effective.median().item()
    print("too-tight run: effective lr = lr * max_norm / |g_t|")
    print(
        f"  has median {lr_small:.3g}, "
        f"range {effective.min():.3g} to {effective.max():.3g}"
    )
    runs[f"no clipping, lr = {lr_small:.2g}"] = train(None, lr_small)
    bounds = {
        name: b
        for name, b in (
            (f"max_norm = p90 = {p90:.3g}", p90),
            (tight_name, tight),
        )
    }
    print(f"{'run':32s}  steps clipped   test MSE after 100 / 600 steps")
    for name, log in runs.items():
        clipped = (
            fraction_clipped(log["norm"], bounds[name])
            if name in bounds
            else 0.0
        )
        print(
            f"{name:32s}  {clipped:12.1%}   {log['test_loss'][9]:.4f} / "
            f"{log['test_loss'][-1]:.4f}"
        )

    _, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    ax0.plot(
        base["norm"],
        color="C0",
        linewidth=0.8,
        label="pre-clip norm (unclipped run)",
    )
    for value, style, label in (
        (p90, "--", "90th percentile"),
        (tight, ":", "median / 20"),
    ):
        ax0.axhline(
            value,
            linestyle=style,
            color="C1" if style == "--" else "C2",
            label=label,
        )
    ax0.set(
        yscale="log",
        xlabel="step",
        ylabel=r"$\|g\|_2$",
        title="Gradient norms, SGD",
    )
    ax0.legend(fontsize=8)
    for (name, log), style in zip(
        runs.items(), ("-", "--", "-.", ":"), strict=True
    ):
        ax1.plot(
            range(10, 10 * len(log["test_loss"]) + 1, 10),
            log["test_loss"],
            style,
            label=name,
        )
    ax1.set(
        yscale="log",
        xlabel="step",
        ylabel="test MSE (noise-free targets)",
        title="Too-tight clipping trains like a smaller learning rate",
    )
    ax1.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
