"""Checks for optimizer_recipes.py: nanoGPT-style parameter groups, AdamW's lr-scaled decay,
Adam(decoupled_weight_decay=True), Nesterov SGD, bytes per parameter, Muon and Adafactor."""

from __future__ import annotations

import inspect
from functools import partial

import optimizer_recipes as orc
import pytest
import torch
from sitecheck import expanded_page
from torch import nn

PAGE = "docs/practice/optimizers.md"


def test_groups_split_by_dimension_and_count_the_tied_weight_once() -> None:
    model = orc.TinyLM()
    opt = orc.configure_optimizers(model, weight_decay=0.1, lr=6e-4, betas=(0.9, 0.95))
    decay, no_decay = opt.param_groups
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.1, 0.0)
    assert decay["betas"] == no_decay["betas"] == (0.9, 0.95)
    names = {id(p): n for n, p in model.named_parameters()}  # tied head: listed once
    assert {names[id(p)] for p in decay["params"]} == {
        "emb.weight",
        "block.self_attn.in_proj_weight",
        "block.self_attn.out_proj.weight",
        "block.linear1.weight",
        "block.linear2.weight",
    }
    assert all(p.dim() < 2 for p in no_decay["params"])
    in_groups = [id(p) for g in opt.param_groups for p in g["params"]]
    assert sorted(in_groups) == sorted(names) and len(set(in_groups)) == len(in_groups)


def test_only_the_decay_group_shrinks_under_a_zero_gradient() -> None:
    model = orc.TinyLM().double()
    lr, wd = 6e-4, 0.1
    opt = orc.configure_optimizers(model, weight_decay=wd, lr=lr, betas=(0.9, 0.95))
    before = [[p.detach().clone() for p in g["params"]] for g in opt.param_groups]
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for p, p0 in zip(opt.param_groups[0]["params"], before[0], strict=True):
        torch.testing.assert_close(p.detach(), p0 * (1 - lr * wd), rtol=1e-15, atol=0)
    for p, p0 in zip(opt.param_groups[1]["params"], before[1], strict=True):
        assert torch.equal(p.detach(), p0)


@pytest.mark.parametrize(("lr", "wd"), [(6e-4, 0.1), (3e-4, 0.1), (1e-2, 0.5)])
def test_adamw_decay_per_step_is_lr_times_weight_decay(lr: float, wd: float) -> None:
    assert orc.decay_per_step(lr, wd) == pytest.approx(lr * wd, rel=1e-9)


def test_adamw_decay_term_on_a_real_gradient_is_minus_lr_wd_p(device) -> None:
    """One step with decay minus the same step without: exactly -lr * wd * p0 (decay is applied
    first, outside Adam's normalization)."""
    torch.manual_seed(1)
    p0 = torch.randn(20, 7, dtype=torch.float64, device=device)
    g = torch.randn_like(p0)
    lr, wd = 1e-2, 0.1
    after = {}
    for decay in (wd, 0.0):
        p = nn.Parameter(p0.clone())
        p.grad = g.clone()
        torch.optim.AdamW([p], lr=lr, betas=(0.9, 0.95), weight_decay=decay).step()
        after[decay] = p.detach()
    torch.testing.assert_close(after[wd] - after[0.0], -lr * wd * p0, rtol=1e-9, atol=1e-15)


def test_adam_with_decoupled_weight_decay_is_adamw() -> None:
    assert "decoupled_weight_decay" in inspect.signature(torch.optim.Adam).parameters
    adamw = partial(torch.optim.AdamW, lr=1e-2, weight_decay=0.1)
    decoupled = partial(torch.optim.Adam, lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)
    l2 = partial(torch.optim.Adam, lr=1e-2, weight_decay=0.1)
    assert orc.max_difference(adamw, decoupled, steps=20) == 0.0
    assert orc.max_difference(adamw, l2) > 1e-2


def test_nesterov_sgd_steps_along_g_plus_mu_v(device) -> None:
    torch.manual_seed(2)
    p = nn.Parameter(torch.randn(5, dtype=torch.float64, device=device))
    ref = p.detach().clone()
    lr, mu = 0.1, 0.9
    opt = torch.optim.SGD([p], lr=lr, momentum=mu, nesterov=True)
    v = torch.zeros_like(ref)
    for _ in range(4):
        g = torch.randn_like(ref)
        p.grad = g.clone()
        opt.step()
        v = mu * v + g
        ref = ref - lr * (g + mu * v)
        torch.testing.assert_close(p.detach(), ref, rtol=1e-14, atol=1e-14)


