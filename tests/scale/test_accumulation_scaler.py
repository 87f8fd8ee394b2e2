"""Checks for accumulation_scaler.py: GradScaler with accumulation on CPU."""

from __future__ import annotations

import accumulation_scaler as sc
import torch


def test_scaler_runs_enabled_on_cpu() -> None:
    scaler = torch.amp.GradScaler("cpu", init_scale=sc.SCALE)
    assert scaler.is_enabled() and scaler.get_scale() == sc.SCALE


def test_power_of_two_scale_gives_the_plain_gradient_bit_for_bit() -> None:
    g_amp, u_amp = sc.scaled_step(*sc.make_problem(), sc.M)
    g_acc, u_acc = sc.plain_step(*sc.make_problem(), sc.M)
    assert torch.equal(g_amp, g_acc) and torch.equal(u_amp, u_acc)
    assert u_amp.abs().max().item() > 0  # the step was taken, not skipped


def test_matches_the_full_batch_to_float32_rounding() -> None:
    g_amp, u_amp = sc.scaled_step(*sc.make_problem(), sc.M)
    g_full, u_full = sc.plain_step(*sc.make_problem(), 1)
    eps = torch.finfo(torch.float32).eps
    assert sc.rel(g_amp, g_full) < 20 * eps
    assert sc.rel(u_amp, u_full) < 20 * eps
    # and against float64 the full batch itself is only float32-exact
    model, x, y = sc.make_problem()
    g64, _ = sc.plain_step(model.double(), x.double(), y.double(), 1)
    assert sc.rel(g_full.double(), g64) < 20 * eps


def test_clipping_was_active() -> None:
    g, _ = sc.scaled_step(*sc.make_problem(), sc.M)
    assert abs(g.norm().item() - sc.MAX_NORM) < 1e-5
