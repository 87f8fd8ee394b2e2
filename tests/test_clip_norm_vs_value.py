"""Checks for snippets/clip_norm_vs_value.py: norm clipping keeps the direction, value does not."""

from __future__ import annotations

import itertools
import math

import clip_norm_vs_value as cv
import pytest
import torch
from sitecheck import expanded_page
from torch import nn


def test_clip_by_norm_matches_torch_and_keeps_direction(device: torch.device) -> None:
    torch.manual_seed(0)
    g = torch.randn(1000, device=device, dtype=torch.float64) * 3
    for max_norm in (0.1, 1.0, 1e4):
        ours = cv.clip_by_norm(g, max_norm)
        p = nn.Parameter(torch.zeros_like(g))
        p.grad = g.clone()
        nn.utils.clip_grad_norm_([p], max_norm)
        torch.testing.assert_close(ours, p.grad, rtol=1e-12, atol=0)
        assert cv.cosine_similarity(g, ours) == pytest.approx(1.0, abs=1e-12)
        assert ours.norm().item() <= max_norm or max_norm > g.norm().item()


def test_clip_by_value_matches_torch(device: torch.device) -> None:
    torch.manual_seed(1)
    g = torch.randn(500, device=device)
    p = nn.Parameter(torch.zeros_like(g))
    p.grad = g.clone()
    nn.utils.clip_grad_value_([p], 0.3)
    torch.testing.assert_close(cv.clip_by_value(g, 0.3), p.grad, rtol=0, atol=0)


def test_two_dimensional_example_in_prose(device: torch.device) -> None:
    """The clipping page's two-element example is on the page, and it is what the snippet's
    functions make of g = (4, 0.5): the norm-clipped vector, the value-clipped one, the angle."""
    page = " ".join(expanded_page("docs/practice/clipping.md").split())
    g = torch.tensor([4.0, 0.5], device=device, dtype=torch.float64)
    norm = math.sqrt(16.25)
    by_norm = cv.clip_by_norm(g, 1.0)
    torch.testing.assert_close(by_norm, g / (norm + 1e-6))
    by_value = cv.clip_by_value(g, 1.0)
    assert by_value.tolist() == [1.0, 0.5]
    cos = cv.cosine_similarity(g, by_value)
    assert cos == pytest.approx((4 * 1 + 0.5 * 0.5) / (norm * math.sqrt(1.25)), rel=1e-12)
    a, b = by_norm.tolist()
    assert (
        f"$g = (4, 0.5)$ clipped by norm to 1 becomes $({a:.4f}, {b:.4f})$, the same direction; "
        "clipped by value at 1 it becomes $(1, 0.5)$, which is about "
        f"{math.degrees(math.acos(cos)):.1f}° away from $g$ (cosine {cos:.4f})" in page
    )


def test_value_clipping_tends_to_the_sign_vector(device: torch.device) -> None:
    g = cv.model_gradient(device=device)
    assert g.numel() == 32 * 64 + 64 + 64 * 32 + 32 + 32 + 1 == 4225
    assert int(g.abs().argmax()) == 4224  # the largest element is the output layer's bias
    tiny = g.abs()[g != 0].min().item() / 2
    sign_limit = (g.abs().sum() / (math.sqrt(g.numel()) * g.norm())).item()
    assert cv.cosine_similarity(g, cv.clip_by_value(g, tiny)) == pytest.approx(sign_limit, rel=1e-4)
    assert cv.cosine_similarity(g, torch.sign(g)) == pytest.approx(sign_limit, rel=1e-4)


def test_value_clipping_cosine_grows_with_the_threshold(device: torch.device) -> None:
    g = cv.model_gradient(device=device)
    top = g.abs().max().item()
    cosines = [
        cv.cosine_similarity(g, cv.clip_by_value(g, r * top)) for r in (1e-4, 1e-3, 1e-2, 0.1, 0.5)
    ]
    assert all(a < b for a, b in itertools.pairwise(cosines))
    assert cosines[-1] < 0.999  # even clipping only the top element bends the direction
    assert cv.cosine_similarity(g, cv.clip_by_value(g, top)) == pytest.approx(1.0, abs=1e-6)
    for max_norm in (1e-3, 1.0, 1e3):
        assert cv.cosine_similarity(g, cv.clip_by_norm(g, max_norm)) == pytest.approx(1.0, abs=1e-5)
