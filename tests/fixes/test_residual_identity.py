"""Checks for residual_identity.py: dL/dx = dL/dy (I + dF/dx) and its consequences."""

from __future__ import annotations

import pytest
import residual_identity as ri
import torch


@pytest.mark.parametrize("d,hidden", [(1, 3), (4, 8), (8, 16), (16, 5)])
def test_block_jacobian_is_identity_plus_branch_jacobian(d, hidden, device):
    torch.manual_seed(d)
    branch = ri.make_branch(d, hidden).to(device)
    x = torch.randn(d, dtype=torch.float64, device=device)
    j_block, i_plus_j = ri.residual_jacobians(branch, x)
    torch.testing.assert_close(j_block, i_plus_j, rtol=0, atol=1e-12)
    # and it is not trivially the identity: the branch contributes
    assert (j_block - torch.eye(d, dtype=torch.float64, device=device)).abs().max() > 1e-3


def test_vjp_form_matches_autograd_through_the_block(device):
    torch.manual_seed(1)
    branch = ri.make_branch(6, 10).to(device)
    x = torch.randn(6, dtype=torch.float64, device=device, requires_grad=True)
    grad_y = torch.randn(6, dtype=torch.float64, device=device)
    (x + branch(x)).backward(grad_y)
    torch.testing.assert_close(
        ri.residual_input_grad(branch, x, grad_y), x.grad, rtol=0, atol=1e-12
    )


def test_gradcheck_residual_block():
    torch.manual_seed(2)
    branch = ri.make_branch(5, 7)
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: t + branch(t), (x,))


@pytest.mark.parametrize("n_blocks", [1, 3, 6])
def test_unrolled_form(n_blocks, device):
    torch.manual_seed(3)
    branches = [ri.make_branch(5, 9).to(device) for _ in range(n_blocks)]
    x = torch.randn(5, dtype=torch.float64, device=device)
    j_stack, unrolled = ri.unrolled_jacobians(branches, x)
    torch.testing.assert_close(j_stack, unrolled, rtol=0, atol=1e-12)
    # the product of per-block (I + J_i) gives the same matrix (chain rule, second route)
    eye = torch.eye(5, dtype=torch.float64, device=device)
    product, h = eye, x
    for branch in branches:
        product = (eye + torch.autograd.functional.jacobian(branch, h)) @ product
        h = h + branch(h)
    torch.testing.assert_close(j_stack, product, rtol=0, atol=1e-12)


def test_residual_can_shrink_the_gradient(device):
    x = torch.randn(7, dtype=torch.float64, device=device)
    g = torch.randn(7, dtype=torch.float64, device=device)
    out = ri.residual_input_grad(lambda t: -0.9 * t, x, g)
    torch.testing.assert_close(out, 0.1 * g)


@pytest.mark.parametrize("lam", [0.9, 1.0, 1.1])
def test_scaled_shortcuts_multiply_gradient_by_product_of_lambdas(lam, device):
    torch.manual_seed(4)
    x = torch.randn(8, dtype=torch.float64, device=device)
    zeros = [ri.make_branch(8, 16, zero_last=True).to(device) for _ in range(50)]
    ratio = ri.scaled_shortcut_grad_ratio([lam] * 50, zeros, x)
    assert ratio == pytest.approx(lam**50, rel=1e-10)
    # different lambdas per block: the product, not the power
    lams = [0.8, 1.25, 1.1, 0.95, 1.3]
    ratio = ri.scaled_shortcut_grad_ratio(lams, zeros[:5], x)
    assert ratio == pytest.approx(0.8 * 1.25 * 1.1 * 0.95 * 1.3, rel=1e-10)


def test_zero_initialised_branch_starts_as_identity(device):
    torch.manual_seed(5)
    branch = ri.make_branch(6, 12, zero_last=True).to(device)
    x = torch.randn(6, dtype=torch.float64, device=device)
    j_block, _ = ri.residual_jacobians(branch, x)
    assert torch.equal(j_block, torch.eye(6, dtype=torch.float64, device=device))
    assert torch.equal(x + branch(x), x)
    out = x + branch(x)
    ((out - 1) ** 2).sum().backward()
    # the zeroed last layer still gets a gradient (delta times the hidden activation) ...
    hidden = torch.tanh(branch[0](x)).detach()
    torch.testing.assert_close(branch[2].weight.grad, torch.outer(2 * (x - 1), hidden))
    # ... and nothing reaches the first layer until the last one moves away from zero
    assert torch.count_nonzero(branch[0].weight.grad) == 0


def test_random_branches_stay_within_a_factor_of_ten_of_the_shortcut_product():
    """The page: with random branches the ratio stays within a factor of ten of lambda^50,
    while lambda^50 itself spans four orders of magnitude (0.9^50 to 1.1^50)."""
    d, n = 6, 50
    for seed in range(5):
        torch.manual_seed(seed)
        x = torch.randn(d, dtype=torch.float64)
        for lam in [0.9, 1.0, 1.1]:
            branches = [ri.make_branch(d, 16) for _ in range(n)]
            ratio = ri.scaled_shortcut_grad_ratio([lam] * n, branches, x)
            assert 0.1 < ratio / lam**n < 10