def test_bytes_per_parameter_from_real_tensors() -> None:
    expected = {
        "fp32": {"weights": 4, "grads": 4, "master": 0, "m": 4, "v": 4},
        "bf16 + fp32 master": {"weights": 2, "grads": 2, "master": 4, "m": 4, "v": 4},
        "bf16 only": {"weights": 2, "grads": 2, "master": 0, "m": 2, "v": 2},
    }
    for setup, sizes in expected.items():
        assert orc.bytes_per_parameter(setup) == sizes, setup
    assert sum(expected["fp32"].values()) == sum(expected["bf16 + fp32 master"].values()) == 16


def test_muon_takes_matrices_only_and_orthogonalizes_the_update() -> None:
    for shape in ((8,), (2, 3, 4)):
        with pytest.raises(ValueError, match="only supports 2D parameters"):
            torch.optim.Muon([nn.Parameter(torch.zeros(shape))])
    defaults = torch.optim.Muon([nn.Parameter(torch.zeros(3, 2))]).defaults
    assert (defaults["momentum"], defaults["nesterov"], defaults["weight_decay"]) == (
        0.95,
        True,
        0.1,
    )
    sv_g, sv_u, state = orc.muon_step()
    assert state == ["momentum_buffer"]
    assert sv_g.max() / sv_g.min() > 100
    # five Newton-Schulz steps in bf16 give singular values near 1, not exactly 1
    assert sv_u.min() > 0.5 and sv_u.max() < 1.5


def test_muon_decays_by_lr_times_weight_decay() -> None:
    w = nn.Parameter(torch.randn(6, 4, dtype=torch.float64))
    w0 = w.detach().clone()
    w.grad = torch.zeros_like(w)  # orthogonalizes to zero: only the decay acts
    torch.optim.Muon([w], lr=0.02, weight_decay=0.1).step()
    torch.testing.assert_close(w.detach(), w0 * (1 - 0.02 * 0.1), rtol=1e-15, atol=0)


def test_adafactor_keeps_a_row_and_a_column_per_matrix() -> None:
    assert orc.tensor_state(torch.optim.Adafactor, 256, 128) == {
        "row_var": (256, 1),
        "col_var": (1, 128),
    }
    assert orc.tensor_state(torch.optim.Adam, 256, 128) == {
        "exp_avg": (256, 128),
        "exp_avg_sq": (256, 128),
    }


def test_adafactor_factored_second_moment_is_exact_for_a_rank_one_square() -> None:
    """If g^2 = a b^T, rows x columns / mean(rows) rebuilds g^2 exactly, so the first step is
    -lr * rms(p0) * sign(g) (torch's Adafactor scales its step by the weights' rms)."""
    torch.manual_seed(3)
    a, b = torch.rand(9, dtype=torch.float64) + 0.5, torch.rand(5, dtype=torch.float64) + 0.5
    signs = torch.randn(9, 5, dtype=torch.float64).sign()
    w = nn.Parameter(torch.randn(9, 5, dtype=torch.float64))
    w0 = w.detach().clone()
    w.grad = signs * torch.outer(a, b)
    lr = 0.01
    torch.optim.Adafactor([w], lr=lr).step()
    rms = w0.pow(2).mean().sqrt()
    torch.testing.assert_close(w.detach(), w0 - lr * rms * signs, rtol=1e-12, atol=1e-12)


def test_the_page_states_what_the_run_shows() -> None:
    page = " ".join(expanded_page(PAGE).split())
    assert "## What LLM recipes use" in page
    assert "Adam(decoupled_weight_decay=True) vs AdamW: max diff 0.0e+00" in page
    assert "bf16 + fp32 master 2 2 4 4 4 16" in page
    assert "Adafactor: col_var (1, 128), row_var (256, 1): 384" in page
    assert "$\\theta \\leftarrow \\theta - \\eta\\,(g_t + \\mu v_t)$" in page
