"""The snippets' hand-written maths on `--device`, compared with the same maths on the CPU.

The per-snippet tests check each snippet against torch on a single device. Here every case
builds its inputs on the CPU in float64 from fixed seeds, moves them to the device under test in
the dtype under test, runs the snippet's own functions, and compares each result with the CPU
float64 run. With `--device cuda` that shows the published (CPU) numbers are not an accident of
the CPU's kernels; on the CPU the float32 runs still check the float32 tolerance, and
`test_float64_tolerance_rejects_float32_results` shows each comparison is tight enough to fail.

Tolerance: for every tensor, ||got - ref|| <= RTOL[dtype] * ||ref|| (2-norm over all entries),
which does not depend on the scale of the tensor (deltas deep in a sigmoid net are ~1e-7).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import clip_from_scratch as cfs
import delta_recursion as dr
import hessian_power_iteration as hpi
import layer_norm_details as lnd
import mlp_backprop as mb
import norm_layers as nl
import optimizers_from_scratch as ofs
import per_example_grads as peg
import pytest
import residual_identity as ri
import rnn_vs_lstm as rl
import torch
from torch import Tensor, nn

F64 = torch.float64
CPU = torch.device("cpu")
# float64 on another device differs only in the order of summation: ~1e-16 per operation.
# float32 against float64: ~1e-7 per operation, grown by depth and iterations; the worst case
# on the CPU is 5e-7 (the delta recursion through 10 layers), so 1e-5 leaves room for other
# kernels but still catches a TF32 matmul or convolution (a 10-bit mantissa: ~1e-3).
RTOL = {torch.float64: 1e-10, torch.float32: 1e-5}

Case = Callable[[torch.device, torch.dtype], dict[str, Tensor]]
CASES: dict[str, Case] = {}


def case(fn: Case) -> Case:
    CASES[fn.__name__] = fn
    return fn


def randn(seed: int, *shape: int) -> Tensor:
    """Inputs always come from the CPU generator, so every device starts from the same numbers."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def forward_backward(
    fn: Callable[..., Tensor],
    grad_out: Tensor,
    **inputs: Tensor,
) -> dict[str, Tensor]:
    leaves = {name: t.detach().requires_grad_() for name, t in inputs.items()}
    out = fn(**leaves)
    out.backward(grad_out)
    return {"output": out.detach(), **{f"d/d{name}": t.grad for name, t in leaves.items()}}


@case
def mlp_backprop_by_hand(device: torch.device, dtype: torch.dtype) -> dict[str, Tensor]:
    torch.manual_seed(0)
    p = {k: t.to(device, dtype) for k, t in mb.init_params(6, 5).items()}
    x, y = randn(1, 32, 6).to(device, dtype), randn(2, 32, 1).sigmoid().to(device, dtype)
    by_hand = mb.backward_by_hand(p, mb.forward(p, x), y)
    autograd = mb.grads_autograd(p, x, y)
    return {f"hand {k}": v for k, v in by_hand.items()} | {
        f"autograd {k}": v for k, v in autograd.items()
    }


@case
def delta_recursion(device: torch.device, dtype: torch.dtype) -> dict[str, Tensor]:
    torch.manual_seed(1)
    weights, biases = dr.init_sigmoid_mlp(10, 16)
    weights = [w.to(device, dtype) for w in weights]
    biases = [b.to(device, dtype) for b in biases]
    x, y = randn(2, 16).to(device, dtype), randn(3, 16).sigmoid().to(device, dtype)
    zs, acts = dr.forward(weights, biases, x)
    deltas = dr.deltas_by_hand(weights, zs, acts[-1], y)
    product = dr.delta_from_jacobian_product(weights, zs, deltas[-1], 1)
    return {f"delta_{i}": d for i, d in enumerate(deltas, 1)} | {"delta_1 as J^T product": product}


