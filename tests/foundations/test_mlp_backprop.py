"""Checks for mlp_backprop.py: the hand-derived backward pass of the sigmoid MLP."""

from __future__ import annotations

import mlp_backprop as mb
import pytest
import torch

SHAPES = [(1, 1, 1), (3, 1, 1), (3, 4, 1), (5, 2, 7), (10, 16, 32), (64, 32, 256), (2, 50, 3)]


def problem(D: int, H: int, B: int, device: torch.device, seed: int = 0):
    torch.manual_seed(seed)
    p = mb.init_params(D, H, device=device)
    X = torch.randn(B, D, dtype=torch.float64, device=device)
    Y = torch.rand(B, 1, dtype=torch.float64, device=device)
    return p, X, Y


def autograd_functional(p, X, Y):
    """Autograd on the snippet's own forward: independent of the nn.Module route."""
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in p.items()}
    loss = mb.loss_fn(mb.forward(leaves, X)["a2"], Y)
    return dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values())), strict=True))


def test_sigmoid_and_its_derivative(device: torch.device) -> None:
    z = torch.linspace(-30, 30, 601, dtype=torch.float64, device=device, requires_grad=True)
    torch.testing.assert_close(mb.sigmoid(z), torch.sigmoid(z))
    (d,) = torch.autograd.grad(torch.sigmoid(z).sum(), z)
    torch.testing.assert_close(mb.sigmoid_prime(z.detach()), d)
    assert mb.sigmoid_prime(torch.zeros(1, dtype=torch.float64)).item() == 0.25
    assert mb.sigmoid_prime(z.detach()).max().item() == 0.25  # the maximum, at z = 0


@pytest.mark.parametrize(("D", "H", "B"), SHAPES)
def test_hand_gradients_equal_autograd(D: int, H: int, B: int, device: torch.device) -> None:
    p, X, Y = problem(D, H, B, device)
    hand = mb.backward_by_hand(p, mb.forward(p, X), Y)
    module = mb.grads_autograd(p, X, Y)
    functional = autograd_functional(p, X, Y)
    for k, param in p.items():
        assert hand[k].shape == param.shape == module[k].shape
        torch.testing.assert_close(hand[k], module[k], rtol=1e-10, atol=1e-14)
        torch.testing.assert_close(hand[k], functional[k], rtol=1e-10, atol=1e-14)
    assert max(mb.max_abs_diff(hand, module).values()) < 1e-14


def test_autograd_tab_uses_the_same_layout_as_nn_linear(device: torch.device) -> None:
    p, X, _ = problem(4, 3, 5, device)
    layer = torch.nn.Linear(4, 3).double().to(device)
    with torch.no_grad():
        layer.weight.copy_(p["W1"])
        layer.bias.copy_(p["b1"])
    torch.testing.assert_close(layer(X), mb.forward(p, X)["z1"])


class HandMLPLoss(torch.autograd.Function):
    """The loss as a function of (W1, b1, W2, b2), whose backward is the hand-written one."""

    @staticmethod
    def forward(ctx, W1, b1, W2, b2, X, Y):
        p = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
        cache = mb.forward(p, X)
        ctx.save_for_backward(W1, b1, W2, b2, X, Y)
        return mb.loss_fn(cache["a2"], Y)

    @staticmethod
    def backward(ctx, grad_out):
        W1, b1, W2, b2, X, Y = ctx.saved_tensors
        p = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
        g = mb.backward_by_hand(p, mb.forward(p, X), Y)
        return (*(grad_out * g[k] for k in ("W1", "b1", "W2", "b2")), None, None)


@pytest.mark.parametrize(("D", "H", "B"), [(3, 1, 1), (3, 4, 2), (6, 5, 9)])
def test_gradcheck_hand_backward(D: int, H: int, B: int, device: torch.device) -> None:
    p, X, Y = problem(D, H, B, device, seed=1)
    params = [p[k].clone().requires_grad_(True) for k in ("W1", "b1", "W2", "b2")]
    assert torch.autograd.gradcheck(HandMLPLoss.apply, (*params, X, Y), eps=1e-6, atol=1e-8)


def test_central_differences_agree_with_autograd(device: torch.device) -> None:
    p, X, Y = problem(4, 3, 6, device, seed=2)
    grads = autograd_functional(p, X, Y)
    h = 1e-6
    for k in p:
        for i in range(p[k].numel()):
            plus = {**p, k: p[k].clone()}
            minus = {**p, k: p[k].clone()}
            plus[k].view(-1)[i] += h
            minus[k].view(-1)[i] -= h
            fd = (
                mb.loss_fn(mb.forward(plus, X)["a2"], Y) - mb.loss_fn(mb.forward(minus, X)["a2"], Y)
            ) / (2 * h)
            assert abs(fd.item() - grads[k].view(-1)[i].item()) < 1e-6


def test_single_example_matches_the_column_vector_formulas(device: torch.device) -> None:
    """B = 1: delta2 = (y_pred - y) s'(z2), dW2 = delta2 a1^T, delta1 = (W2^T delta2) * s'(z1)..."""
    p, X, Y = problem(5, 4, 1, device, seed=3)
    x, y = X[0], Y[0, 0]  # x: (D,), y: scalar
    z1 = p["W1"] @ x + p["b1"]  # (H,)
    a1 = torch.sigmoid(z1)
    z2 = p["W2"] @ a1 + p["b2"]  # (1,)
    a2 = torch.sigmoid(z2)
    delta2 = (a2 - y) * a2 * (1 - a2)  # (1,)
    delta1 = (p["W2"].T @ delta2) * a1 * (1 - a1)  # (H,)
    g = mb.backward_by_hand(p, mb.forward(p, X), Y)
    torch.testing.assert_close(g["W2"], delta2[:, None] * a1[None, :])
    torch.testing.assert_close(g["b2"], delta2)
    torch.testing.assert_close(g["W1"], torch.outer(delta1, x))
    torch.testing.assert_close(g["b1"], delta1)


def test_batch_gradient_is_the_mean_of_per_example_gradients(device: torch.device) -> None:
    p, X, Y = problem(6, 5, 12, device, seed=4)
    batch = mb.backward_by_hand(p, mb.forward(p, X), Y)
    singles = [mb.backward_by_hand(p, mb.forward(p, X[i : i + 1]), Y[i : i + 1]) for i in range(12)]
    for k in p:
        torch.testing.assert_close(batch[k], torch.stack([s[k] for s in singles]).mean(0))


def test_summed_loss_gives_B_times_the_gradient(device: torch.device) -> None:
    p, X, Y = problem(6, 5, 12, device, seed=5)
    leaves = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    summed = 0.5 * (mb.forward(leaves, X)["a2"] - Y).pow(2).sum()
    grads = torch.autograd.grad(summed, list(leaves.values()))
    hand = mb.backward_by_hand(p, mb.forward(p, X), Y)
    for k, g in zip(leaves, grads, strict=True):
        torch.testing.assert_close(g, 12 * hand[k])
