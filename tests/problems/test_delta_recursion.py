"""Checks for delta_recursion.py: the delta recursion against autograd and numerics."""

from __future__ import annotations

import math
import re

import delta_recursion as dr
import pytest
import torch
from sitecheck import expanded_page


def _setup(depth: int, width: int, seed: int, device: torch.device):
    torch.manual_seed(seed)
    weights, biases = dr.init_sigmoid_mlp(depth, width, device=device)
    biases = [0.1 * torch.randn_like(b) for b in biases]  # non-zero biases exercise the formula
    x = torch.randn(width, dtype=torch.float64, device=device)
    y = torch.rand(width, dtype=torch.float64, device=device)
    return weights, biases, x, y


def _loss(weights, biases, x, y) -> torch.Tensor:
    _, acts = dr.forward(weights, biases, x)
    return 0.5 * ((acts[-1] - y) ** 2).sum()


@pytest.mark.parametrize(("depth", "width", "seed"), [(2, 3, 0), (5, 7, 1), (12, 16, 2)])
def test_deltas_by_hand_equal_autograd(
    depth: int, width: int, seed: int, device: torch.device
) -> None:
    weights, biases, x, y = _setup(depth, width, seed, device)
    zs, acts = dr.forward(weights, biases, x)
    deltas = dr.deltas_by_hand(weights, zs, acts[-1], y)
    # dL/db_l = delta_l, so autograd's bias gradients are the deltas
    bs = [b.clone().requires_grad_(True) for b in biases]
    grads = torch.autograd.grad(_loss(weights, bs, x, y), bs)
    for d, g in zip(deltas, grads, strict=True):
        torch.testing.assert_close(d, g, rtol=1e-10, atol=1e-14)


def test_delta_one_against_central_differences(device: torch.device) -> None:
    """dL/dx = W_1^T delta_1, checked without autograd."""
    weights, biases, x, y = _setup(4, 5, 3, device)
    zs, acts = dr.forward(weights, biases, x)
    dl_dx = weights[0].T @ dr.deltas_by_hand(weights, zs, acts[-1], y)[0]
    h = 1e-6
    numeric = torch.stack(
        [
            (_loss(weights, biases, x + h * e, y) - _loss(weights, biases, x - h * e, y)) / (2 * h)
            for e in torch.eye(5, dtype=torch.float64, device=device)
        ]
    )
    torch.testing.assert_close(dl_dx, numeric, rtol=1e-6, atol=1e-10)


def test_gradcheck_of_the_network(device: torch.device) -> None:
    weights, biases, x, y = _setup(3, 4, 4, device)
    x = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: _loss(weights, biases, v, y), (x,))


def test_layer_jacobian_matches_autograd(device: torch.device) -> None:
    weights, biases, x, _ = _setup(3, 6, 5, device)
    zs, _ = dr.forward(weights, biases, x)

    def next_z(z: torch.Tensor) -> torch.Tensor:
        return weights[1] @ torch.sigmoid(z) + biases[1]

    jac = torch.autograd.functional.jacobian(next_z, zs[0])
    torch.testing.assert_close(dr.layer_jacobian(weights[1], zs[0]), jac)


@pytest.mark.parametrize("layer", [1, 3, 7, 8])
def test_jacobian_product_equals_recursion(layer: int, device: torch.device) -> None:
    weights, biases, x, y = _setup(8, 6, 6, device)
    zs, acts = dr.forward(weights, biases, x)
    deltas = dr.deltas_by_hand(weights, zs, acts[-1], y)
    via = dr.delta_from_jacobian_product(weights, zs, deltas[-1], layer)
    torch.testing.assert_close(via, deltas[layer - 1], rtol=1e-10, atol=1e-30)


def test_rigorous_bound_with_quarter_and_spectral_norms(device: torch.device) -> None:
    """||delta_l|| <= ||delta_L|| prod_k 0.25 ||W_{k+1}||_2, since |sigma'| <= 1/4."""
    depth = 20
    weights, biases, x, y = _setup(depth, 32, 0, device)
    zs, acts = dr.forward(weights, biases, x)
    deltas = dr.deltas_by_hand(weights, zs, acts[-1], y)
    spectral = [float(torch.linalg.matrix_norm(W, ord=2)) for W in weights]
    for layer in range(1, depth):
        bound = float(deltas[-1].norm()) * math.prod(0.25 * s for s in spectral[layer:])
        assert float(deltas[layer - 1].norm()) <= bound * (1 + 1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_typical_factor_per_layer_is_below_a_quarter(seed: int) -> None:
    """With Xavier weights the mean-field factor per layer is sqrt(E[sigma'(z)^2]) <= 0.25."""
    depth = 20
    weights, biases, x, y = _setup(depth, 32, seed, torch.device("cpu"))
    biases = [torch.zeros_like(b) for b in biases]
    zs, acts = dr.forward(weights, biases, x)
    deltas = dr.deltas_by_hand(weights, zs, acts[-1], y)
    factor = (float(deltas[0].norm()) / float(deltas[-1].norm())) ** (1 / (depth - 1))
    assert 0.12 < factor < 0.25


def test_page_run_matches_the_quarter_power_comparison() -> None:
    """The page's run (seed 0, 20 x 32): ||delta_1|| / ||delta_20|| is what the page quotes, and
    below 0.25^19 as the page says."""
    torch.manual_seed(0)
    weights, biases = dr.init_sigmoid_mlp(20, 32)
    x = torch.randn(32, dtype=torch.float64)
    y = torch.rand(32, dtype=torch.float64)
    zs, acts = dr.forward(weights, biases, x)
    deltas = dr.deltas_by_hand(weights, zs, acts[-1], y)
    ratio = float(deltas[0].norm() / deltas[-1].norm())
    assert ratio < 0.25**19
    assert ratio > 0.1**19
    page = " ".join(expanded_page("docs/problems/vanishing-exploding.md").split())
    sentence = re.search(
        r"at layer 1 it is \$([\d.]+) \\times 10\^\{(-\d+)\}\$ of the output error, below "
        r"\$0\.25\^\{19\} = ([\d.]+) \\times 10\^\{(-\d+)\}\$",
        page,
    )
    assert sentence, "the page no longer compares layer 1 with 0.25^19"
    quoted, bound = (float(f"{m}e{e}") for m, e in (sentence.group(1, 2), sentence.group(3, 4)))
    assert quoted == pytest.approx(ratio, rel=0.02)
    assert bound == pytest.approx(0.25**19, rel=0.02)


def test_spectral_norm_of_a_xavier_square_matrix_is_near_two() -> None:
    """A (n, n) matrix with iid entries of std 1/sqrt(n) has largest singular value ~ 2."""
    torch.manual_seed(0)
    weights, _ = dr.init_sigmoid_mlp(20, 32)
    norms = [float(torch.linalg.matrix_norm(W, ord=2)) for W in weights]
    assert min(norms) > 1.6 and max(norms) < 2.3
