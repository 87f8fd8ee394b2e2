"""Small updates vanish in float16 weights; a float32 master copy keeps them."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch


# --8<-- [start:master]
def apply_updates(
    w0: float, update: float, steps: int, dtype: torch.dtype
) -> torch.Tensor:
    """w <- w + update, `steps` times, with w stored in `dtype`; returns w after
    every step."""
    w = torch.tensor(w0, dtype=dtype)
    path = []
    for _ in range(steps):
        w = w + torch.tensor(update, dtype=dtype)
        path.append(w.item())
    return torch.tensor(path)


def apply_updates_with_master(
    w0: float, update: float, steps: int, dtype: torch.dtype
) -> torch.Tensor:
    """Keep a float32 master copy, update it, and hand out a `dtype` copy for
    the forward pass."""
    master = torch.tensor(w0, dtype=torch.float32)
    path = []
    for _ in range(steps):
        master = master + update
        path.append(
            master.to(dtype).item()
        )  # the low-precision weights the model computes with
    return torch.tensor(path)
# --8<-- [end:master]


def main() -> None:
    torch.manual_seed(0)
    w0, update, steps = 1.0, 1e-4, 2000
    print(
        f"start w = {w0}, add {update:g} per step for {steps} steps "
        f"(exact result {w0 + update * steps:.4g})"
    )
    runs = {
        "float32 weights": apply_updates(w0, update, steps, torch.float32),
        "float16 weights": apply_updates(w0, update, steps, torch.float16),
        "bfloat16 weights": apply_updates(w0, update, steps, torch.bfloat16),
        "float32 master, float16 copy": apply_updates_with_master(
            w0, update, steps, torch.float16
        ),
        "float32 master, bfloat16 copy": apply_updates_with_master(
            w0, update, steps, torch.bfloat16
        ),
    }
    for name, path in runs.items():
        print(f"{name:30s} w after {steps} steps = {path[-1].item():.6g}")
    half_gap = (
        torch.nextafter(
            torch.tensor(1.0, dtype=torch.float16),
            torch.tensor(2.0, dtype=torch.float16),
        ).item()
        - 1
    ) / 2
    print(f"float16 numbers next to 1 are {2 * half_gap:.3e} apart:")
    print(f"an update below {half_gap:.3e} is rounded away")

    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for (name, path), style in zip(
        runs.items(), ("-", "--", ":", "-.", (0, (5, 1, 1, 1))), strict=True
    ):
        ax.plot(
            range(1, steps + 1),
            path,
            linestyle=style,
            linewidth=1.6,
            label=name,
        )
    ax.set(
        xlabel="step",
        ylabel="weight $w$",
        title=f"Adding {update:g} per step to a weight of {w0:g}",
    )
    ax.legend(fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()
