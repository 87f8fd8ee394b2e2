"""Failure case: NaN after many good steps, from log(0) or a 0/0 on a batch."""

import math
import warnings
from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn


def first_nonfinite(values: list[float]) -> int | None:
    """Step number (counting from 1) of the first inf/NaN value, or None."""
    return next(
        (i for i, v in enumerate(values, start=1) if not math.isfinite(v)), None
    )


# --8<-- [start:log0]
def bce_by_hand(logits: Tensor, y: Tensor) -> Tensor:
    """The broken loss: log of sigmoid outputs; sigmoid(z) rounds to 1.0 once z
    > 24 ln 2."""
    p = torch.sigmoid(logits)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def separable_data(n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """2-D points labelled by the side of a line: perfectly separable."""
    x = torch.randn(n, 2, generator=gen)
    return x, (x[:, 0] + x[:, 1] > 0).float()


def train_logistic(
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    y: Tensor,
    steps: int = 500,
    lr: float = 0.5,
) -> list[float]:
    """Logistic regression on separable data: the logits keep growing as it
    fits."""
    torch.manual_seed(0)
    model = nn.Linear(x.shape[1], 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(x).squeeze(1), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
# --8<-- [end:log0]


# --8<-- [start:bad_batch]
def standardise(x: Tensor, eps: float) -> Tensor:
    """Per-batch feature standardisation; eps = 0 divides 0 by 0 on a constant
    column."""
    return (x - x.mean(0)) / (x.std(0) + eps)


def train_stream(
    eps: float, steps: int = 300, bad_step: int = 200
) -> list[float]:
    """SGD on a stream of batches; at bad_step one sensor column is stuck at a
    constant."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    scales = torch.tensor([1.0, 10.0, 100.0, 1000.0])
    w_true = torch.tensor([[1.0], [-2.0], [0.5], [1.0]])
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for step in range(1, steps + 1):
        raw = torch.randn(64, 4, generator=gen) * scales
        if step == bad_step:
            raw[:, 2] = 42.0  # a stuck sensor
        x = standardise(raw, eps)
        y = x.detach() @ w_true + 0.01 * torch.randn(64, 1, generator=gen)
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
# --8<-- [end:bad_batch]


# --8<-- [start:anomaly]
def anomaly_report(compute_loss: Callable[[], Tensor]) -> str:
    """Detection: backward in anomaly mode names the first function that
    returned NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # anomaly mode warns, with the forward traceback
        with torch.autograd.detect_anomaly():
            try:
                compute_loss().backward()
            except RuntimeError as error:
                return str(error).splitlines()[0]
    return "no NaN in backward"
# --8<-- [end:anomaly]


def main() -> None:
    torch.manual_seed(0)
    xs, ys = separable_data(256, torch.Generator().manual_seed(1))
    by_hand = train_logistic(bce_by_hand, xs, ys)
    stable = train_logistic(
        nn.functional.binary_cross_entropy_with_logits, xs, ys
    )
    nan_step = first_nonfinite(by_hand)
    print(f"BCE by hand: first non-finite loss at step {nan_step}")
    print(
        f"BCEWithLogits: {first_nonfinite(stable)}, "
        f"final loss {stable[-1]:.3e}"
    )
    print(
        f"loss with logits: step 1 {stable[0]:.3f}, step {nan_step - 1} "
        f"{stable[nan_step - 2]:.3f}"
    )
    torch.manual_seed(0)
    probe = nn.Linear(2, 1)
    with torch.no_grad():
        probe.weight.fill_(20.0)  # logits far past 24 ln 2 for some examples
    print(anomaly_report(lambda: bce_by_hand(probe(xs).squeeze(1), ys)))

    no_eps, with_eps = train_stream(eps=0.0), train_stream(eps=1e-5)
    print("per-batch standardisation:")
    for eps, losses in (("0", no_eps), ("1e-5", with_eps)):
        print(
            f"  eps {eps}: first non-finite loss at step "
            f"{first_nonfinite(losses)}, final loss {losses[-1]:.4g}"
        )

    _, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    steps = range(1, len(by_hand) + 1)
    axes[0].plot(steps, by_hand, label="BCE by hand: log(sigmoid)")
    axes[0].plot(steps, stable, linestyle="--", label="BCEWithLogitsLoss")
    axes[0].axvline(nan_step, color="C3", linestyle=":", label="first NaN")
    axes[0].set(
        title="NaN after many steps: log(0)",
        xlabel="step",
        ylabel="BCE (nats)",
        yscale="log",
    )
    steps = range(1, len(no_eps) + 1)
    axes[1].plot(steps, no_eps, label="eps = 0")
    axes[1].plot(steps, with_eps, linestyle="--", label="eps = 1e-5")
    axes[1].axvline(200, color="C7", linestyle=":", label="bad batch")
    axes[1].set(
        title="NaN from one bad batch: 0/0",
        xlabel="step",
        ylabel="MSE",
        yscale="log",
    )
    for ax in axes:
        ax.legend(fontsize="small")
    plt.show()


if __name__ == "__main__":
    main()
