"""Checks for init_sanity_checks.py: the report flags a bad init and passes a good one."""

from __future__ import annotations

import math

import init_sanity_checks as sc
import pytest
import torch
from torch import nn

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def _data(device: torch.device):
    torch.manual_seed(0)
    return torch.randn(256, 32, device=device), torch.randint(0, 10, (256,), device=device)


def test_uniform_logits_give_loss_ln_classes(device: torch.device) -> None:
    x, y = _data(device)
    torch.manual_seed(1)
    model = sc.tanh_classifier(4, 16, 32, 10, "xavier-tanh").to(device)
    nn.init.zeros_(model[-1].weight)
    report = sc.sanity_report(model, x, y, 10)
    assert report["initial loss / ln(classes)"][0] == pytest.approx(1.0, abs=1e-6)
    assert math.log(10) == pytest.approx(2.302585)


def test_report_removes_its_hooks(device: torch.device) -> None:
    x, y = _data(device)
    model = sc.tanh_classifier(3, 16, 32, 10, "default").to(device)
    sc.sanity_report(model, x, y, 10)
    assert all(len(m._forward_hooks) == 0 for m in model)


def test_xavier_tanh_init_has_the_stated_weights() -> None:
    torch.manual_seed(0)
    model = sc.tanh_classifier(3, 256, 256, 10, "xavier-tanh")
    w = model[2].weight.detach()
    assert float(w.std()) == pytest.approx((5 / 3) * math.sqrt(2 / 512), rel=0.02)
    assert float(model[-1].weight.detach().std()) == pytest.approx(
        0.01 * (5 / 3) * math.sqrt(2 / 266), rel=0.1
    )


@pytest.fixture(scope="module")
def page_reports() -> dict[str, dict[str, tuple[float, bool]]]:
    x, y = _data(torch.device("cpu"))
    out = {}
    for init in ["default", "xavier-tanh"]:
        torch.manual_seed(1)
        out[init] = sc.sanity_report(sc.tanh_classifier(20, 64, 32, 10, init), x, y, 10)
    return out


def test_default_init_fails_activation_and_gradient_checks(page_reports) -> None:
    report = page_reports["default"]
    assert not report["smallest activation std"][1]
    assert not report["max/min hidden-layer gradient norm"][1]
    assert report["all gradients finite"][1]


def test_xavier_tanh_passes_every_check(page_reports) -> None:
    assert all(ok for _, ok in page_reports["xavier-tanh"].values())


def test_overfit_one_batch_separates_the_two_inits() -> None:
    x, y = _data(torch.device("cpu"))
    results = {}
    for init in ["default", "xavier-tanh"]:
        torch.manual_seed(1)
        results[init] = sc.overfits_one_batch(
            sc.tanh_classifier(20, 64, 32, 10, init), x[:16], y[:16]
        )
    first, last = results["xavier-tanh"]
    assert last < 0.1 * first
    first, last = results["default"]
    assert last > 0.1 * first