@case
def norm_layers_from_scratch(device: torch.device, dtype: torch.dtype) -> dict[str, Tensor]:
    x = (3 * randn(4, 16, 8) + 1).to(device, dtype)
    gamma, beta = (1 + 0.3 * randn(5, 8)).to(device, dtype), randn(6, 8).to(device, dtype)
    grad_out = randn(7, 16, 8).to(device, dtype)
    v, g = randn(8, 8, 8).to(device, dtype), (1 + 0.3 * randn(9, 8, 1)).to(device, dtype)

    def batch_norm(x: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
        stats = torch.zeros_like(gamma), torch.ones_like(gamma)
        return nl.batch_norm(x, gamma, beta, *stats, training=True)

    def rms_norm(x: Tensor, gamma: Tensor) -> Tensor:
        return nl.rms_norm(x, gamma, eps=1e-6)  # the default eps depends on the dtype

    def weight_norm_linear(x: Tensor, v: Tensor, g: Tensor) -> Tensor:
        return x @ nl.weight_norm_weight(v, g).T

    layers: dict[str, tuple[Callable[..., Tensor], dict[str, Tensor]]] = {
        "batch_norm": (batch_norm, {"x": x, "gamma": gamma, "beta": beta}),
        "layer_norm": (nl.layer_norm, {"x": x, "gamma": gamma, "beta": beta}),
        "rms_norm": (rms_norm, {"x": x, "gamma": gamma}),
        "weight_norm": (weight_norm_linear, {"x": x, "v": v, "g": g}),
    }
    results = {}
    for name, (fn, inputs) in layers.items():
        for key, value in forward_backward(fn, grad_out, **inputs).items():
            results[f"{name} {key}"] = value
    return results


@case
def layer_norm_backward_by_hand(device: torch.device, dtype: torch.dtype) -> dict[str, Tensor]:
    x = (5 + 2 * randn(10, 4, 7, 16)).to(device, dtype)
    gamma = (1 + 0.3 * randn(11, 16)).to(device, dtype)
    grad_y = randn(12, 4, 7, 16).to(device, dtype)
    grad_x, grad_gamma, grad_beta = lnd.layer_norm_backward(x, gamma, grad_y)
    return {"dL/dx": grad_x, "dL/dgamma": grad_gamma, "dL/dbeta": grad_beta}


@case
def residual_gradient_identity(device: torch.device, dtype: torch.dtype) -> dict[str, Tensor]:
    torch.manual_seed(13)
    branch = ri.make_branch(8, 16).to(device, dtype)
    x, grad_y = randn(14, 8).to(device, dtype), randn(15, 8).to(device, dtype)
    j_block, j_identity = ri.residual_jacobians(branch, x)
    return {
        "dL/dx": ri.residual_input_grad(branch, x, grad_y),
        "Jacobian of x + F(x)": j_block,
        "I + dF/dx": j_identity,
    }


@case
def rnn_and_lstm_input_gradients(device: torch.device, dtype: torch.dtype) -> dict[str, Tensor]:
    torch.manual_seed(22)
    cells = {"RNN": nn.RNNCell(4, 8), "LSTM": rl.set_forget_bias(nn.LSTMCell(4, 8), 1.0)}
    x = randn(23, 20, 3, 4).to(device, dtype)
    results = {}
    for name, cell in cells.items():
        norms, mean_forget = rl.input_grad_norms(cell.to(device, dtype), x)
        results[f"{name} ||dL/dx_t||"] = torch.tensor(norms, dtype=F64)
    results["LSTM mean forget gate"] = torch.tensor([mean_forget], dtype=F64)
    return results


@case
def per_example_gradients(device: torch.device, dtype: torch.dtype) -> dict[str, Tensor]:
    torch.manual_seed(16)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).to(device, dtype)
    x = randn(17, 12, 5).to(device, dtype)
    y = torch.arange(12).remainder(3).to(device)
    return peg.per_example_grads(model, x, y)


@case
def optimizers_from_scratch(device: torch.device, dtype: torch.dtype) -> dict[str, Tensor]:
    theta0 = randn(18, 10, 3).to(device, dtype)
    loss_fn = ofs.softmax_regression_loss(device=device, dtype=dtype)
    rules = {name: (rule, hp) for name, (rule, _, hp) in ofs.CASES.items()}
    rules["Lion"] = (ofs.lion_step, {"lr": 1e-3, "weight_decay": 0.1})
    return {
        name: torch.stack(ofs.run_rule(rule, theta0, loss_fn, 50, **hp))
        for name, (rule, hp) in rules.items()
    }


@case
def clip_grad_norm_from_scratch(device: torch.device, dtype: torch.dtype) -> dict[str, Tensor]:
    torch.manual_seed(19)
    model = cfs.mixed_shape_model().to(device, dtype)
    x = randn(20, 8, 3, 3).to(device, dtype)
    results = {}
    for norm_type in (1.0, 2.0, math.inf):
        model.zero_grad()
        model(x).pow(2).mean().backward()
        results[f"total {norm_type}-norm"] = cfs.clip_grad_norm(model.parameters(), 0.1, norm_type)
        results[f"clipped grads ({norm_type}-norm)"] = torch.cat(
            [p.grad.flatten() for p in model.parameters()]
        )
    return results


@case
def hessian_power_iteration(device: torch.device, dtype: torch.dtype) -> dict[str, Tensor]:
    model, x, y = hpi.make_problem(device=device)
    loss_fn, theta = hpi.flat_loss(model.to(dtype), x.to(dtype), y.to(dtype))
    v0 = randn(21, theta.numel()).to(device, dtype)
    top, _, _ = hpi.power_iteration(lambda v: hpi.hvp(loss_fn, theta, v), v0, iters=100)
    return {"H v": hpi.hvp(loss_fn, theta, v0), "top eigenvalue": torch.tensor(top, dtype=F64)}


@cache
def reference(name: str) -> dict[str, Tensor]:
    return CASES[name](CPU, F64)


def relative_errors(got: dict[str, Tensor], ref: dict[str, Tensor]) -> dict[str, float]:
    assert got.keys() == ref.keys()
    errors = {}
    for key, expected in ref.items():
        actual = got[key].detach().to(CPU, F64)
        assert actual.shape == expected.shape, key
        assert torch.isfinite(actual).all(), f"{key}: non-finite values"
        errors[key] = ((actual - expected).norm() / expected.norm()).item()
    return errors


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(CASES))
def test_device_matches_cpu_float64(device: torch.device, name: str, dtype: torch.dtype) -> None:
    errors = relative_errors(CASES[name](device, dtype), reference(name))
    worst = max(errors, key=errors.__getitem__)
    assert errors[worst] <= RTOL[dtype], (
        f"{name} on {device} in {dtype}: {worst} is off by {errors[worst]:.2e} relative "
        f"to CPU float64 (tolerance {RTOL[dtype]:.0e})"
    )


@pytest.mark.parametrize("name", list(CASES))
def test_float64_tolerance_rejects_float32_results(device: torch.device, name: str) -> None:
    errors = relative_errors(CASES[name](device, torch.float32), reference(name))
    assert max(errors.values()) > RTOL[torch.float64], f"{name}: the comparison cannot fail"
