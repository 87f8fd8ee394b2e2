"""How many Transformer gradients float16 loses, with and without scaling."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn

VOCAB, D_MODEL, SEQ = 64, 64, 32


class TinyLM(nn.Module):
    """Embedding, two pre-LN Transformer layers (d = 64, 4 heads, no biases),
    linear read-out."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, D_MODEL)
        self.pos = nn.Parameter(0.02 * torch.randn(SEQ, D_MODEL))
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                D_MODEL,
                4,
                4 * D_MODEL,
                dropout=0.0,
                batch_first=True,
                norm_first=True,
                bias=False,
            )
            for _ in range(2)
        )
        self.out = nn.Linear(D_MODEL, VOCAB)
        self.activations: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(
            x.shape[1], device=x.device
        )
        h = self.emb(x) + self.pos
        self.activations = []
        for block in self.blocks:
            h = block(h, src_mask=mask, is_causal=True)
            if h.requires_grad:
                h.retain_grad()  # keep the gradient w.r.t. each block's output
            self.activations.append(h)
        return self.out(h)


def markov_batch(
    trans: torch.Tensor,
    batch: int,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token sequences from a fixed Markov chain: inputs and next-token targets,
    (batch, SEQ)."""
    x = torch.empty(batch, SEQ + 1, dtype=torch.long)
    x[:, 0] = torch.randint(0, VOCAB, (batch,), generator=gen)
    for t in range(SEQ):
        x[:, t + 1] = torch.multinomial(
            trans[x[:, t]], 1, generator=gen
        ).squeeze(1)
    return x[:, :-1], x[:, 1:]


def train_lm(
    steps: int = 200, seed: int = 0
) -> tuple[TinyLM, torch.Tensor, torch.Generator]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    trans = torch.softmax(3 * torch.randn(VOCAB, VOCAB, generator=gen), dim=1)
    model = TinyLM()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        x, y = markov_batch(trans, 16, gen)
        loss = nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, trans, gen


# --8<-- [start:fate]
def gradients(
    model: TinyLM,
    x: torch.Tensor,
    y: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nonzero float32 gradients: of the parameters, and of the blocks' outputs
    (activations)."""
    model.zero_grad()
    nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten()).backward()
    params = torch.cat([p.grad.flatten() for p in model.parameters()])
    acts = torch.cat([h.grad.flatten() for h in model.activations])
    return params[params != 0], acts[acts != 0]


def fate_in(
    values: torch.Tensor, dtype: torch.dtype, scale: float = 1.0
) -> dict[str, float]:
    """Fractions of values that become 0, subnormal, or inf when (scale *
    values) is cast."""
    cast = (values * scale).to(dtype)
    tiny = torch.finfo(dtype).tiny  # the smallest normal number
    return {
        "zero": (cast == 0).float().mean().item(),
        "subnormal": ((cast != 0) & (cast.abs() < tiny)).float().mean().item(),
        "inf": cast.isinf().float().mean().item(),
    }
# --8<-- [end:fate]


def main() -> None:
    torch.manual_seed(0)
    model, trans, gen = train_lm()
    print(
        f"TinyLM: {sum(p.numel() for p in model.parameters())} parameters, "
        f"trained 200 steps on 16 x {SEQ} tokens"
    )
    scale = 2.0**16
    print(
        f"{'batch':>5} {'gradients':11s} {'cast to':10s} {'scale':>6}  "
        f"{'-> 0':>7} {'subnormal':>9} {'-> inf':>7}"
    )
    for batch in (16, 256):
        x, y = markov_batch(trans, batch, gen)
        param_g, act_g = gradients(model, x, y)
        for name, g in (("parameters", param_g), ("activations", act_g)):
            for dtype, s in (
                (torch.float16, 1.0),
                (torch.float16, scale),
                (torch.bfloat16, 1.0),
            ):
                f = fate_in(g, dtype, s)
                print(
                    f"{batch:5d} {name:11s} {str(dtype)[6:]:10s} {s:6.0f}  "
                    f"{f['zero']:7.2%} {f['subnormal']:9.2%} {f['inf']:7.2%}"
                )
        if batch == 256:
            hist = (param_g.abs(), act_g.abs())
    print(
        f"median |gradient| at batch 256: parameters {hist[0].median():.1e}, "
        f"activations {hist[1].median():.1e}"
    )

    fp16 = torch.finfo(torch.float16)
    _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    bins = torch.logspace(-12, 6, 91).tolist()
    ax.hist(
        hist[1].tolist(),
        bins=bins,
        histtype="step",
        linewidth=1.5,
        label="activation gradients",
    )
    ax.hist(
        hist[0].tolist(),
        bins=bins,
        histtype="step",
        linewidth=1.5,
        linestyle="-.",
        label="parameter gradients",
    )
    ax.hist(
        (hist[1] * scale).tolist(),
        bins=bins,
        histtype="step",
        linewidth=1.5,
        linestyle="--",
        label=r"activation gradients $\times 2^{16}$",
    )
    ax.axvspan(
        1e-12,
        fp16.smallest_normal * fp16.eps / 2,
        color="C3",
        alpha=0.15,
        label="float16 rounds to 0",
    )
    ax.axvline(
        fp16.smallest_normal,
        color="C7",
        linestyle=":",
        label="float16 smallest normal",
    )
    ax.axvline(fp16.max, color="C3", linestyle="-", label="float16 max 65504")
    ax.set(
        xscale="log",
        xlabel="|gradient element|",
        ylabel="count",
        title="TinyLM gradients (batch 256) against the float16 range",
    )
    ax.legend(fontsize=8, loc="upper left")
    plt.show()


if __name__ == "__main__":
    main()
