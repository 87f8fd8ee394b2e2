"""Checks for gradient_explorer.py: the networks against torch.nn, and the page's claims."""

from __future__ import annotations

import itertools
import json
import math
import re

import gradient_explorer as ge
import pytest
import torch
from sitecheck import expanded_page
from torch import nn

SEEDS = range(3)
PAGE = "docs/fixes/explorer.md"


def norms(*choice: object, device: torch.device, seed: int = 0) -> list[float]:
    return ge.per_layer_grad_norms(*choice, seed=seed, device=device)  # type: ignore[arg-type]


def ratio(values: list[float]) -> float:
    """First layer's norm over the last layer's."""
    return values[0] / values[-1]


def spread(values: list[float]) -> float:
    """Largest norm over the smallest."""
    return max(values) / min(values)


@pytest.mark.parametrize("init", ge.INITS)
def test_inits_match_torch(init: str) -> None:
    """The default is nn.Linear's U(-1/sqrt(n), 1/sqrt(n)) for weight and bias; the others have
    the standard deviations of torch.nn.init's formulas (n = 512 for a precise sample std)."""
    n, gen = 512, torch.Generator().manual_seed(0)
    w, b = ge.init_layer(init, n, gen)
    assert w.shape == (n, n) and b.shape == (n,) and w.dtype == torch.float64
    reference = torch.empty(n, n, dtype=torch.float64)
    torch.manual_seed(0)
    if init == "PyTorch default":
        layer = nn.Linear(n, n)
        bound = 1 / math.sqrt(n)
        assert w.abs().max() <= bound and b.abs().max() <= bound
        assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
        reference = layer.weight.double()
    elif init == "Xavier (Glorot)":
        nn.init.xavier_normal_(reference)
    elif init == "Kaiming (He)":
        nn.init.kaiming_normal_(reference, nonlinearity="relu")
    else:
        nn.init.normal_(reference, std=0.5 / math.sqrt(n))
    assert w.std().item() == pytest.approx(reference.std().item(), rel=0.01)
    if init != "PyTorch default":
        assert torch.equal(b, torch.zeros(n, dtype=torch.float64))


@pytest.mark.parametrize("architecture", ge.ARCHITECTURES)
def test_norms_match_an_nn_module_network(architecture: str, device: torch.device) -> None:
    """The same weights in nn.Linear / nn.LayerNorm modules, loss.backward(), weight.grad."""
    depth, width, batch, seed = 4, 8, 5, 3
    got = ge.per_layer_grad_norms(
        depth, "tanh", "PyTorch default", architecture, width, batch, seed, device
    )
    gen = torch.Generator().manual_seed(seed)  # the draws in the snippet's order
    x = torch.randn(batch, width, generator=gen, dtype=torch.float64)
    y = torch.randn(batch, width, generator=gen, dtype=torch.float64)
    linears = nn.ModuleList(nn.Linear(width, width, dtype=torch.float64) for _ in range(depth))
    with torch.no_grad():
        for linear in linears:
            w, b = ge.init_layer("PyTorch default", width, gen)
            linear.weight.copy_(w)
            linear.bias.copy_(b)
    norm = nn.LayerNorm(width, elementwise_affine=False, dtype=torch.float64)
    h = x
    for linear in linears:
        branch = torch.tanh(linear(norm(h) if architecture == "pre-LN residual" else h))
        h = branch if architecture == "plain" else h + branch
    nn.MSELoss()(h, y).backward()
    expected = [linear.weight.grad.norm().item() for linear in linears]
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_plain_tanh_with_the_default_init_vanishes(seed: int, device: torch.device) -> None:
    """A gain of about sqrt(E[tanh'^2] / 3) < 0.6 per layer on the way down."""
    for depth, below in ((32, 1e-5), (64, 1e-12)):
        values = norms(depth, "tanh", "PyTorch default", "plain", device=device, seed=seed)
        assert ratio(values) < below, depth
    xavier = norms(32, "tanh", "Xavier (Glorot)", "plain", device=device, seed=seed)
    assert spread(xavier) < 10
    he = [norms(d, "tanh", "Kaiming (He)", "plain", device=device, seed=seed) for d in (16, 64)]
    assert 1 < ratio(he[0]) < ratio(he[1])  # rises toward the input, more so when deeper


