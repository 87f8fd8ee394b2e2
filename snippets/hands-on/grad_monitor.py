"""A small gradient monitor on hooks, on a real training run, as a dashboard."""

import math

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

EDGES = torch.linspace(-10.0, 1.0, 45)  # bin edges for log10 |g|


# --8<-- [start:monitor]
class GradMonitor:
    """Records, for every optimizer step, gradient norms, a histogram and
    update/weight ratios."""

    def __init__(
        self, model: nn.Module, optimizer: torch.optim.Optimizer
    ) -> None:
        self.params = {
            name: p for name, p in model.named_parameters() if p.requires_grad
        }
        self.layers = [
            name for name, p in self.params.items() if p.ndim > 1
        ]  # weight matrices
        self.norms: dict[str, list[float]] = {name: [] for name in self.layers}
        self.ratios: dict[str, list[float]] = {name: [] for name in self.layers}
        self.global_norm: list[float] = []
        self.histograms: list[Tensor] = []
        self._grads: dict[str, Tensor] = {}
        self._before: dict[str, Tensor] = {}
        self.handles = [
            p.register_post_accumulate_grad_hook(
                lambda p, name=name: self._grad_ready(name, p)
            )
            for name, p in self.params.items()
        ]
        self.handles += [
            optimizer.register_step_pre_hook(self._before_step),
            optimizer.register_step_post_hook(self._after_step),
        ]

    def _grad_ready(self, name: str, p: Tensor) -> None:
        self._grads[name] = (
            p.grad.detach().clone()
        )  # as backward left it: before any clipping

    def _before_step(
        self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict
    ) -> None:
        flat = torch.cat([g.flatten() for g in self._grads.values()])
        self.global_norm.append(flat.norm().item())
        self.histograms.append(
            torch.histogram(flat.abs().log10().cpu(), EDGES).hist
        )
        for name in self.layers:
            self.norms[name].append(self._grads[name].norm().item())
        self._before = {
            name: self.params[name].detach().clone() for name in self.layers
        }
        self._grads = {}

    def _after_step(
        self, optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict
    ) -> None:
        for name in self.layers:
            old, new = self._before[name], self.params[name].detach()
            self.ratios[name].append(((new - old).norm() / old.norm()).item())

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
# --8<-- [end:monitor]


def spiral_data(
    n_per_class: int, classes: int, gen: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Points on `classes` interleaved noisy spiral arms in 2-D, with their arm
    index as label."""
    t = torch.rand(classes, n_per_class, generator=gen)
    arm = torch.arange(classes).unsqueeze(1)
    angle = (
        4.0 * t
        + 2 * math.pi * arm / classes
        + 0.2 * torch.randn(t.shape, generator=gen)
    )
    x = torch.stack([t * angle.cos(), t * angle.sin()], dim=-1).reshape(-1, 2)
    return x, arm.expand_as(t).reshape(-1)


# --8<-- [start:train]
def train(
    steps: int = 300, lr: float = 3e-3
) -> tuple[GradMonitor, list[float]]:
    """Adam on an MLP spiral classifier, batches of 128, with the monitor
    attached."""
    gen = torch.Generator().manual_seed(0)
    x, y = spiral_data(500, 3, gen)
    model = nn.Sequential(
        nn.Linear(2, 64),
        nn.ReLU(),
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Linear(64, 3),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    monitor = GradMonitor(model, optimizer)
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, len(x), (128,), generator=gen)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    monitor.remove()
    return monitor, losses
# --8<-- [end:train]


def main() -> None:
    torch.manual_seed(0)
    monitor, losses = train()
    print(f"loss: first {losses[0]:.4f}, last {losses[-1]:.4f}")
    norms = monitor.global_norm
    print(f"global grad norm: first {norms[0]:.4f}, last {norms[-1]:.4f}")
    bounds = torch.tensor([0.05, 0.95])
    low, high = torch.tensor(norms[20:]).quantile(bounds).tolist()
    print(
        f"grad norm over steps 21-{len(norms)}: 5th to 95th percentile "
        f"{low:.2f} to {high:.2f}"
    )
    for name in monitor.layers:
        ratio = sorted(monitor.ratios[name])[len(monitor.ratios[name]) // 2]
        print(
            f"{name:<8} median update/weight ratio {ratio:.2e}, "
            f"at step 1 {monitor.ratios[name][0]:.2e}"
        )
    pooled = torch.stack(monitor.histograms).sum(0)
    share = pooled.cumsum(0) / pooled.sum()
    below = [
        10 ** EDGES[int((share >= q).nonzero()[0]) + 1].item()
        for q in (0.1, 0.9)
    ]
    print(
        f"|g| histogram over all steps: 10% of entries below {below[0]:.0e}, "
        f"90% below {below[1]:.0e}"
    )
    lowest = 10 ** EDGES[int(pooled.nonzero()[0])].item()
    print(f"lowest |g| histogram bin in use starts at {lowest:.0e}")

    steps = range(1, len(losses) + 1)
    fig, axes = plt.subplot_mosaic(
        [["loss", "global", "layers"], ["heat", "heat", "ratio"]],
        figsize=(12, 7),
        layout="constrained",
    )
    fig.suptitle("Gradient dashboard: MLP on 3-arm spirals, Adam, lr 3e-3")
    axes["loss"].plot(steps, losses, color="C0")
    axes["loss"].set(
        title="Training loss",
        xlabel="step",
        ylabel="cross-entropy (nats)",
        yscale="log",
    )
    axes["global"].plot(steps, monitor.global_norm, color="C1")
    axes["global"].set(
        title="Global gradient norm",
        xlabel="step",
        ylabel=r"$\|g\|_2$",
        yscale="log",
    )
    styles = ["-", "--", "-.", ":"]
    for i, name in enumerate(monitor.layers):
        axes["layers"].plot(
            steps,
            monitor.norms[name],
            color=f"C{i}",
            linestyle=styles[i],
            label=name,
        )
        axes["ratio"].plot(
            steps,
            monitor.ratios[name],
            color=f"C{i}",
            linestyle=styles[i],
            label=name,
        )
    axes["layers"].set(
        title="Per-layer gradient norm",
        xlabel="step",
        ylabel=r"$\|g_W\|_2$",
        yscale="log",
    )
    axes["layers"].legend(title="weight")
    axes["ratio"].axhline(1e-3, color="C7", linestyle=(0, (1, 3)), label="1e-3")
    axes["ratio"].set(
        title="Update-to-weight ratio",
        xlabel="step",
        ylabel=r"$\|\Delta W\| / \|W\|$",
        yscale="log",
    )
    axes["ratio"].legend(title="weight")
    counts = torch.stack(monitor.histograms).T  # (bins, steps)
    mesh = axes["heat"].pcolormesh(
        list(range(len(losses) + 1)),
        EDGES.numpy(),
        counts.log1p().numpy(),
        shading="flat",
    )
    fig.colorbar(mesh, ax=axes["heat"], label="log(1 + count)")
    axes["heat"].set(
        title="Histogram of all gradient entries over time",
        xlabel="step",
        ylabel=r"$\log_{10}|g|$",
    )
    plt.show()


if __name__ == "__main__":
    main()
