"""DeepNorm: x_{l+1} = LN(alpha * x_l + G(x_l)), alpha and beta set by depth."""

from __future__ import annotations

import torch
from torch import Tensor, nn


# --8<-- [start:constants]
def deepnorm_constants(
    arch: str, n_enc: int = 0, n_dec: int = 0
) -> dict[str, tuple[float, float]]:
    """Published (alpha, beta) for each stack (Wang et al., 2022); N encoder, M
    decoder layers."""
    n, m = n_enc, n_dec
    if arch == "encoder-only":
        return {"encoder": ((2 * n) ** 0.25, (8 * n) ** -0.25)}
    if arch == "decoder-only":
        return {"decoder": ((2 * m) ** 0.25, (8 * m) ** -0.25)}
    if arch == "encoder-decoder":
        return {
            "encoder": (
                0.81 * (n**4 * m) ** (1 / 16),
                0.87 * (n**4 * m) ** (-1 / 16),
            ),
            "decoder": ((3 * m) ** 0.25, (12 * m) ** -0.25),
        }
    raise ValueError(f"unknown architecture {arch!r}")
# --8<-- [end:constants]


# --8<-- [start:layer]
def deepnorm(
    x: Tensor, sublayer_out: Tensor, alpha: float, norm: nn.LayerNorm
) -> Tensor:
    """Post-LN with an up-weighted shortcut: LN(alpha * x + G(x)). alpha = 1 is
    plain Post-LN."""
    return norm(alpha * x + sublayer_out)


def deepnorm_init_(linear: nn.Linear, beta: float) -> None:
    """Xavier normal with gain beta: for the FFN, value and output projections
    (q, k: gain 1)."""
    nn.init.xavier_normal_(linear.weight, gain=beta)
    nn.init.zeros_(linear.bias)
# --8<-- [end:layer]


def ffn_branch_share(
    alpha: float,
    beta: float,
    d: int = 64,
    rows: int = 4096,
    device: torch.device | str = "cpu",
) -> float:
    """At init, the share of Var(alpha x + G(x)) contributed by a ReLU FFN
    branch G, x ~ N(0, I)."""
    fc1, fc2 = (
        nn.Linear(d, 4 * d, device=device),
        nn.Linear(4 * d, d, device=device),
    )
    deepnorm_init_(fc1, beta)
    deepnorm_init_(fc2, beta)
    x = torch.randn(rows, d, device=device)
    with torch.no_grad():
        g = fc2(torch.relu(fc1(x)))
    return (g.var() / (alpha * x + g).var()).item()


def main() -> None:
    torch.manual_seed(0)
    print("published DeepNorm constants (alpha, beta):")
    print(f"{'encoder-decoder':>62}")
    print(
        f"  {'layers':<10} {'encoder-only':<16} {'decoder-only':<16} "
        f"{'encoder':<16} {'decoder'}"
    )
    for layers in [6, 12, 24, 48, 100, 500]:
        enc = deepnorm_constants("encoder-only", n_enc=layers)["encoder"]
        dec = deepnorm_constants("decoder-only", n_dec=layers)["decoder"]
        both = deepnorm_constants("encoder-decoder", n_enc=layers, n_dec=layers)
        cells = [enc, dec, both["encoder"], both["decoder"]]
        print(
            f"  {layers:<10} "
            + " ".join(f"{a:>6.3f}, {b:<8.3f}" for a, b in cells).rstrip()
        )
    print(
        f"  (500 + 500 layers = {2 * 500 + 3 * 500} sublayers, "
        "DeepNet's 1,000-layer model)"
    )

    print(
        "share of an FFN sublayer's output variance from the branch at init "
        "(d = 64):"
    )
    print("  decoder layers M   alpha    beta     branch share")
    post_ln = ffn_branch_share(1.0, 1.0)
    print(f"  Post-LN (any M)    1.000    1.000    {post_ln:.3e}")
    for m in [6, 24, 100, 1000]:
        alpha, beta = deepnorm_constants("decoder-only", n_dec=m)["decoder"]
        share = ffn_branch_share(alpha, beta)
        print(f"  {m:<18} {alpha:<8.3f} {beta:<8.3f} {share:.3e}")


if __name__ == "__main__":
    main()
