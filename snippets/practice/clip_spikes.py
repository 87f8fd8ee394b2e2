"""Log gradient-norm spikes with their batch, then find the bad example."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn


def make_data(
    n: int = 512,
    bad_index: int = 137,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A linear-regression set of shape (n, 10) -> (n, 1) with one corrupted
    target."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, generator=gen)
    y = x @ torch.randn(10, 1, generator=gen) + 0.1 * torch.randn(
        n, 1, generator=gen
    )
    y[bad_index] = 200.0  # e.g. a unit mix-up or a parsing error in one record
    return x, y


# --8<-- [start:log]
def train_with_log(
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int = 6,
    batch: int = 32,
    max_norm: float = 1.0,
    seed: int = 0,
) -> tuple[nn.Module, list[dict]]:
    """Clip as usual, but keep, for every step, the pre-clip norm and the
    batch's indices."""
    torch.manual_seed(seed)
    model = nn.Linear(x.shape[1], 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(seed)
    log = []
    for epoch in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(batch):
            nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
            norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm).item()
            opt.step()
            opt.zero_grad()
            log.append(
                {"step": len(log), "epoch": epoch, "norm": norm, "indices": idx}
            )
    return model, log


def find_spikes(
    norms: list[float], window: int = 20, factor: float = 5.0
) -> list[int]:
    """Steps whose norm exceeds factor x the median of the previous `window`
    steps."""
    spikes = []
    for t in range(window, len(norms)):
        if norms[t] > factor * torch.tensor(norms[t - window : t]).median():
            spikes.append(t)
    return spikes


def worst_example(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, indices: torch.Tensor
) -> int:
    """The index, within the whole data set, of the batch example with the
    largest loss."""
    with torch.no_grad():
        per_example = (model(x[indices]) - y[indices]).pow(2).squeeze(1)
    return int(indices[per_example.argmax()])
# --8<-- [end:log]


def main() -> None:
    torch.manual_seed(0)
    x, y = make_data()
    model, log = train_with_log(x, y)
    norms = [entry["norm"] for entry in log]
    spikes = find_spikes(norms)
    print(
        f"{len(log)} steps, {len(spikes)} flagged "
        "(norm > 5 x median of the previous 20)"
    )
    bad = int(y.abs().argmax())
    seen_in = [e["step"] for e in log if bad in e["indices"].tolist()]
    print(
        f"steps whose batch holds example {bad}: {', '.join(map(str, seen_in))}"
    )
    print("flagged step          norm  median before  worst example  its y")
    for t in spikes:
        culprit = worst_example(model, x, y, log[t]["indices"])
        median = torch.tensor(norms[t - 20 : t]).median()
        print(
            f"step {t:3d} (epoch {log[t]['epoch']}): {norms[t]:6.2f}  "
            f"{median:<13.3g}  {culprit:<13}  {y[culprit].item():.4g}"
        )

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.plot(
        norms, color="C0", linewidth=0.9, label=r"pre-clip $\|g\|_2$ per step"
    )
    ax.plot(
        spikes,
        [norms[t] for t in spikes],
        "v",
        color="C3",
        markersize=8,
        label="flagged spike",
    )
    ax.axhline(1.0, color="C1", linestyle="--", label="max_norm = 1")
    for epoch in range(1, log[-1]["epoch"] + 1):
        ax.axvline(
            epoch * len(log) / (log[-1]["epoch"] + 1),
            color="C7",
            linestyle=":",
            linewidth=0.8,
        )
    ax.set(
        yscale="log",
        xlabel="step (dotted lines: epoch boundaries)",
        ylabel=r"$\|g\|_2$",
        title="One corrupted example makes one spike per epoch",
    )
    ax.legend()
    plt.show()


if __name__ == "__main__":
    main()
