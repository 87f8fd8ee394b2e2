"""Checks for clip_adamw.py: Adam's step after a spike has a closed-form ceiling, and with AdamW a
clip keeps the spike out of m and v without setting the step."""

from __future__ import annotations

import itertools
import math

import clip_adamw as ca
import pytest
import torch
from sitecheck import expanded_page

SEEDS = (0, 1, 2)
T = ca.SPIKE_AT


def replayed_gradient(n: int, steps: int, seed: int = 0) -> torch.Tensor:
    """The N(0, 1) gradient that adam_spike_step multiplies by its spikes (its last draw)."""
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps + 1):
        z = torch.randn(n, generator=gen, dtype=torch.float64)
    return z


def ceiling(beta2: float, m: torch.Tensor, v: torch.Tensor, step: int) -> torch.Tensor:
    """Cauchy-Schwarz: |b1 m + (1 - b1) g| / sqrt(b2 v + (1 - b2) g^2) over all g is at most
    sqrt(b1^2 m^2 / (b2 v) + (1 - b1)^2 / (1 - b2)); times the bias corrections."""
    b1 = ca.BETAS[0]
    bias = math.sqrt(1 - beta2**step) / (1 - b1**step)
    return bias * torch.sqrt(b1**2 * m**2 / (beta2 * v) + (1 - b1) ** 2 / (1 - beta2))


def test_closed_form_values() -> None:
    assert ca.spike_step_limit(0.9, 0.999) == pytest.approx(0.1 / math.sqrt(0.001), rel=1e-15)
    assert round(ca.spike_step_limit(0.9, 0.999), 2) == 3.16
    assert round(ca.spike_step_limit(0.9, 0.95), 4) == 0.4472
    # The bias factor fades once t >> 1 / (1 - beta2), not before.
    assert ca.spike_step_limit(0.9, 0.95, 400) == pytest.approx(0.4472136, rel=1e-6)
    assert ca.spike_step_limit(0.9, 0.999, 201) < 0.45 * ca.spike_step_limit(0.9, 0.999)


@pytest.mark.parametrize("beta2", [0.95, 0.99, 0.999])
def test_a_huge_spike_steps_by_the_closed_form(beta2: float) -> None:
    """Every coordinate, whatever its past and its sign, moves by the limit."""
    got = ca.adam_spike_step(beta2, torch.full((500,), 1e10, dtype=torch.float64))
    limit = ca.spike_step_limit(0.9, beta2, 201)
    torch.testing.assert_close(got["step"], torch.full_like(got["step"], limit), rtol=1e-6, atol=0)


def test_after_thousands_of_steps_the_default_betas_give_3_16() -> None:
    got = ca.adam_spike_step(0.999, torch.full((10,), 1e10, dtype=torch.float64), steps=8000)
    assert got["step"].min().item() == pytest.approx(ca.spike_step_limit(0.9, 0.999), rel=2e-4)
    assert round(got["step"].max().item(), 2) == 3.16


@pytest.mark.parametrize("beta2", [0.95, 0.999])
def test_no_spike_size_goes_past_the_ceiling(beta2: float) -> None:
    sizes = torch.logspace(-1, 6, 29, dtype=torch.float64).repeat_interleave(40)
    got = ca.adam_spike_step(beta2, sizes)
    assert torch.all(got["step"] <= ceiling(beta2, got["m"], got["v"], 201) * (1 + 1e-12))
    # Moderate spikes do step further than the limit: the momentum in m adds to them
    # (by 46% with beta2 = 0.95 and 6% with 0.999 here).
    assert got["step"].max() > 1.05 * ca.spike_step_limit(0.9, beta2, 201)


@pytest.mark.parametrize("beta2", [0.95, 0.999])
def test_the_ceiling_is_reached(beta2: float) -> None:
    """The gradient g* = (1 - b1) b2 v / (b1 m (1 - b2)) attains the Cauchy-Schwarz bound."""
    b1, n, steps = ca.BETAS[0], 300, 200
    before = ca.adam_spike_step(beta2, torch.ones(n, dtype=torch.float64), steps)
    m, v = before["m"], before["v"]
    g_star = (1 - b1) * beta2 * v / (b1 * m * (1 - beta2))
    got = ca.adam_spike_step(beta2, g_star / replayed_gradient(n, steps), steps)
    torch.testing.assert_close(got["m"], m, rtol=0, atol=0)
    torch.testing.assert_close(got["step"], ceiling(beta2, m, v, steps + 1), rtol=1e-6, atol=0)


@pytest.fixture(scope="module")
def spike_runs() -> dict[int, tuple[dict[str, list[float]], dict[str, list[float]]]]:
    runs = {}
    for seed in SEEDS:
        base = ca.train("adamw", None, seed=seed)
        p90 = ca.pre_spike_quantile(base, 0.9)
        runs[seed] = (base, ca.train("adamw", p90, seed=seed))
    return runs


