"""What LLM recipes use: AdamW groups and decay, bytes, Muon, Adafactor."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn


class TinyLM(nn.Module):
    """Embedding, one pre-LN Transformer block, final LayerNorm, tied head."""

    def __init__(self, vocab: int = 64, d: int = 32) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.block = nn.TransformerEncoderLayer(
            d, nhead=4, dim_feedforward=4 * d, batch_first=True, norm_first=True
        )
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.emb.weight  # tied, as in GPT-2

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(self.ln_f(self.block(self.emb(idx))))


# --8<-- [start:configure]
def configure_optimizers(
    model: nn.Module,
    weight_decay: float,
    lr: float,
    betas: tuple[float, float],
) -> torch.optim.AdamW:
    """AdamW with decay on matrices and embeddings (dim >= 2) only; biases
    and norm gains (dim < 2) are not decayed."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2],
         "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)
# --8<-- [end:configure]


# --8<-- [start:decay]
def decay_per_step(lr: float, weight_decay: float) -> float:
    """1 - p1/p0 after one AdamW step with a zero gradient (Adam's part of
    the step is then exactly zero, only the decay acts)."""
    p = nn.Parameter(torch.ones(1, dtype=torch.float64))
    opt = torch.optim.AdamW([p], lr=lr, weight_decay=weight_decay)
    p.grad = torch.zeros_like(p)
    opt.step()
    return 1 - p.item()


def max_difference(make_a: Callable, make_b: Callable, steps: int = 5) -> float:
    """Largest parameter difference after `steps` steps of two optimizers
    from the same start on the same gradients."""
    torch.manual_seed(0)
    a = nn.Parameter(torch.randn(16, 8, dtype=torch.float64))
    b = nn.Parameter(a.detach().clone())
    opt_a, opt_b = make_a([a]), make_b([b])
    for _ in range(steps):
        g = torch.randn_like(a)
        a.grad, b.grad = g.clone(), g.clone()
        opt_a.step()
        opt_b.step()
    return (a - b).abs().max().item()
# --8<-- [end:decay]


# --8<-- [start:bytes]
def bytes_per_parameter(setup: str) -> dict[str, float]:
    """Bytes per parameter of each buffer a training step keeps, read from
    the element sizes of the real tensors after one step."""
    torch.manual_seed(0)
    model = nn.Linear(64, 64)
    if setup.startswith("bf16"):
        model = model.bfloat16()
    params = list(model.parameters())
    model(torch.randn(4, 64, dtype=params[0].dtype)).square().mean().backward()
    master = params
    if setup == "bf16 + fp32 master":
        # fp32 copies of the weights take the update
        master = [p.detach().float() for p in params]
        for m, p in zip(master, params, strict=True):
            m.grad = p.grad.float()
    opt = torch.optim.AdamW(master, lr=1e-3, weight_decay=0.1)
    opt.step()
    if master is not params:
        with torch.no_grad():
            for m, p in zip(master, params, strict=True):
                p.copy_(m)  # the bf16 weights are recast from the fp32 copies
                m.grad = None  # the fp32 gradient lives only during the step
    n = sum(p.numel() for p in params)

    def size(tensors: list[torch.Tensor]) -> float:
        return sum(t.numel() * t.element_size() for t in tensors) / n

    return {
        "weights": size(params),
        "grads": size([p.grad for p in params]),
        "master": size(master) if master is not params else 0.0,
        "m": size([opt.state[m]["exp_avg"] for m in master]),
        "v": size([opt.state[m]["exp_avg_sq"] for m in master]),
    }
# --8<-- [end:bytes]


# --8<-- [start:muon]
def muon_step(
    rows: int = 64, cols: int = 32
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Singular values of a gradient and of Muon's update for it, and the
    names of Muon's state."""
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(rows, cols) / cols**0.5)
    # a gradient whose singular values span about two orders of magnitude
    g = torch.randn(rows, cols) @ torch.diag(torch.logspace(0, -2, cols))
    lr = 0.02
    opt = torch.optim.Muon([w], lr=lr, weight_decay=0.0)
    w0 = w.detach().clone()
    w.grad = g
    opt.step()
    # Muon scales the orthogonalized update by sqrt(max(1, rows / cols))
    update = (w0 - w.detach()) / (lr * max(1, rows / cols) ** 0.5)
    sv_g, sv_u = torch.linalg.svdvals(g), torch.linalg.svdvals(update)
    return sv_g, sv_u, sorted(opt.state[w])
