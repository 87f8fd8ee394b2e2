"""Sanity checks for a freshly initialised network, before spending compute."""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn


def tanh_classifier(
    depth: int, width: int, n_in: int, classes: int, init: str
) -> nn.Sequential:
    """A deep tanh MLP; init = "default" (nn.Linear's) or "xavier-tanh"
    (gain 5/3, zero bias, output layer scaled by 0.01 so the first
    predictions are close to uniform)."""
    sizes = [n_in] + [width] * depth
    layers: list[nn.Module] = []
    for n_a, n_b in itertools.pairwise(sizes):
        layers += [nn.Linear(n_a, n_b), nn.Tanh()]
    head = nn.Linear(width, classes)
    model = nn.Sequential(*layers, head)
    if init == "xavier-tanh":
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(
                    m.weight, gain=nn.init.calculate_gain("tanh")
                )
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            head.weight.mul_(0.01)
    return model


# --8<-- [start:checks]
def sanity_report(
    model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, classes: int
) -> dict[str, tuple[float, bool]]:
    """Measure, at init, the things that should hold before training starts:
    name -> (value, ok)."""
    acts = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: acts.append(out.detach()))
        for m in model
        if isinstance(m, nn.Tanh | nn.ReLU)
    ]
    logits = model(x)
    for h in hooks:
        h.remove()
    loss = nn.functional.cross_entropy(logits, y)
    model.zero_grad()
    loss.backward()
    ratio = float(loss.detach()) / math.log(classes)
    stds = [float(a.std()) for a in acts]
    saturated = max(float((a.abs() > 0.99).float().mean()) for a in acts)
    hidden = [m for m in model if isinstance(m, nn.Linear)][:-1]
    grads = [float(m.weight.grad.double().norm()) for m in hidden]
    spread = max(grads) / min(grads) if min(grads) > 0 else math.inf
    finite = all(map(math.isfinite, grads))
    return {
        "initial loss / ln(classes)": (ratio, abs(ratio - 1) < 0.1),
        "smallest activation std": (min(stds), min(stds) > 0.1),
        "largest activation std": (max(stds), max(stds) < 10),
        "largest fraction saturated (|a| > 0.99)": (saturated, saturated < 0.5),
        "max/min hidden-layer gradient norm": (spread, spread < 100),
        "all gradients finite": (float(finite), finite),
    }


def overfits_one_batch(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 200
) -> tuple[float, float]:
    """Train on one small batch; a healthy model drives its loss to zero."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with torch.no_grad():
        first = float(nn.functional.cross_entropy(model(x), y))
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return first, float(loss.detach())
# --8<-- [end:checks]


def main() -> None:
    torch.manual_seed(0)
    depth, width, n_in, classes = 20, 64, 32, 10
    x = torch.randn(256, n_in)
    y = torch.randint(0, classes, (256,))
    for init in ["default", "xavier-tanh"]:
        torch.manual_seed(1)
        model = tanh_classifier(depth, width, n_in, classes, init)
        print(f"{depth}-layer tanh classifier, init = {init}")
        for name, (value, ok) in sanity_report(model, x, y, classes).items():
            print(f"  {'ok' if ok else 'FAIL':4s}  {name:40s} {value:.3g}")
        first, last = overfits_one_batch(model, x[:16], y[:16])
        print(
            f"  {'ok' if last < 0.1 * first else 'FAIL':4s}  "
            f"{'overfit 16 examples in 200 steps':40s} "
            f"loss {first:.3g} -> {last:.3g}"
        )


if __name__ == "__main__":
    main()