@pytest.mark.trajectory
def test_without_a_clip_the_spike_stays_in_m_and_v(spike_runs) -> None:
    # Measured over seeds 0-4: m x 34-58, sqrt(v) x 13-19 at the spike, both x 10-19 ten steps on.
    for base, _ in spike_runs.values():
        m, v = base["m"], base["v"]
        assert m[T] > 20 * m[T - 1] and v[T] > 8 * v[T - 1]
        assert m[T + 10] > 6 * m[T - 1] and v[T + 10] > 6 * v[T - 1]
        # What is left is the spike decaying: m by beta1^10, sqrt(v) by beta2^5 (0.35 and 0.77).
        assert m[T + 10] / m[T] == pytest.approx(ca.BETAS[0] ** 10, rel=0.2)
        assert v[T + 10] / v[T] == pytest.approx(ca.BETAS[1] ** 5, rel=0.02)


@pytest.mark.trajectory
def test_a_p90_clip_keeps_the_spike_out_of_m_and_v(spike_runs) -> None:
    # Measured over seeds 0-4: m x 1.8-2.8, sqrt(v) x 1.2-1.3 at the spike, m x 0.8-1.3 later.
    for base, clipped in spike_runs.values():
        m, v = clipped["m"], clipped["v"]
        assert clipped["norm"][T] > 10 * ca.pre_spike_quantile(base, 0.9)  # clipped hard
        assert m[T] < 4 * m[T - 1] and v[T] < 1.6 * v[T - 1]
        assert m[T + 10] < 2 * m[T - 1] and v[T + 10] < 1.6 * v[T - 1]


@pytest.mark.trajectory
def test_unclipped_spike_step_approaches_the_limit(spike_runs) -> None:
    limit = ca.spike_step_limit(*ca.BETAS)
    for base, clipped in spike_runs.values():
        assert 0.85 * limit < base["step"][T] < limit  # measured 0.94-0.99 of the limit
        assert clipped["step"][T] < base["step"][T]


@pytest.fixture(scope="module")
def sweeps() -> dict[int, dict[str, list[dict[str, list[float]]]]]:
    return {seed: ca.threshold_sweep(seed) for seed in SEEDS}


@pytest.mark.trajectory
def test_the_threshold_sets_sgds_spike_step(sweeps) -> None:
    """SGD's spike step is max_norm / usual norm usual steps: proportional to the threshold."""
    for sweep in sweeps.values():
        ratios = [ca.spike_vs_usual(log) for log in sweep["sgd"]]
        assert ratios[0] == pytest.approx(1.0, abs=0.02)  # every step clipped: normalised GD
        for c, ratio in zip(ca.THRESHOLDS[2:6], ratios[2:6], strict=True):
            assert 0.8 < ratio / c < 1.5  # measured 1.02-1.24
        assert ratios[-1] > 50  # no clipping: the full spike, measured 88-138


@pytest.mark.trajectory
def test_the_threshold_does_not_set_adamws_spike_step(sweeps) -> None:
    limit = ca.spike_step_limit(*ca.BETAS)
    for sweep in sweeps.values():
        ratios = [ca.spike_vs_usual(log) for log in sweep["adamw"]]
        assert max(ratios) < 3.5  # measured at most 2.38 over seeds 0-4
        assert ca.spike_vs_usual(sweep["sgd"][-1]) > 20 * ratios[-1]
        steps = [log["step"][T] for log in sweep["adamw"]]
        assert all(s < limit for s in steps)  # measured at most 0.986 of the limit
        assert steps[-1] > 0.85 * limit
        assert all(a < b * 1.05 for a, b in itertools.pairwise(steps[1:]))  # grows with max_norm


def test_page_states_the_closed_form_limits() -> None:
    page = " ".join(expanded_page("docs/practice/clipping.md").split())
    default = f"{ca.spike_step_limit(0.9, 0.999):.2f}"
    recipe = f"{ca.spike_step_limit(*ca.BETAS):.4f}"
    assert (
        f"${default}\\,\\eta$ with PyTorch's default betas (0.9, 0.999), {recipe}$\\,\\eta$ "
        "with the betas of LLM recipes (0.9, 0.95)" in page
    )
    assert f"0.95 {recipe} {recipe}" in page  # the recorded table prints the same closed form


def test_the_data_is_the_threshold_studys() -> None:
    """The snippet carries its own copy of clip_threshold.py's make_data (a snippet runs
    alone); the copies must not drift."""
    import inspect

    import clip_threshold

    assert inspect.getsource(ca.make_data) == inspect.getsource(clip_threshold.make_data)