# --8<-- [end:muon]


# --8<-- [start:adafactor]
def tensor_state(opt_class: type, rows: int, cols: int) -> dict[str, tuple]:
    """Shapes of the optimizer's tensor state for one matrix, after a step
    (the scalar step counter left out)."""
    w = nn.Parameter(torch.zeros(rows, cols))
    opt = opt_class([w])
    w.grad = torch.ones(rows, cols)
    opt.step()
    return {k: tuple(t.shape) for k, t in opt.state[w].items() if t.dim() > 0}
# --8<-- [end:adafactor]


def main() -> None:
    torch.manual_seed(0)
    model = TinyLM()
    opt = configure_optimizers(
        model, weight_decay=0.1, lr=6e-4, betas=(0.9, 0.95)
    )
    names = ("decay", "no decay")
    for name, group in zip(names, opt.param_groups, strict=True):
        n = sum(p.numel() for p in group["params"])
        print(
            f"{name:8s}: {len(group['params']):2d} tensors, {n:5d} parameters, "
            f"weight_decay {group['weight_decay']}, betas {group['betas']}"
        )

    print("\nAdamW, one step with a zero gradient:")
    for lr in (6e-4, 3e-4):
        print(
            f"  lr {lr:.0e}, weight_decay 0.1: "
            f"1 - p1/p0 = {decay_per_step(lr, 0.1):.2e}"
        )
    adamw = partial(torch.optim.AdamW, lr=1e-2, weight_decay=0.1)
    for label, adam in (
        ("decoupled_weight_decay=True", dict(decoupled_weight_decay=True)),
        ("decoupled_weight_decay=False", {}),
    ):
        other = partial(torch.optim.Adam, lr=1e-2, weight_decay=0.1, **adam)
        diff = max_difference(adamw, other)
        print(f"Adam({label}) vs AdamW: max diff {diff:.1e}")

    print("\nbytes per parameter (element_size of the tensors after one step)")
    cols = ("weights", "grads", "master", "m", "v")
    print(f"{'setup':20s}" + "".join(f"{c:>8s}" for c in cols) + "   total")
    for setup in ("fp32", "bf16 + fp32 master", "bf16 only"):
        b = bytes_per_parameter(setup)
        print(
            f"{setup:20s}" + "".join(f"{b[c]:8.0f}" for c in cols)
            + f"{sum(b.values()):8.0f}"
        )

    print("\nMuon:")
    try:
        torch.optim.Muon([nn.Parameter(torch.zeros(8))])
    except ValueError as error:
        message = str(error).split(" whereas")[0]
        print(f"  a 1-D parameter: ValueError: {message}")
    sv_g, sv_u, state = muon_step()
    print(f"  state per matrix: {', '.join(state)}")
    for name, sv in (("gradient", sv_g), ("update", sv_u)):
        print(
            f"  {name:8s} singular values {sv.min():.2g} to {sv.max():.2g}"
            f" (ratio {sv.max() / sv.min():.3g})"
        )

    print("\noptimizer state for a 256 x 128 matrix:")
    numbers = {}
    for opt_class in (torch.optim.Adam, torch.optim.Adafactor):
        shapes = tensor_state(opt_class, 256, 128)
        numbers[opt_class] = sum(torch.Size(s).numel() for s in shapes.values())
        listed = ", ".join(f"{k} {s}" for k, s in sorted(shapes.items()))
        print(f"  {opt_class.__name__:9s}: {listed}: {numbers[opt_class]}")
    ratio = numbers[torch.optim.Adafactor] / numbers[torch.optim.Adam]
    print(f"  Adafactor / Adam: {ratio:.2%}")


if __name__ == "__main__":
    main()
