"""Checks for deepnorm.py: the published constants against closed forms, the layer."""

from __future__ import annotations

import math

import deepnorm as dn
import pytest
import torch
from sitecheck import expanded_page
from torch import nn

DEPTHS = [1, 6, 12, 18, 24, 100, 500, 1000]


def fourth_power(x):
    return x * x * x * x


@pytest.mark.parametrize("layers", DEPTHS)
def test_single_stack_constants(layers):
    """Encoder-only and decoder-only: alpha^4 = 2L and beta^4 = 1/(8L), i.e. for S = 2L sublayers
    alpha^4 = S and beta^4 = 1/(4S); hence S * 2 beta^2 / alpha^2 = 1 and alpha beta = 2^(-1/2)."""
    for arch, key, kw in [
        ("encoder-only", "encoder", {"n_enc": layers}),
        ("decoder-only", "decoder", {"n_dec": layers}),
    ]:
        alpha, beta = dn.deepnorm_constants(arch, **kw)[key]
        s = 2 * layers
        assert fourth_power(alpha) == pytest.approx(s, rel=1e-12)
        assert fourth_power(beta) == pytest.approx(1 / (4 * s), rel=1e-12)
        assert s * 2 * beta**2 / alpha**2 == pytest.approx(1.0, rel=1e-12)
        assert alpha * beta == pytest.approx(2**-0.5, rel=1e-12)


@pytest.mark.parametrize("n", [6, 12, 18, 100, 500])
@pytest.mark.parametrize("m", [6, 12, 18, 100, 500])
def test_encoder_decoder_constants(n, m):
    both = dn.deepnorm_constants("encoder-decoder", n_enc=n, n_dec=m)
    alpha_d, beta_d = both["decoder"]
    assert fourth_power(alpha_d) == pytest.approx(3 * m, rel=1e-12)  # 3 sublayers per layer
    assert fourth_power(beta_d) == pytest.approx(1 / (12 * m), rel=1e-12)
    # encoder: the rounded 0.81 and 0.87 are 27^(-1/16) and (27/256)^(1/16), computed via logs
    alpha_e, beta_e = both["encoder"]
    log_nm = 4 * math.log(n) + math.log(m)
    alpha_closed = math.exp((log_nm - math.log(27)) / 16)
    beta_closed = math.exp((math.log(27) - math.log(256) - log_nm) / 16)
    assert alpha_e == pytest.approx(alpha_closed, rel=0.005)
    assert beta_e == pytest.approx(beta_closed, rel=0.002)
    assert alpha_closed * beta_closed == pytest.approx(2**-0.5, rel=1e-12)
    # and the encoder's alpha^4 is N times (3M)^(1/4) / 3: N / 3 times the decoder's alpha
    assert fourth_power(alpha_closed) == pytest.approx(n * alpha_d / 3, rel=1e-12)


def test_rounded_constants_quoted_on_the_page():
    """The page's reading of the encoder-decoder encoder constants: 0.81 and 0.87 (what the
    snippet uses, seen at N = M = 1) are rounded 27^(-1/16) and (27/256)^(1/16)."""
    alpha, beta = dn.deepnorm_constants("encoder-decoder", n_enc=1, n_dec=1)["encoder"]
    assert (alpha, beta) == pytest.approx((0.81, 0.87), rel=1e-12)
    page = " ".join(expanded_page("docs/fixes/pre-post-ln.md").split())
    closed = 27 ** (-1 / 16), (27 / 256) ** (1 / 16)
    assert f"{closed[0]:.2f}" == f"{alpha:.2f}" and f"{closed[1]:.2f}" == f"{beta:.2f}"
    assert (
        f"${alpha:.2f} \\approx 27^{{-1/16}} = {closed[0]:.4f}$ and "
        f"${beta:.2f} \\approx (27/256)^{{1/16}} = {closed[1]:.4f}$, with "
        f"${alpha:.2f} \\times {beta:.2f} = {alpha * beta:.4f} \\approx 2^{{-1/2}} = {2**-0.5:.4f}$"
    ) in page


def test_unknown_architecture_raises():
    with pytest.raises(ValueError):
        dn.deepnorm_constants("decoder-encoder", 6, 6)


def test_deepnorm_layer(device):
    torch.manual_seed(0)
    ln = nn.LayerNorm(16).to(device)
    x, g = torch.randn(4, 16, device=device), torch.randn(4, 16, device=device)
    torch.testing.assert_close(dn.deepnorm(x, g, 1.0, ln), ln(x + g))  # alpha = 1: Post-LN
    torch.testing.assert_close(dn.deepnorm(x, g, 3.0, ln), ln(3.0 * x + g))
    # with a zero branch the sublayer is LN(alpha x) = LN(x): alpha does not matter
    zero = torch.zeros_like(x)
    torch.testing.assert_close(dn.deepnorm(x, zero, 3.0, ln), ln(x), atol=1e-4, rtol=0)  # eps


def test_deepnorm_init_scales_xavier_by_beta(device):
    torch.manual_seed(1)
    layer = nn.Linear(512, 256, device=device)
    dn.deepnorm_init_(layer, 0.3)
    assert layer.weight.std().item() == pytest.approx(0.3 * math.sqrt(2 / (512 + 256)), rel=0.02)
    assert torch.count_nonzero(layer.bias) == 0


@pytest.mark.parametrize("m", [None, 6, 24])
def test_branch_share_matches_closed_form(m, device):
    """G = fc2 relu(fc1 x) with Xavier gain beta: Var(G) = 0.32 beta^4 for d -> 4d -> d."""
    alpha, beta = (
        (1.0, 1.0) if m is None else dn.deepnorm_constants("decoder-only", n_dec=m)["decoder"]
    )
    var_g = 0.32 * beta**4  # 0.4 beta^2 before the ReLU, half of it after, times 0.8 beta^2
    closed = var_g / (alpha**2 + var_g)
    shares = []
    for seed in range(4):
        torch.manual_seed(seed)
        shares.append(dn.ffn_branch_share(alpha, beta, device=device))
    assert sum(shares) / len(shares) == pytest.approx(closed, rel=0.15)
