"""Checks for norm_depth_grads.py: per-layer gradients of a deep MLP with normalization."""

from __future__ import annotations

import math

import norm_depth_grads as ndg
import numpy as np
import pytest
import torch
from sitecheck import expanded_page
from torch import nn


def grads_for(norm, activation, seed=0, device="cpu"):
    torch.manual_seed(seed)
    model = ndg.deep_mlp(norm, activation).to(device)
    x, y = torch.randn(128, 64), torch.randn(128, 1)
    return ndg.per_layer_grad_norms(model, x.to(device), y.to(device))


def gaussian_expectation(f):
    u = np.linspace(-12, 12, 240_001)
    p = np.exp(-(u**2) / 2) / math.sqrt(2 * math.pi)
    return float(np.sum(f(u) * p) * (u[1] - u[0]))


@pytest.mark.parametrize("activation", [nn.Tanh, nn.ReLU])
def test_plain_net_vanishes_and_weight_norm_at_torch_init_is_the_same_net(activation, device):
    plain = grads_for("none", activation, device=device)
    assert len(plain) == 50
    assert plain[0] / plain[-1] < 1e-8
    torch.manual_seed(0)
    a = ndg.deep_mlp("none", activation).to(device)
    torch.manual_seed(0)
    b = ndg.deep_mlp("weight_norm", activation).to(device)
    x = torch.randn(16, 64, device=device)
    torch.testing.assert_close(a(x), b(x), rtol=1e-5, atol=1e-6)


def test_weight_norm_gradient_is_the_projected_weight_gradient(device):
    """With g = ||v||: dL/dv = dL/dw - v_hat (v_hat . dL/dw), row by row."""
    torch.manual_seed(0)
    plain = ndg.deep_mlp("none", nn.Tanh, depth=3, width=8).double().to(device)
    torch.manual_seed(0)
    wn = ndg.deep_mlp("weight_norm", nn.Tanh, depth=3, width=8).double().to(device)
    x = torch.randn(5, 8, dtype=torch.float64, device=device)
    y = torch.randn(5, 1, dtype=torch.float64, device=device)
    ndg.per_layer_grad_norms(plain, x, y)
    ndg.per_layer_grad_norms(wn, x, y)
    lin_p = [m for m in plain if isinstance(m, nn.Linear)][:-1]
    lin_w = [m for m in wn if isinstance(m, nn.Linear)][:-1]
    for p, w in zip(lin_p, lin_w, strict=True):
        gw = p.weight.grad
        v = w.parametrizations.weight.original1
        v_hat = v / v.norm(dim=1, keepdim=True)
        expected = gw - v_hat * (v_hat * gw).sum(dim=1, keepdim=True)
        torch.testing.assert_close(v.grad, expected, rtol=1e-5, atol=1e-7)  # g rounded in fp32


def test_layer_norm_tanh_gain_matches_mean_field_prediction(device):
    """Per layer, |dL/dW| grows by sqrt(E[tanh'(u)^2] / E[tanh(u)^2] * (D-2)/D), u ~ N(0, 1)."""
    ratio = gaussian_expectation(lambda u: (1 - np.tanh(u) ** 2) ** 2) / gaussian_expectation(
        lambda u: np.tanh(u) ** 2
    )
    predicted = math.sqrt(ratio * 62 / 64)
    gains = []
    for seed in range(3):
        g = grads_for("layer_norm", nn.Tanh, seed=seed, device=device)
        gains.append((g[1] / g[-1]) ** (1 / (len(g) - 2)))  # layers 2..50 (layer 1 sees raw x)
    assert abs(float(np.mean(gains)) - predicted) < 0.03
    page = " ".join(expanded_page("docs/fixes/normalization.md").split())  # what the page quotes
    assert f"The ratio of expectations is {ratio:.3f}, the factor {predicted:.3f} per layer" in page
    assert predicted > 1  # so LayerNorm + tanh grows mildly toward the input


@pytest.mark.parametrize("activation", [nn.Tanh, nn.ReLU])
def test_activation_normalizations_remove_the_vanishing(activation, device):
    for norm in ["batch_norm", "layer_norm", "rms_norm"]:
        g = grads_for(norm, activation, device=device)
        assert g[0] / g[-1] > 0.1, norm
    # BatchNorm's gradients grow toward the input at initialisation (Yang et al., 2019)
    g = grads_for("batch_norm", activation, device=device)
    assert g[0] / g[-1] > 10


def test_layer_and_rms_norm_with_relu_stay_level(device):
    for norm in ["layer_norm", "rms_norm"]:
        g = grads_for(norm, nn.ReLU, device=device)
        assert 0.2 < g[0] / g[-1] < 5, norm


def test_weight_norm_g1_with_tanh_stays_within_an_order_of_magnitude(device):
    g = grads_for("weight_norm_g1", nn.Tanh, device=device)
    assert 0.05 < g[0] / g[-1] < 20
    assert max(g) / min(g) < 100
