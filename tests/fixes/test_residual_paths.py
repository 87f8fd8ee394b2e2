"""Checks for residual_paths.py: 2^N paths, post- vs pre-activation, dense blocks."""

from __future__ import annotations

import itertools
import math

import pytest
import residual_paths as rp
import torch


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_product_equals_sum_over_paths(n, device):
    torch.manual_seed(n)
    mats = [torch.randn(4, 4, dtype=torch.float64, device=device) for _ in range(n)]
    total, by_length = rp.sum_over_paths(mats)
    torch.testing.assert_close(rp.product_of_blocks(mats), total, rtol=1e-12, atol=1e-12)
    assert len(by_length) == n + 1
    # length 0 is the pure identity path, length n the single path through every block
    torch.testing.assert_close(by_length[0], torch.eye(4, dtype=torch.float64, device=device))
    full = mats[0]
    for a in mats[1:]:
        full = a @ full
    torch.testing.assert_close(by_length[n], full)


def test_path_count_by_length_is_binomial():
    """With commuting 1x1 blocks A_i = a, the length-k sum is C(N, k) a^k."""
    a = 0.3
    mats = [torch.tensor([[a]], dtype=torch.float64) for _ in range(7)]
    _, by_length = rp.sum_over_paths(mats)
    for k, term in enumerate(by_length):
        assert term.item() == pytest.approx(math.comb(7, k) * a**k, rel=1e-12)
    assert sum(t.item() for t in by_length) == pytest.approx((1 + a) ** 7)


def test_pre_activation_keeps_the_identity_path_exactly(device):
    torch.manual_seed(0)
    blocks = [rp.make_branch(16).to(device) for _ in range(20)]
    x = torch.randn(32, 16, device=device)
    grad = rp.identity_path_grad(x, blocks, post_activation=False)
    assert torch.equal(grad, torch.ones_like(grad))


def test_post_activation_cuts_the_identity_path(device):
    """After one block the shortcut survives only where x + F(x) > 0; it only gets rarer."""
    torch.manual_seed(0)
    x = torch.randn(256, 64, device=device)
    blocks = [rp.make_branch(64).to(device) for _ in range(50)]
    first = rp.identity_path_grad(x, blocks[:1], post_activation=True)
    mask = (x + blocks[0](x) > 0).float()
    torch.testing.assert_close(first, mask)
    fractions = [
        (rp.identity_path_grad(x, blocks[:n], post_activation=True) != 0).float().mean()
        for n in (1, 10, 50)
    ]
    assert 0.4 < fractions[0] < 0.6
    assert fractions[0] > fractions[1] > fractions[2]
    assert fractions[2] < 0.3


def test_post_activation_with_zero_branches_is_a_mask_not_the_identity(device):
    x = torch.randn(8, 5, device=device)
    blocks = [rp.make_branch(5).to(device) for _ in range(3)]
    for b in blocks:
        torch.nn.init.zeros_(b[2].weight)
        torch.nn.init.zeros_(b[2].bias)
    post = rp.identity_path_grad(x, blocks, post_activation=True)
    assert torch.equal(post, (x > 0).float())


def test_dense_block_identity_slice_and_full_gradient(device):
    torch.manual_seed(2)
    x = torch.randn(3, 8, dtype=torch.float64, device=device, requires_grad=True)
    layers = [torch.nn.Linear(8 + 4 * i, 4).double().to(device) for i in range(3)]
    out = rp.dense_block(x, layers, detach_branches=True)
    assert out.shape == (3, 20)
    g = torch.randn_like(out)
    out.backward(g)
    assert torch.equal(x.grad, g[:, :8])
    # the Jacobian of the full block w.r.t. x has the identity on top, like a residual's +I
    jac = torch.autograd.functional.jacobian(lambda t: rp.dense_block(t, layers), x[0].detach())
    torch.testing.assert_close(jac[:8], torch.eye(8, dtype=torch.float64, device=device))
    # the full gradient is that slice plus what flows through the layers
    x2 = x.detach().requires_grad_()
    rp.dense_block(x2, layers).backward(g)
    assert (x2.grad - g[:, :8]).abs().max() > 1e-3


def test_length_zero_and_one_paths_are_about_equal_then_the_sums_shrink():
    """The page: with small blocks (0.3 A / sqrt(d)), the identity and the ten length-1 paths
    carry norms of the same size, and from k = 1 on the summed norm falls with every k."""
    d, n = 6, 10
    for seed in range(5):
        torch.manual_seed(seed)
        mats = [0.3 * torch.randn(d, d, dtype=torch.float64) / math.sqrt(d) for _ in range(n)]
        _, by_length = rp.sum_over_paths(mats)
        norms = [float(t.norm()) for t in by_length]
        assert 0.7 < norms[1] / norms[0] < 1.3
        assert all(b < a for a, b in itertools.pairwise(norms[1:]))
        assert norms[3] < norms[1] / 2
