"""Per-layer grad norms of a Transformer at init: Post-LN, Pre-LN, DeepNorm."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.ticker import NullFormatter
from torch import Tensor, nn


# --8<-- [start:model]
class Block(nn.Module):
    """One Transformer layer: causal self-attention, then a ReLU FFN, each with
    a residual."""

    def __init__(
        self, d: int, heads: int, pre_ln: bool, alpha: float = 1.0
    ) -> None:
        super().__init__()
        self.pre_ln, self.alpha, self.heads = pre_ln, alpha, heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)

    def attention(self, x: Tensor) -> Tensor:
        b, t, d = x.shape
        q, k, v = (
            z.view(b, t, self.heads, d // self.heads).transpose(1, 2)
            for z in (self.q(x), self.k(x), self.v(x))
        )
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o(out.transpose(1, 2).reshape(b, t, d))

    def ffn(self, x: Tensor) -> Tensor:
        return self.fc2(torch.relu(self.fc1(x)))

    def forward(self, x: Tensor) -> Tensor:
        if self.pre_ln:  # Pre-LN: x + F(LN(x))
            x = x + self.attention(self.ln1(x))
            return x + self.ffn(self.ln2(x))
        x = self.ln1(
            self.alpha * x + self.attention(x)
        )  # Post-LN: LN(x + F(x)), alpha = 1
        return self.ln2(
            self.alpha * x + self.ffn(x)
        )  # DeepNorm: LN(alpha x + F(x))


class TinyLM(nn.Module):
    """Token + position embeddings, `layers` blocks, a final LayerNorm for
    Pre-LN, a linear head."""

    def __init__(
        self,
        vocab: int,
        d: int,
        layers: int,
        heads: int,
        max_len: int,
        norm: str,
        init: str = "xavier",
    ) -> None:
        super().__init__()
        assert norm in ("post", "pre", "deepnorm") and init in (
            "xavier",
            "default",
        )
        assert not (norm == "deepnorm" and init != "xavier"), (
            "DeepNorm scales the Xavier init"
        )
        # DeepNorm, decoder-only: alpha = (2L)^(1/4), beta = (8L)^(-1/4)  (Wang
        # et al., 2022)
        deep = norm == "deepnorm"
        alpha, beta = (
            ((2 * layers) ** 0.25, (8 * layers) ** -0.25)
            if deep
            else (1.0, 1.0)
        )
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(
            Block(d, heads, norm == "pre", alpha) for _ in range(layers)
        )
        self.final_ln = nn.LayerNorm(d) if norm == "pre" else nn.Identity()
        self.head = nn.Linear(d, vocab)
        if (
            init == "xavier"
        ):  # as in Xiong et al. (2020) and DeepNet; else PyTorch's default
            for name, module in self.named_modules():
                if isinstance(module, nn.Linear):
                    scaled = name.rsplit(".", 1)[-1] in ("v", "o", "fc1", "fc2")
                    nn.init.xavier_normal_(
                        module.weight, gain=beta if scaled else 1.0
                    )
                    nn.init.zeros_(module.bias)

    def forward(self, idx: Tensor) -> Tensor:
        x = self.tok(idx) + self.pos(
            torch.arange(idx.shape[1], device=idx.device)
        )
        for block in self.blocks:
            x = block(x)
        return self.head(self.final_ln(x))
# --8<-- [end:model]


# --8<-- [start:grads]
def ffn_grad_norms(model: TinyLM, idx: Tensor, targets: Tensor) -> list[float]:
    """||dL/dW2|| of each layer's second FFN weight (the one Xiong et al.'s
    theorem is about)."""
    model.zero_grad()
    logits = model(idx)
    F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    ).backward()
    return [block.fc2.weight.grad.norm().item() for block in model.blocks]


def mean_ffn_grad_norms(
    norm: str,
    layers: int,
    init: str = "xavier",
    seeds: range = range(6),
    d: int = 64,
    vocab: int = 64,
    batch: int = 8,
    seq: int = 32,
    device: torch.device | str = "cpu",
) -> list[float]:
    """ffn_grad_norms averaged over random models (one per seed), each on random
    tokens."""
    total = torch.zeros(layers)
    for seed in seeds:
        torch.manual_seed(seed)
        model = TinyLM(vocab, d, layers, 4, seq, norm, init).to(device)
        idx, targets = (
            torch.randint(vocab, (batch, seq), device=device) for _ in range(2)
        )
        total += torch.tensor(ffn_grad_norms(model, idx, targets))
    return (total / len(seeds)).tolist()
# --8<-- [end:grads]


# --8<-- [start:factors]
def ffn_grad_factors(
    model: TinyLM, idx: Tensor, targets: Tensor
) -> tuple[list[float], list[float]]:
    """Per layer, the two factors of dL/dW2 = delta^T h: ||h||, the input of
    fc2 (the FFN's hidden activations), and ||delta||, the gradient at its
    output."""
    hidden, outputs = [], []

    def keep(_: nn.Module, inputs: tuple[Tensor], out: Tensor) -> None:
        hidden.append(inputs[0].detach())
        out.retain_grad()
        outputs.append(out)

    hooks = [block.fc2.register_forward_hook(keep) for block in model.blocks]
    model.zero_grad()
    logits = model(idx)
    F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    ).backward()
    for hook in hooks:
        hook.remove()
    return (
        [h.norm().item() for h in hidden],
        [out.grad.norm().item() for out in outputs],
    )
# --8<-- [end:factors]


def main() -> None:
    torch.manual_seed(0)
    layers = 12
    labels = {"post": "Post-LN", "pre": "Pre-LN", "deepnorm": "DeepNorm"}
    _, ax1 = plt.subplots(figsize=(7, 4), layout="constrained")
    print(
        f"||dL/dW2|| per layer, {layers} layers, d = 64, Xavier init, "
        "mean of 12 models:"
    )
    profile = {}
    for norm, marker in zip(labels, "osD", strict=True):
        norms = mean_ffn_grad_norms(norm, layers, seeds=range(12))
        profile[norm] = norms
        ax1.semilogy(
            range(1, layers + 1), norms, marker=marker, label=labels[norm]
        )
    header = "".join(f"{name:<10}" for name in labels.values())
    print(f"  layer   {header.rstrip()}")
    for layer, row in enumerate(zip(*profile.values(), strict=True), 1):
        print(f"  {layer:<7} " + "".join(f"{g:<10.3f}" for g in row).rstrip())
    alpha, beta = (2 * layers) ** 0.25, (8 * layers) ** -0.25
    hidden = {}
    for norm in ("post", "deepnorm"):
        total = torch.zeros(layers)
        for seed in range(6):
            torch.manual_seed(seed)
            model = TinyLM(64, 64, layers, 4, 32, norm)
            idx, targets = (torch.randint(64, (8, 32)) for _ in range(2))
            total += torch.tensor(ffn_grad_factors(model, idx, targets)[0])
        hidden[norm] = total
    ratio = torch.tensor(profile["deepnorm"]) / torch.tensor(profile["post"])
    h_ratio = hidden["deepnorm"] / hidden["post"]
    print(
        f"DeepNorm / Post-LN, range over the {layers} layers "
        f"(alpha = {alpha:.3f}, beta = {beta:.3f}):"
    )
    print(
        f"  ||dL/dW2||                        {ratio.min():.3f} to "
        f"{ratio.max():.3f}   beta/alpha = {beta / alpha:.3f}"
    )
    print(
        f"  ||h||, FFN hidden (W2's input)    {h_ratio.min():.3f} to "
        f"{h_ratio.max():.3f}   beta = {beta:.3f}"
    )
    ax1.set_xlabel("layer (1 = next to the embeddings)")
    ax1.set_ylabel(r"$\|\partial L / \partial W_2\|_F$ of the FFN")
    ax1.set_title(
        f"Gradient per layer at initialisation, {layers}-layer Transformer, "
        "Xavier init"
    )
    ax1.legend()

    depths = [6, 12, 24, 48]
    fig2, ax2 = plt.subplots(figsize=(8.5, 4), layout="constrained")
    print("||dL/dW2|| of the last layer vs depth L, mean of 6 models:")
    print(
        "  init     norm     "
        + " ".join(f"L = {n:<4}" for n in depths)
        + "  L=48 / L=6"
    )
    for init, style in [("xavier", "-"), ("default", "--")]:
        for norm, marker, color in [("post", "o", "C0"), ("pre", "s", "C1")]:
            last = [
                mean_ffn_grad_norms(norm, n, init, seeds=range(6))[-1]
                for n in depths
            ]
            print(
                f"  {init:<8} {labels[norm]:<8} "
                + " ".join(f"{g:<8.3f}" for g in last)
                + f"  {last[-1] / last[0]:.3f}"
            )
            ax2.loglog(
                depths,
                last,
                marker=marker,
                linestyle=style,
                color=color,
                label=f"{labels[norm]}, {init} init",
            )
            if (init, norm) == ("xavier", "pre"):
                ax2.loglog(
                    depths,
                    [last[0] * (6 / n) ** 0.5 for n in depths],
                    color="C4",
                    linestyle=":",
                    label=r"$\propto 1/\sqrt{L}$ (Xiong et al.)",
                )
    ax2.set_xticks(depths, [str(n) for n in depths])
    ax2.xaxis.set_minor_formatter(NullFormatter())
    ax2.set_xlabel("number of layers L")
    ax2.set_ylabel(r"last layer's $\|\partial L / \partial W_2\|_F$")
    ax2.set_title("Last-layer FFN gradient at initialisation vs depth")
    fig2.legend(fontsize=8, loc="outside right upper")
    print(f"1/sqrt(L) from 6 to 48 layers: {(6 / 48) ** 0.5:.3f}")
    plt.show()


if __name__ == "__main__":
    main()
