"""Checks for grad_hooks.py: tensor, module and post-accumulate hooks."""

from __future__ import annotations

import grad_hooks as gh
import pytest
import torch
from torch import nn


def _mlp(device):
    torch.manual_seed(0)
    return gh.make_mlp([8, 32, 32, 32, 1]).to(device)


def test_make_mlp_layout() -> None:
    mlp = gh.make_mlp([8, 16, 4])
    assert [type(m) for m in mlp] == [nn.Linear, nn.ReLU, nn.Linear]
    assert (mlp[0].in_features, mlp[0].out_features, mlp[2].out_features) == (8, 16, 4)


def test_tensor_hook_sees_the_same_gradient_as_retain_grad(device) -> None:
    mlp, x = _mlp(device), torch.randn(64, 8, device=device)
    seen = gh.hidden_grad_by_hook(mlp, x)
    a1 = mlp[1](mlp[0](x))
    a1.retain_grad()
    mlp[2:](a1).pow(2).mean().backward()
    assert seen.shape == (64, 32)
    torch.testing.assert_close(seen, a1.grad)


def test_tensor_hook_return_value_replaces_the_gradient_upstream(device) -> None:
    mlp, x = _mlp(device), torch.randn(64, 8, device=device)
    gh.hidden_grad_by_hook(mlp, x)
    full = {name: p.grad.clone() for name, p in mlp.named_parameters()}
    mlp.zero_grad()
    gh.hidden_grad_by_hook(mlp, x, scale=0.5)
    for name, p in mlp.named_parameters():
        factor = 0.5 if name.startswith("0.") else 1.0  # only layer 0 lies upstream of a1
        torch.testing.assert_close(p.grad, factor * full[name])


def test_full_backward_hook_gives_activation_gradients(device) -> None:
    mlp, x = _mlp(device), torch.randn(64, 8, device=device)
    store = gh.linear_grads_by_module_hooks(mlp, x)
    assert list(store) == ["6", "4", "2", "0"]  # backward order: output side first
    for name, (g_in, g_out) in store.items():
        torch.testing.assert_close(g_in, g_out @ mlp[int(name)].weight)  # dL/dx = dL/dy W
    out = mlp(x).detach()
    torch.testing.assert_close(store["6"][1], 2 * out / out.numel())
    xr = x.clone().requires_grad_()
    (dx,) = torch.autograd.grad(mlp(xr).pow(2).mean(), xr)
    torch.testing.assert_close(store["0"][0], dx)
    assert all(not m._backward_hooks for m in mlp)  # handles were removed


def test_post_accumulate_hooks_report_final_grad_norms(device) -> None:
    mlp, x = _mlp(device), torch.randn(64, 8, device=device)
    norms = gh.param_grad_norms_by_hook(mlp, x)
    assert set(norms) == {name for name, _ in mlp.named_parameters()}
    for name, p in mlp.named_parameters():
        assert norms[name] == pytest.approx(p.grad.norm().item(), rel=1e-6)
    recorded = dict(norms)
    mlp.zero_grad()
    mlp(3 * x).pow(2).mean().backward()  # hooks removed: the dict must not change
    assert norms == recorded
