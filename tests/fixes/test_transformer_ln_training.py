"""Checks for transformer_ln_training.py: the data, the schedule, and the experiment."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import pytest
import torch
import transformer_ln_grads as tlg
import transformer_ln_training as tlt
from background import Job, Lane, in_subprocess

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


@pytest.mark.parametrize("norm", ["pre", "post", "deepnorm"])
def test_model_is_the_same_as_on_the_gradient_page(norm, device):
    """Both snippets carry their own copy of the model; the copies must agree."""
    idx = torch.randint(50, (2, 16), device=device)
    torch.manual_seed(3)
    a = tlt.TinyLM(50, 32, 3, 4, 16, norm).to(device)
    torch.manual_seed(3)
    b = tlg.TinyLM(50, 32, 3, 4, 16, norm).to(device)
    torch.testing.assert_close(a(idx), b(idx), rtol=0, atol=1e-6)


def test_warmup_factor_and_scheduler():
    assert tlt.warmup_factor(0, 100) == pytest.approx(0.01)
    assert tlt.warmup_factor(49, 100) == pytest.approx(0.5)
    assert tlt.warmup_factor(99, 100) == 1.0
    assert tlt.warmup_factor(250, 100) == 1.0
    assert tlt.warmup_factor(0, 0) == 1.0
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=3e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: tlt.warmup_factor(s, 4))
    seen = []
    for _ in range(6):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([3e-3 * f for f in (0.25, 0.5, 0.75, 1, 1, 1)])


def test_corpus_and_batches():
    ids, vocab = tlt.load_corpus()
    assert vocab == sorted(vocab) and len(set(vocab)) == len(vocab)
    assert ids.min() >= 0 and ids.max() < len(vocab)
    assert len(ids) > 50_000
    x, y = tlt.get_batch(ids, 8, 64, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 64)
    assert torch.equal(x[:, 1:], y[:, :-1])  # targets are the next characters


def test_unigram_entropy_closed_form():
    assert tlt.unigram_entropy(torch.tensor([0, 0, 1, 1])) == pytest.approx(math.log(2))
    p = torch.tensor([0.75, 0.25])
    expected = float(-(p * p.log()).sum())
    assert tlt.unigram_entropy(torch.tensor([2, 2, 2, 5])) == pytest.approx(expected)
    ids, vocab = tlt.load_corpus()
    assert 0 < tlt.unigram_entropy(ids) < math.log(len(vocab))


def test_smooth_is_a_trailing_mean():
    values = [float(v) for v in range(10)]
    out = tlt.smooth(values, window=3)
    assert out[0] == 0.0 and out[1] == 0.5
    assert out[5] == pytest.approx((3 + 4 + 5) / 3)


def test_short_training_run_is_finite_and_deterministic():
    losses, val = tlt.train("pre", 0, seed=5, steps=3, layers=2)
    again, val_again = tlt.train("pre", 0, seed=5, steps=3, layers=2)
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert losses == again and val == val_again


def page_runs_for_three_seeds() -> list[dict[str, dict]]:
    """The page's four runs for seeds 0, 1, 2: smoothed training curves and held-out losses."""
    runs = []
    for seed in range(3):
        curves, held_out = {}, {}
        for label, (norm, warmup) in tlt.RUNS.items():
            losses, val = tlt.train(norm, warmup, seed=seed)
            curves[label], held_out[label] = tlt.smooth(losses), val
        runs.append({"curves": curves, "held_out": held_out})
    return runs


THREE_SEEDS = "test_conclusion_holds_across_three_seeds"


def background_jobs(items: list[pytest.Item], scratch: Path) -> dict[str, Job]:
    """The three-seed check's twelve training runs (about a minute) go to the background lane,
    in a fresh Python with one torch thread like this process; first, since this file's tests
    run early."""
    if not any(item.originalname == THREE_SEEDS for item in items):
        return {}
    job = partial(in_subprocess, Path(__file__), "page_runs_for_three_seeds")
    return {"Transformer runs, three seeds": Job(job, 90, early=True)}


@pytest.mark.slow
def test_conclusion_holds_across_three_seeds(background: Lane):
    """Same settings as the page, seeds 0, 1, 2: the page's reading of the experiment."""
    ids, _ = tlt.load_corpus()
    floor = tlt.unigram_entropy(ids)
    for seed, run in enumerate(background.result("Transformer runs, three seeds")):
        curves, held_out = run["curves"], run["held_out"]
        pre, post = held_out["Pre-LN"], held_out["Post-LN"]
        warm, deep = held_out["Post-LN, 100 warmup steps"], held_out["DeepNorm (Post-LN stack)"]
        # Post-LN without warmup stalls at the unigram level for at least half of the run ...
        assert abs(curves["Post-LN"][99] - floor) < 0.15, seed
        assert abs(curves["Post-LN"][149] - floor) < 0.2, seed
        # ... while Pre-LN is well below it by then
        assert curves["Pre-LN"][99] < floor - 0.5, seed
        # and ends far behind Pre-LN
        assert post > pre + 0.5, seed
        # warmup rescues Post-LN, but after 300 steps it has not caught up with Pre-LN
        assert warm < post - 0.4, seed
        assert warm > pre, seed
        # DeepNorm trains like Pre-LN at the same learning rate, without warmup
        assert abs(deep - pre) < 0.15, seed


def test_model_section_is_the_same_as_the_gradient_snippets() -> None:
    """Both scripts must stay standalone, so the model is written in each; it must not drift."""
    from pathlib import Path

    def model_section(name: str) -> str:
        text = (Path(__file__).parents[2] / "snippets" / "fixes" / name).read_text(encoding="utf-8")
        return text.split("# --8<-- [start:model]")[1].split("# --8<-- [end:model]")[0]

    assert model_section("transformer_ln_training.py") == model_section("transformer_ln_grads.py")
