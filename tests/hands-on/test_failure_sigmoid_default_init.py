"""Checks for failure_sigmoid_default_init.py: vanishing gradients, and the fix."""

from __future__ import annotations

import math

import failure_sigmoid_default_init as fs
import pytest
import torch
from torch import nn

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


@pytest.fixture(scope="module")
def data():
    return fs.teacher_data(256, torch.Generator().manual_seed(0))


def _ratio(act, init, data, device):
    torch.manual_seed(0)
    model = fs.deep_mlp(act, init).to(device)
    x, y = data
    norms = fs.weight_grad_norms(model, x.to(device), y.to(device))
    assert len(norms) == 20
    return norms[0] / norms[-1]


def test_init_schemes_set_the_documented_scales() -> None:
    torch.manual_seed(0)
    default = fs.deep_mlp("tanh", "default")[0].weight
    assert default.abs().max() <= 1 / math.sqrt(64)  # U(-1/sqrt(n_in), 1/sqrt(n_in))
    xavier = fs.deep_mlp("tanh", "xavier")[0].weight
    bound = 5 / 3 * math.sqrt(6 / (64 + 64))
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert default.abs().max() < xavier.abs().max() <= bound


def test_symptom_gradients_vanish_toward_the_input(data, device) -> None:
    assert _ratio("tanh", "default", data, device) < 1e-2
    assert _ratio("sigmoid", "default", data, device) < 1e-10
    assert _ratio("relu", "default", data, device) < 1e-3  # default init is not He init


def test_xavier_does_not_rescue_sigmoid(data, device) -> None:
    assert _ratio("sigmoid", "xavier", data, device) < 1e-8  # sigma' <= 1/4 still compounds


def test_fix_xavier_for_tanh_and_he_for_relu(data, device) -> None:
    assert _ratio("tanh", "xavier", data, device) > 0.1
    assert _ratio("relu", "kaiming", data, device) > 0.1


def test_symptom_loss_stuck_at_target_variance_and_fix_trains(data) -> None:
    x, y = data
    var = y.var(unbiased=False).item()  # the MSE of the best constant prediction
    torch.manual_seed(0)
    stuck = fs.train_losses(fs.deep_mlp("tanh", "default"), x, y, steps=300, lr=0.05)
    torch.manual_seed(0)
    stuck_sigmoid = fs.train_losses(fs.deep_mlp("sigmoid", "xavier"), x, y, steps=300, lr=0.05)
    torch.manual_seed(0)
    fixed = fs.train_losses(fs.deep_mlp("tanh", "xavier"), x, y, steps=300, lr=0.05)
    assert stuck[-1] == pytest.approx(var, rel=1e-3)
    assert stuck_sigmoid[-1] == pytest.approx(var, rel=1e-3)
    assert fixed[-1] < 1e-2 * var


def _backward_factors(act, init, data):
    """|dL/dz_{l-1}| / |dL/dz_l| for the pre-activations z_l of the hidden layers."""
    torch.manual_seed(0)
    model = fs.deep_mlp(act, init)
    h, zs = data[0], []
    for module in model:
        h = module(h)
        if isinstance(module, nn.Linear):
            h.retain_grad()
            zs.append(h)
    nn.functional.mse_loss(h, data[1]).backward()
    norms = torch.tensor([z.grad.norm().item() for z in zs[:-1]])
    return norms[:-1] / norms[1:]


def test_per_layer_backward_factor_matches_the_variance_argument(data) -> None:
    # tanh near 0 has slope 1 and default init has n Var(w) = 1/3: factor sqrt(1/3) per layer
    tanh = _backward_factors("tanh", "default", data)
    assert tanh.log().mean().exp().item() == pytest.approx(1 / math.sqrt(3), rel=0.1)
    # Xavier (gain 1) makes n Var(w) = 1, and sigma' <= 1/4 caps the factor at 1/4
    sigmoid = _backward_factors("sigmoid", "xavier", data)
    assert 0.15 < sigmoid.log().mean().exp().item() <= 0.25
    assert math.isclose(0.25**20, 9.09e-13, rel_tol=1e-3)  # about 1e-12 over 20 layers
