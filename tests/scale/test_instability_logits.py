"""Checks for instability_logits.py: the stacked model, the collapse, the signature."""

from __future__ import annotations

import functools
import math
from dataclasses import replace

import instability_logits as il
import pytest
import torch

SHORT = il.Config(steps=5)


def test_members_train_as_separate_runs() -> None:
    """Stacking seeds along dim 0 must not couple them: member 1 of a
    three-seed run is the one-seed run of seed 1."""
    together = il.train(SHORT, seeds=(0, 1, 2))
    alone = il.train(SHORT, seeds=(1,))
    for key, values in together.items():
        torch.testing.assert_close(values[:, 1], alone[key][:, 0], rtol=1e-5, atol=1e-6)


def _attention_logits(params, x, cfg):
    """The first layer's q.k / sqrt(d_head) for member 0, written out per head."""
    tok, pos, w_qkv = params[0][0], params[1][0], params[2][0]
    h = torch.nn.functional.layer_norm(tok[x[0]] + pos[: x.shape[2]], (cfg.d,))
    q, k, _ = (h @ w_qkv).split(cfg.d, dim=-1)
    hd = cfg.d // cfg.heads
    out = []
    for head in range(cfg.heads):
        qh, kh = q[..., head * hd : (head + 1) * hd], k[..., head * hd : (head + 1) * hd]
        if cfg.qk_norm:
            qh = torch.nn.functional.layer_norm(qh, (hd,))
            kh = torch.nn.functional.layer_norm(kh, (hd,))
        out.append(qh @ kh.transpose(-1, -2) / math.sqrt(hd))
    return torch.stack(out)


@pytest.mark.parametrize("qk_norm", [False, True])
def test_max_logit_is_the_largest_causal_attention_logit(qk_norm: bool) -> None:
    cfg = replace(SHORT, qk_norm=qk_norm)
    params = il.init_params(cfg, 50, (0,))
    with torch.no_grad():
        params[2].mul_(4)  # larger logits, so that the maximum is not a tie
    x = torch.randint(50, (1, cfg.batch, cfg.seq), generator=torch.Generator().manual_seed(0))
    _, max_logit, entropy = il.forward(params, x, cfg)
    logits = _attention_logits(params, x, cfg)
    causal = torch.ones(cfg.seq, cfg.seq, dtype=torch.bool).tril()
    assert max_logit.item() == pytest.approx(logits[..., causal].abs().max().item(), rel=1e-5)
    p = logits.masked_fill(~causal, -math.inf).softmax(-1)
    ent = -(p * p.clamp_min(1e-30).log()).sum(-1).mean()
    assert entropy.item() == pytest.approx(ent.item(), rel=1e-5)
    if qk_norm:  # unit-variance q and k have norm sqrt(d_head): |q.k| / sqrt(d_head) <= it
        assert max_logit.item() <= math.sqrt(cfg.d // cfg.heads) + 1e-5


def test_clip_per_member_is_clip_grad_norm_of_each_member() -> None:
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(3, 4, 5, generator=gen), torch.randn(3, 7, generator=gen)]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen) * torch.tensor([0.1, 1, 10]).view(
            -1, *[1] * (p.dim() - 1)
        )
    expected = []
    for s in range(3):
        member = [torch.nn.Parameter(p[s].clone()) for p in params]
        for m, p in zip(member, params, strict=True):
            m.grad = p.grad[s].clone()
        norm = torch.nn.utils.clip_grad_norm_(member, 1.0)
        expected.append((norm, [m.grad for m in member]))
    norms = il.clip_per_member(params, 1.0)
    for s, (norm, grads) in enumerate(expected):
        assert norms[s].item() == pytest.approx(norm.item(), rel=1e-6)
        for p, g in zip(params, grads, strict=True):
            torch.testing.assert_close(p.grad[s], g)


def test_summary_counts_steps_from_one() -> None:
    logits = torch.tensor([[1.0, 1.0], [150.0, 2.0], [90.0, 3.0]])
    history = {"max_logit": logits, "loss": torch.ones(3, 2), "entropy": torch.ones(3, 2)}
    s = il.summary(history)
    assert s["collapsed"].tolist() == [True, False]
    assert s["first_collapse"].tolist() == [2, 0]
    assert s["max_logit"].tolist() == [150.0, 3.0]


