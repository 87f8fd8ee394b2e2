"""Checks for failure_postln_lr.py: Post-LN fails at a Pre-LN learning rate."""

from __future__ import annotations

import math

import failure_postln_lr as fp
import pytest
import torch

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


@pytest.fixture(scope="module")
def runs():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the snippet: the unstable runs amplify rounding differences
    try:
        yield {
            "pre": fp.train_lm(True, 2e-2),
            "post": fp.train_lm(False, 2e-2),
            "warm": fp.train_lm(False, 2e-2, warmup=75),
            "low": fp.train_lm(False, 2e-3),
        }
    finally:
        torch.set_num_threads(threads)


def _tail(losses):
    return sum(losses[-20:]) / 20


def test_data_make_the_loss_floor_ln4_over_length() -> None:
    tokens = fp.counting_batch(64, torch.Generator().manual_seed(0))
    assert tokens.shape == (64, fp.LENGTH + 1)
    k = (tokens[:, 1] - tokens[:, 0]) % fp.VOCAB
    assert set(k.tolist()) <= {1, 2, 3, 4}  # four equally likely continuations of token 0
    t = torch.arange(fp.LENGTH + 1)
    torch.testing.assert_close(tokens, (tokens[:, :1] + k[:, None] * t) % fp.VOCAB)  # rest fixed
    assert fp.loss_floor() == pytest.approx(math.log(4) / 16)


def test_blocks_are_post_ln_and_pre_ln(device) -> None:
    torch.manual_seed(0)
    tokens = fp.counting_batch(4, torch.Generator().manual_seed(0))[:, :-1].to(device)
    for pre_ln in (False, True):
        model = fp.TinyLM(pre_ln).to(device)
        h = model.embed(tokens) + model.pos
        out = model.blocks[0](h, src_mask=model.mask, is_causal=True)
        normalised = torch.allclose(out.mean(-1), torch.zeros_like(out.mean(-1)), atol=1e-5)
        assert normalised != pre_ln  # Post-LN ends in LayerNorm: zero mean per position


def test_pre_ln_trains_at_the_high_rate(runs) -> None:
    losses, _ = runs["pre"]
    assert _tail(losses) < 0.2
    step, spike = fp.relapse(losses)
    assert step is not None and spike < 0.5


def test_symptom_post_ln_stalls_near_the_uniform_guess(runs) -> None:
    losses, norms = runs["post"]
    assert _tail(losses) > 2.0  # ln 16 = 2.77 would be a uniform guess
    assert fp.relapse(losses)[0] is None
    _, pre_norms = runs["pre"]
    late = sorted(norms[-50:])[25]
    # After an early spike the gradient no longer drives it anywhere. Measured over seeds 0-2 and
    # the kernel settings of tools/kernels.py: the spike is 17-27x the late median, and the late
    # median 0.4-0.95x Pre-LN's (so "no larger than Pre-LN's", with room for the kernels).
    assert max(norms[:30]) > 5 * late
    assert late < 1.5 * sorted(pre_norms[-50:])[25]


def test_warmup_alone_only_postpones_the_failure(runs) -> None:
    step, spike = fp.relapse(runs["warm"][0])
    assert step is not None and spike > 1.0  # trains while lr is small, relapses near the peak


def test_fix_ten_times_lower_rate_trains(runs) -> None:
    losses, _ = runs["low"]
    assert _tail(losses) < 0.2
    assert fp.relapse(losses)[1] < 0.5
