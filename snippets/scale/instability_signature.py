"""The gradient signature of attention-logit growth: norms, Adam's moments."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from instability_logits import COLLAPSED, Config, train
from torch import Tensor


# --8<-- [start:record]
def qk_weights(params: list[Tensor], d: int) -> Tensor:
    """W_q and W_k of the first layer (member 0), side by side: (d, 2d)."""
    return params[2][0, :, : 2 * d]


def signature(cfg: Config, seed: int = 0) -> dict[str, Tensor]:
    """One run; per step: the largest attention logit, the gradient norm,
    ||update|| / ||W|| of W_q,k, the median of sqrt(v) (Adam's second
    moment) of W_q,k, and ||W_q,k||."""
    rows: list[list[float]] = []
    before: list[Tensor] = []

    def record(
        step: int, params: list[Tensor], opt: torch.optim.Optimizer
    ) -> None:
        qk = qk_weights(params, cfg.d)
        if step:
            v = opt.state[params[2]]["exp_avg_sq"][0, :, : 2 * cfg.d]
            rows.append([
                ((qk - before[0]).norm() / before[0].norm()).item(),
                v.sqrt().median().item(),
                qk.norm().item(),
            ])
        before[:] = [qk.detach().clone()]

    history = train(cfg, seeds=(seed,), record=record)
    cols = torch.tensor(rows).T
    return {
        "max_logit": history["max_logit"][1:, 0],
        "grad_norm": history["grad_norm"][1:, 0],
        "ratio_qk": cols[0],
        "sqrt_v_qk": cols[1],
        "norm_qk": cols[2],
    }
# --8<-- [end:record]


RUNS = {"lr 1e-1": Config(lr=0.1), "lr 1e-2": Config(lr=0.01)}


def main() -> None:
    torch.manual_seed(0)
    runs = {name: signature(cfg) for name, cfg in RUNS.items()}
    fast = runs["lr 1e-1"]["max_logit"]
    onset = int((fast > COLLAPSED).int().argmax())  # index i is step i + 2
    steps = {"before": onset - 10, "collapse": onset, "end": len(fast) - 1}
    print(f"seed 0, lr 1e-1: attention collapses (logit > {COLLAPSED:g}) at "
          f"step {onset + 2}")
    print("rows: 10 steps before it, at it, and at the last step; W: W_q and "
          "W_k")
    columns = {"max_logit": "logit", "grad_norm": "|g|", "ratio_qk": "dW/W",
               "sqrt_v_qk": "sqrt(v)", "norm_qk": "|W|"}
    for name, run in runs.items():
        for when, i in steps.items():
            print(f"{name} {when:<9}" + "".join(
                f"  {label} {run[k][i]:.3g}" for k, label in columns.items()))
    fig, axes = plt.subplots(2, 2, figsize=(8, 6), layout="constrained")
    panels = [
        ("max_logit", "max |q.k| / sqrt(d_head)"),
        ("grad_norm", "gradient norm"),
        ("ratio_qk", "||update|| / ||W||, W_q and W_k"),
        ("sqrt_v_qk", "median sqrt(v), W_q and W_k"),
    ]
    x = range(2, len(fast) + 2)
    for ax, (key, title) in zip(axes.flat, panels, strict=True):
        for (name, run), style in zip(runs.items(), ("-", "--"), strict=True):
            ax.plot(x, run[key], linestyle=style, label=name)
        ax.axvline(onset + 2, color="C3", linestyle=":", label="collapse")
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Attention-logit growth, 1 layer, d = 32, seed 0")
    plt.show()


if __name__ == "__main__":
    main()
