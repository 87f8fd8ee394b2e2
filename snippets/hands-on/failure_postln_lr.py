"""Failure case: a Post-LN Transformer fails at an lr where Pre-LN trains."""

import math

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

VOCAB, LENGTH = 16, 16


def counting_batch(batch: int, gen: torch.Generator) -> Tensor:
    """Rows s, s+k, s+2k, ... (mod VOCAB), random s and k in 1..4: shape (batch,
    LENGTH + 1)."""
    start = torch.randint(0, VOCAB, (batch, 1), generator=gen)
    step = torch.randint(1, 5, (batch, 1), generator=gen)
    return (start + step * torch.arange(LENGTH + 1)) % VOCAB


# --8<-- [start:model]
class TinyLM(nn.Module):
    """Causal Transformer stack; pre_ln=False gives LN(x + F(x)), True gives x +
    F(LN(x))."""

    def __init__(self, pre_ln: bool, layers: int = 8, d: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d)
        self.pos = nn.Parameter(0.02 * torch.randn(LENGTH, d))
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d,
                nhead=4,
                dim_feedforward=4 * d,
                dropout=0.0,
                batch_first=True,
                norm_first=pre_ln,
            )
            for _ in range(layers)
        )
        self.final_norm = (
            nn.LayerNorm(d) if pre_ln else nn.Identity()
        )  # Post-LN ends normed
        self.head = nn.Linear(d, VOCAB)
        self.register_buffer(
            "mask", nn.Transformer.generate_square_subsequent_mask(LENGTH)
        )

    def forward(self, tokens: Tensor) -> Tensor:
        h = self.embed(tokens) + self.pos
        for block in self.blocks:
            h = block(h, src_mask=self.mask, is_causal=True)
        return self.head(self.final_norm(h))
# --8<-- [end:model]


# --8<-- [start:train]
def train_lm(
    pre_ln: bool, lr: float, warmup: int = 0, steps: int = 150, seed: int = 0
) -> tuple[list[float], list[float]]:
    """Adam, batches of 32; linear warmup over `warmup` steps. Returns losses
    and grad norms."""
    torch.manual_seed(seed)
    model = TinyLM(pre_ln)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0
    )
    gen = torch.Generator().manual_seed(seed + 1)
    losses, norms = [], []
    for _ in range(steps):
        tokens = counting_batch(32, gen)
        logits = model(tokens[:, :-1])
        loss = nn.functional.cross_entropy(
            logits.reshape(-1, VOCAB), tokens[:, 1:].reshape(-1)
        )
        optimizer.zero_grad()
        loss.backward()
        norms.append(
            nn.utils.clip_grad_norm_(model.parameters(), math.inf).item()
        )  # log only
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses, norms
# --8<-- [end:train]


def loss_floor() -> float:
    """Best possible mean loss: only the first target (which k?) is uncertain,
    ln 4 nats."""
    return math.log(4) / LENGTH


def relapse(
    losses: list[float], level: float = 0.3
) -> tuple[int | None, float]:
    """First step (from 1) with loss below `level`, and the highest loss after
    it."""
    step = next((i for i, v in enumerate(losses, start=1) if v < level), None)
    return step, (max(losses[step - 1 :]) if step else math.nan)


def main() -> None:
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(
        1
    )  # unstable runs amplify rounding: pin the reduction order
    lr = 2e-2
    runs = {
        "Pre-LN, lr 2e-2": train_lm(True, lr),
        "Post-LN, lr 2e-2": train_lm(False, lr),
        "Post-LN, lr 2e-2, 75 warmup steps": train_lm(False, lr, warmup=75),
        "Post-LN, lr 2e-3": train_lm(False, lr / 10),
    }
    torch.set_num_threads(threads)
    print(
        f"ln(VOCAB) = {math.log(VOCAB):.4f} (uniform guess), "
        f"best possible {loss_floor():.4f}"
    )
    print(
        f"{'':<34} {'last-20':<8} {'first < 0.3':<12} {'highest':<8} "
        "max grad"
    )
    print(f"{'run':<34} {'mean':<8} {'at step':<12} {'after':<8} norm")
    for name, (losses, norms) in runs.items():
        step, spike = relapse(losses)
        first, after = (str(step), f"{spike:.3f}") if step else ("never", "-")
        print(
            f"{name:<34} {sum(losses[-20:]) / 20:<8.3f} {first:<12} "
            f"{after:<8} {max(norms):.3g}"
        )

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for (name, (losses, norms)), style in zip(
        runs.items(), ["-", "--", "-.", ":"], strict=True
    ):
        ax1.plot(range(1, len(losses) + 1), losses, linestyle=style, label=name)
        ax2.plot(range(1, len(norms) + 1), norms, linestyle=style, label=name)
    ax1.axhline(
        math.log(VOCAB),
        color="C7",
        linestyle=(0, (1, 3)),
        label=r"$\ln 16$ (uniform)",
    )
    ax1.set(
        title="Training loss",
        xlabel="step",
        ylabel="cross-entropy (nats)",
        yscale="log",
    )
    ax2.set(
        title="Total gradient norm (before the step)",
        xlabel="step",
        ylabel=r"$\|g\|_2$",
        yscale="log",
    )
    ax1.legend(fontsize="small")
    ax2.legend(fontsize="small")
    fig.suptitle(
        "8-layer Transformer stack, d = 32, Adam without warmup unless stated"
    )
    plt.show()


if __name__ == "__main__":
    main()
