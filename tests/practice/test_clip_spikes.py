"""Checks for clip_spikes.py: spikes are flagged and traced back to the bad example."""

from __future__ import annotations

import clip_spikes as sp
import pytest
import torch

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def test_find_spikes_on_a_synthetic_series() -> None:
    norms = [1.0 + 0.1 * ((t * 7) % 5) for t in range(200)]
    for t in (40, 90, 150):
        norms[t] = 8.0
    norms[120] = 4.0  # large, but below 5 x the running median
    assert sp.find_spikes(norms, window=20, factor=5.0) == [40, 90, 150]
    assert sp.find_spikes(norms, window=20, factor=3.0) == [40, 90, 120, 150]


def test_find_spikes_ignores_the_first_window() -> None:
    norms = [50.0] + [1.0] * 50
    assert sp.find_spikes(norms, window=20) == []


@pytest.mark.parametrize("bad_index", [137, 400])
def test_every_flagged_batch_contains_the_planted_example(bad_index) -> None:
    x, y = sp.make_data(bad_index=bad_index)
    model, log = sp.train_with_log(x, y)
    assert len(log) == 6 * 512 // 32
    spikes = sp.find_spikes([e["norm"] for e in log])
    assert len(spikes) >= 4
    for t in spikes:
        assert bad_index in log[t]["indices"].tolist()
        assert sp.worst_example(model, x, y, log[t]["indices"]) == bad_index
    containing = [e["step"] for e in log if bad_index in e["indices"].tolist()]
    assert len(containing) == 6  # once per epoch
    assert set(spikes) <= set(containing)
    assert {log[t]["epoch"] for t in spikes} >= {2, 3, 4, 5}


def test_worst_example_ranks_by_squared_error() -> None:
    x = torch.zeros(4, 10)
    y = torch.tensor([[0.0], [3.0], [-5.0], [1.0]])
    model = torch.nn.Linear(10, 1)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    assert sp.worst_example(model, x, y, torch.tensor([0, 1, 2, 3])) == 2
    assert sp.worst_example(model, x, y, torch.tensor([0, 1, 3])) == 1
