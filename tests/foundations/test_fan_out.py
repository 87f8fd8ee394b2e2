"""Checks for fan_out.py: a value used twice gets the sum of its paths' gradients."""

from __future__ import annotations

import fan_out as fo
import torch
from sitecheck import expanded_page

PAGE = "docs/foundations/chain-rule.md"


def test_sum_over_paths_is_autograds(device: torch.device) -> None:
    x = torch.linspace(-4, 4, 81, dtype=torch.float64, device=device)
    torch.testing.assert_close(fo.dL_dx_sum_over_paths(x), fo.dL_dx_autograd(x))


def test_each_path_is_autograd_with_the_other_use_detached(device: torch.device) -> None:
    x = torch.linspace(-4, 4, 81, dtype=torch.float64, device=device)
    paths = fo.path_gradients(x)
    torch.testing.assert_close(fo.dL_dx_one_path(x, "u"), paths["via u"])
    torch.testing.assert_close(fo.dL_dx_one_path(x, "v"), paths["via v"])
    # the closed form on the page: d/dx (x^2 sin x) = x^2 cos x + 2 x sin x
    closed = x**2 * torch.cos(x) + 2 * x * torch.sin(x)
    torch.testing.assert_close(fo.dL_dx_sum_over_paths(x), closed)


def test_one_path_alone_is_wrong_where_the_page_says_so() -> None:
    """At x = 3 the paths have opposite signs: the path through v alone has the wrong sign, the
    path through u alone overshoots by the other path's size (about 10 %)."""
    x = torch.tensor(3.0, dtype=torch.float64)
    p = fo.path_gradients(x)
    total = fo.dL_dx_sum_over_paths(x)
    assert p["via u"] * p["via v"] < 0
    assert p["via v"] * total < 0
    assert p["via u"].abs() > 1.05 * total.abs()
    page = " ".join(expanded_page(PAGE).split())
    assert "the path through $v$ alone has the wrong sign" in page


def test_gradcheck_of_the_graph() -> None:
    x = torch.tensor([0.3, -1.2, 3.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: fo.forward(t)["L"], (x,))


def test_accumulation_over_backward_calls_is_the_same_sum() -> None:
    """Two backward calls, one per use, leave the gradient of the whole graph in .grad."""
    x = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    u, v = torch.sin(x), x**2
    (u * v.detach()).backward()
    (u.detach() * v).backward()
    torch.testing.assert_close(x.grad, fo.dL_dx_autograd(x))


def test_page_quotes_the_printed_paths() -> None:
    page = " ".join(expanded_page(PAGE).split())
    assert "## A value used twice: gradients add" in page
    x = torch.tensor(3.0, dtype=torch.float64)
    p = fo.path_gradients(x)
    via_u, via_v = (f"{p[k].item():.4g}" for k in ("via u", "via v"))
    total = f"{fo.dL_dx_sum_over_paths(x).item():.4g}"
    assert f"The path through $u$ gives ${via_u}$ and the path through $v$ gives ${via_v}$" in page
    assert f"their sum, ${total}$, is what autograd stores in `x.grad`" in page
    assert f"{via_u} through u plus {via_v} through v, which is {total}" in page