@pytest.mark.parametrize("seed", SEEDS)
def test_plain_sigmoid_vanishes_with_every_init(seed: int, device: torch.device) -> None:
    for init in ge.INITS:
        assert ratio(norms(32, "sigmoid", init, "plain", device=device, seed=seed)) < 1e-10, init


@pytest.mark.parametrize("seed", SEEDS)
def test_plain_relu_is_level_with_kaiming_and_level_but_shrinking_otherwise(
    seed: int, device: torch.device
) -> None:
    """Level: no trend across layers, though at width 64 each layer's gain is random and the
    spread of a level line reaches 16 over seeds 0-9 (against 1e6 and more for a sloped one)."""
    for depth in ge.DEPTHS:
        he = norms(depth, "ReLU", "Kaiming (He)", "plain", device=device, seed=seed)
        assert spread(he) < 30 and min(he) > 1e-3, depth
    for activation, init in (
        ("ReLU", "Xavier (Glorot)"),
        ("ReLU", "too small"),
        ("tanh", "too small"),
    ):
        shallow, deep = (
            norms(d, activation, init, "plain", device=device, seed=seed) for d in (16, 64)
        )
        assert spread(deep) < 30, (activation, init)  # level...
        assert max(deep) < 1e-6 * min(shallow), (activation, init)  # ...and far smaller


@pytest.mark.parametrize("seed", SEEDS)
def test_residual_stops_vanishing_not_growth(seed: int, device: torch.device) -> None:
    for activation, init in itertools.product(ge.ACTIVATIONS, ge.INITS):
        values = norms(64, activation, init, "residual", device=device, seed=seed)
        assert ratio(values) > 1e-3, (activation, init)
    for init in ge.INITS:
        shallow, deep = (
            norms(d, "ReLU", init, "residual", device=device, seed=seed) for d in (16, 64)
        )
        assert min(deep) > 1e6 * max(shallow), init
    assert ratio(norms(64, "tanh", "Kaiming (He)", "residual", device=device, seed=seed)) > 10


@pytest.mark.parametrize("seed", SEEDS)
def test_pre_ln_residual_stays_within_a_factor_of_ten(seed: int, device: torch.device) -> None:
    """What the page says of every pre-LN configuration, with margin: the largest spread
    measured is about 6."""
    for choice in itertools.product(ge.DEPTHS, ge.ACTIVATIONS, ge.INITS):
        values = norms(*choice, "pre-LN residual", device=device, seed=seed)
        assert spread(values) < 10, choice


@pytest.fixture(scope="module")
def data() -> dict:
    """What the JSON line carries."""
    return json.loads(json.dumps(ge.grid()))


def test_the_data_covers_every_configuration_in_three_digits(data: dict) -> None:
    assert [name for name, _ in data["controls"]] == [
        "Depth",
        "Activation",
        "Initialization",
        "Architecture",
    ]
    choices = [values for _, values in data["controls"]]
    assert data["start"] in [list(c) for c in itertools.product(*choices)]
    assert data["reference"][1] in choices[3]
    keys = {"|".join(str(v) for v in choice) for choice in itertools.product(*choices)}
    assert set(data["norms"]) == keys and len(keys) == 4 * 3 * 4 * 3
    for key, values in data["norms"].items():
        assert len(values) == int(key.split("|")[0])
        assert all(0 < v < math.inf and float(f"{v:.3g}") == v for v in values), key


def test_the_explorer_page_reads_this_data(data: dict) -> None:
    """The page places the run as JSON where its script looks for it, with the figure as the
    fallback, and the data is this snippet's grid."""
    page = expanded_page(PAGE)
    explorer = re.search(
        r'<div class="explorer" data-source="([^"]+)" data-fallback="([^"]+)">', page
    )
    assert explorer, "no explorer element"
    source, fallback = explorer.groups()
    element = re.search(rf'<script type="application/json" id="{source}">(.*)</script>', page)
    assert element, f"no data element with id {source}"
    assert re.search(rf'<div class="explorer-static" id="{fallback}" markdown>\n!\[', page)
    recorded = json.loads(element.group(1))
    assert recorded["controls"] == data["controls"] and set(recorded["norms"]) == set(data["norms"])
    for key, values in data["norms"].items():
        assert recorded["norms"][key] == pytest.approx(values, rel=0.01), key