@pytest.mark.trajectory
def test_high_rate_collapses_every_seed_and_low_rate_none() -> None:
    """Measured (three kernel settings): max logit 529-1004 at lr 1e-1, 13-15
    at 1e-2; the final loss 0.27-0.5 higher at 1e-1, entropy 0.03-0.04 vs 1.6."""
    high = il.summary(il.train(il.Config(lr=0.1)))
    low = il.summary(il.train(il.Config(lr=0.01)))
    assert high["collapsed"].all() and (high["max_logit"] > 3 * il.COLLAPSED).all()
    assert not low["collapsed"].any() and (low["max_logit"] < 0.4 * il.COLLAPSED).all()
    assert (high["final_loss"] > low["final_loss"] + 0.15).all()
    assert (high["entropy"] < 0.2).all() and (low["entropy"] > 1.0).all()


def test_train_step_minimises_cross_entropy_plus_z_loss() -> None:
    """The gradient a step uses is that of CE + c * mean((log Z)^2), per member
    (with lr 0 AdamW leaves the weights and their .grad as they are)."""
    cfg = replace(SHORT, z_loss=0.3, lr=0.0)
    ids, params, opt, gens = il.start(cfg, (0, 1))
    x, y = il.get_batch(ids, cfg, gens)
    ref = [p.detach().clone().requires_grad_() for p in params]
    out, _, _ = il.forward(ref, x, cfg)
    ce = torch.nn.functional.cross_entropy(out.flatten(0, 2), y.flatten())
    z = out.logsumexp(-1).pow(2).mean()
    (2 * (ce + 0.3 * z)).backward()  # two members: each mean is over half the rows
    il.train_step(params, opt, (x, y), cfg, 0)
    for p, r in zip(params, ref, strict=True):
        torch.testing.assert_close(p.grad, r.grad, rtol=1e-4, atol=1e-7)


# one run per rate and seed, shared by the signature's tests
@functools.cache
def _run(lr: float, seed: int) -> dict:
    return il.signature(il.Config(lr=lr), seed)


@pytest.mark.trajectory
def test_qk_weights_are_the_query_and_key_columns() -> None:
    cfg = il.Config()
    params = il.init_params(cfg, 50, (0,))
    x = torch.randint(50, (1, 2, 8), generator=torch.Generator().manual_seed(0))
    h = torch.nn.functional.layer_norm(params[0][0][x[0]] + params[1][0][:8], (cfg.d,))
    q, k, _ = (h @ params[2][0]).split(cfg.d, dim=-1)
    qk = il.qk_weights(params, cfg.d)
    torch.testing.assert_close(h @ qk, torch.cat([q, k], dim=-1))


@pytest.mark.trajectory
def test_records_one_row_per_step_after_the_first() -> None:
    run = _run(0.1, 0)
    assert all(len(v) == il.Config().steps - 1 for v in run.values())
    # ||W_t|| <= ||W_{t-1}|| (1 + ||dW|| / ||W_{t-1}||): the recorded ratio bounds the growth
    assert (run["norm_qk"][1:] <= run["norm_qk"][:-1] * (1 + run["ratio_qk"][1:]) + 1e-4).all()


@pytest.mark.trajectory
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weights_grow_while_the_gradient_norm_does_not_spike(seed: int) -> None:
    """Measured (seeds 0-2): ||W_q,k|| grows 2.8-3.0x from step 12 at lr 1e-1
    and 7-11 % at 1e-2; the gradient norm after step 11 stays within 1.8-1.9x
    of its median."""
    fast, slow = _run(0.1, seed), _run(0.01, seed)
    assert fast["norm_qk"][-1] > 2 * fast["norm_qk"][10]
    assert slow["norm_qk"][-1] < 1.25 * slow["norm_qk"][10]
    g = fast["grad_norm"][10:]
    assert g.max() < 3 * g.median()
