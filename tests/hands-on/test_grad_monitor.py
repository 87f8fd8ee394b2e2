"""Checks for grad_monitor.py: the hook-based monitor against direct computation."""

from __future__ import annotations

import math
import re

import grad_monitor as gm
import numpy as np
import pytest
import torch
from sitecheck import expanded_page
from torch import nn

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def _model(device):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2)).to(device)


def _batch(device):
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 3, generator=gen), torch.randint(0, 2, (16,), generator=gen)
    return x.to(device), y.to(device)


def test_norms_histogram_and_ratios_match_direct_computation(device) -> None:
    model, (x, y) = _model(device), _batch(device)
    lr = 0.1
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    monitor = gm.GradMonitor(model, optimizer)
    nn.functional.cross_entropy(model(x), y).backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    total = nn.utils.clip_grad_norm_(model.parameters(), math.inf).item()  # does not change grads
    optimizer.step()
    assert monitor.layers == ["0.weight", "2.weight"]
    assert monitor.global_norm == [pytest.approx(total, rel=1e-6)]
    for name in monitor.layers:
        assert monitor.norms[name] == [pytest.approx(grads[name].norm().item(), rel=1e-6)]
        # SGD: Delta W = -lr g, so |Delta W| / |W| = lr |g| / |W|
        expected = lr * grads[name].norm().item() / weights[name].norm().item()
        assert monitor.ratios[name] == [pytest.approx(expected, rel=1e-4)]
    flat = torch.cat([g.flatten() for g in grads.values()]).cpu().numpy()
    with np.errstate(divide="ignore"):
        counts, _ = np.histogram(np.log10(np.abs(flat)), bins=gm.EDGES.numpy())
    np.testing.assert_array_equal(monitor.histograms[0].numpy(), counts)


def test_monitor_records_the_gradient_before_clipping(device) -> None:
    model, (x, y) = _model(device), _batch(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    monitor = gm.GradMonitor(model, optimizer)
    nn.functional.cross_entropy(model(x), y).backward()
    raw = nn.utils.clip_grad_norm_(model.parameters(), 1e-3).item()
    optimizer.step()
    assert raw > 1e-2
    assert monitor.global_norm[0] == pytest.approx(raw, rel=1e-6)


def test_remove_detaches_every_hook(device) -> None:
    model, (x, y) = _model(device), _batch(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    monitor = gm.GradMonitor(model, optimizer)
    monitor.remove()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    assert monitor.global_norm == [] and monitor.histograms == []


def test_spiral_data_shapes_and_labels() -> None:
    x, y = gm.spiral_data(50, 3, torch.Generator().manual_seed(0))
    assert x.shape == (150, 2) and y.shape == (150,)
    assert torch.equal(torch.bincount(y), torch.tensor([50, 50, 50]))
    assert x.norm(dim=1).max() <= 1.0 + 1e-6  # radius t in [0, 1)


def test_training_run_learns_and_records_every_step() -> None:
    torch.manual_seed(0)
    monitor, losses = gm.train(steps=300)
    assert len(losses) == len(monitor.global_norm) == len(monitor.histograms) == 300
    assert all(len(v) == 300 for v in monitor.ratios.values())
    assert losses[0] == pytest.approx(math.log(3), abs=0.05)  # a random init guesses uniformly
    assert sum(losses[-20:]) / 20 < 0.1


def test_histogram_bins_are_quarter_decades() -> None:
    assert len(gm.EDGES) == 45
    assert gm.EDGES[0].item() == -10.0 and gm.EDGES[-1].item() == 1.0
    torch.testing.assert_close(gm.EDGES.diff(), torch.full((44,), 0.25))


def test_what_the_page_reads_from_the_dashboard() -> None:
    """Each reading of the dashboard on the monitoring page is on the page, and a fresh run of
    the 300 steps bears it out."""
    page = " ".join(expanded_page("docs/hands-on/monitoring.md").split())
    torch.manual_seed(0)
    monitor, losses = gm.train(steps=300)
    assert (
        f"The first value, {losses[0]:.4f} in the output, is close to "
        f"$\\ln 3 \\approx {math.log(3):.4f}$" in page
    )
    assert "It *rises* while the loss falls (the test checks this)" in page
    assert sorted(monitor.global_norm[-100:])[50] > 2 * monitor.global_norm[0]  # rises
    late = {name: sorted(v[-100:])[50] for name, v in monitor.norms.items()}
    assert min(late, key=late.get) == "0.weight"
    assert "The input layer (`0.weight`, 2 → 64) receives the smallest gradient" in page
    medians = {name: sorted(v)[150] for name, v in monitor.ratios.items()}
    assert min(medians, key=medians.get) == "0.weight"
    stated = re.search(
        r"The median ratios printed above lie between \$([\d.]+) \\times 10\^\{(-\d+)\}\$ "
        r"and \$([\d.]+) \\times 10\^\{(-\d+)\}\$, the input layer's the lowest\.",
        page,
    )
    assert stated, "the sentence with the range of the median ratios is not on the page"
    low, high = float(f"{stated[1]}e{stated[2]}"), float(f"{stated[3]}e{stated[4]}")
    assert min(medians.values()) == pytest.approx(low, rel=5e-3)
    assert max(medians.values()) == pytest.approx(high, rel=5e-3)
