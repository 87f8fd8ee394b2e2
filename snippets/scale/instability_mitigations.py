"""Which mitigations stop attention-logit growth at a high learning rate."""

from __future__ import annotations

from dataclasses import replace

import torch
from instability_logits import COLLAPSED, SEEDS, Config, summary, train

# --8<-- [start:runs]
FAILING = Config(lr=0.1)  # AdamW defaults: beta2 = 0.999, eps = 1e-8
MITIGATIONS = {
    "none (lr 0.1)": FAILING,
    "QK-LayerNorm": replace(FAILING, qk_norm=True),
    "z-loss 1e-4": replace(FAILING, z_loss=1e-4),
    "beta2 0.95": replace(FAILING, beta2=0.95),
    "eps 1e-15": replace(FAILING, eps=1e-15),
    "clip norm 0.1": replace(FAILING, clip=0.1),
    "warmup 50": replace(FAILING, warmup=50),
}
# --8<-- [end:runs]


def main() -> None:
    torch.manual_seed(0)
    print(f"failing run: lr {FAILING.lr:g}, AdamW beta2 {FAILING.beta2:g}, "
          f"eps {FAILING.eps:g}, {FAILING.steps} steps, seeds {SEEDS}")
    for name, cfg in MITIGATIONS.items():
        history = train(cfg)
        s = summary(history)
        first = s["first_collapse"].float().median()
        first_text = f"{first:.0f}" if s["collapsed"].all() else "-"
        print(f"{name:<14} loss {s['final_loss'].mean():.2f}"
              f"  max logit {s['max_logit'].median():.3g}"
              f"  |log Z| {history['log_z'][-20:].mean():.2f}"
              f"  first {first_text}  collapsed {int(s['collapsed'].sum())}/3")
    print("(mean loss and median max attention logit over seeds; |log Z|: mean")
    print(" over seeds and the last 20 steps; first: median step at which a")
    print(f" logit passed {COLLAPSED:g})")


if __name__ == "__main__":
    main()
