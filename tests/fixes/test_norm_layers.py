"""Checks for norm_layers.py: each from-scratch layer against its torch.nn module."""

from __future__ import annotations

import norm_layers as nl
import pytest
import torch
from sitecheck import expanded_page
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

KINDS = ["batch_norm_train", "batch_norm_eval", "layer_norm", "rms_norm", "weight_norm"]
SHAPES = [(2, 3), (8, 4), (32, 16), (128, 64)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_from_scratch_equals_torch_forward_and_backward(kind, shape, device):
    torch.manual_seed(1)
    x = 2 + 3 * torch.randn(shape, dtype=torch.float64, device=device)
    fwd, bwd = nl.max_abs_diff_with_torch(kind, x)
    assert fwd < 1e-10
    assert bwd < 1e-10


def test_layer_norm_on_3d_input_matches_module(device):
    torch.manual_seed(2)
    x = torch.randn(4, 5, 16, dtype=torch.float64, device=device)
    module = nn.LayerNorm(16).to(device=device, dtype=torch.float64)
    ours = nl.layer_norm(x, module.weight, module.bias)
    torch.testing.assert_close(ours, module(x), rtol=0, atol=1e-12)


def test_batch_norm_running_statistics_follow_torch(device):
    """Running mean and (unbiased) running variance after a few training batches."""
    assert nn.BatchNorm1d(3).momentum == 0.1  # the m = 0.1 on the page
    torch.manual_seed(3)
    bn = nn.BatchNorm1d(6).to(device=device, dtype=torch.float64)
    mean = torch.zeros(6, dtype=torch.float64, device=device)
    var = torch.ones(6, dtype=torch.float64, device=device)
    for _ in range(4):
        x = 1 + 2 * torch.randn(10, 6, dtype=torch.float64, device=device)
        bn(x)
        nl.batch_norm(x, bn.weight, bn.bias, mean, var, training=True)
    torch.testing.assert_close(mean, bn.running_mean, rtol=0, atol=1e-12)
    torch.testing.assert_close(var, bn.running_var, rtol=0, atol=1e-12)


def test_batch_norm_training_output_has_zero_mean_unit_variance(device):
    torch.manual_seed(4)
    x = 5 + 3 * torch.randn(64, 8, dtype=torch.float64, device=device)
    ones = torch.ones(8, dtype=torch.float64, device=device)
    y = nl.batch_norm(x, ones, 0 * ones, 0 * ones, ones.clone(), training=True)
    torch.testing.assert_close(y.mean(dim=0), 0 * ones, rtol=0, atol=1e-12)
    # biased variance of the output is var / (var + eps), just under 1
    expected = x.var(dim=0, unbiased=False) / (x.var(dim=0, unbiased=False) + 1e-5)
    torch.testing.assert_close(y.var(dim=0, unbiased=False), expected, rtol=1e-10, atol=0)


def test_batch_norm_output_depends_on_the_batch_only_in_train_mode(device):
    """The page's claim: same sample, two batches -> different outputs in train, equal in eval."""
    torch.manual_seed(0)
    x = 3 + 2 * torch.randn(16, 8, device=device)
    train_diff, eval_diff = nl.batch_norm_depends_on_batch(
        x, 3 + 2 * torch.randn(15, 8, device=device)
    )
    assert train_diff > 0.1
    assert eval_diff == 0.0


def test_rms_norm_default_eps_is_torch_finfo_eps(device):
    """Where eps matters (tiny inputs), the default must match torch.nn.RMSNorm(eps=None)."""
    assert nn.RMSNorm(4).eps is None
    x = 1e-4 * torch.randn(8, 4, device=device)  # mean square ~1e-8, below finfo(float32).eps
    module = nn.RMSNorm(4).to(device)
    ours = nl.rms_norm(x, module.weight)
    torch.testing.assert_close(ours, module(x), rtol=1e-5, atol=1e-6)
    # and a different eps would visibly differ
    assert (nl.rms_norm(x, module.weight, eps=1e-5) - module(x)).abs().max() > 0.1


def test_rms_norm_closed_form():
    x = torch.tensor([[3.0, 4.0]], dtype=torch.float64)  # rms = sqrt(12.5)
    y = nl.rms_norm(x, torch.ones(2, dtype=torch.float64), eps=0.0)
    torch.testing.assert_close(y, x / 12.5**0.5)


def test_weight_norm_rows_have_norm_g(device):
    torch.manual_seed(5)
    v = torch.randn(5, 7, dtype=torch.float64, device=device)
    g = torch.rand(5, 1, dtype=torch.float64, device=device) + 0.5
    w = nl.weight_norm_weight(v, g)
    torch.testing.assert_close(w.norm(dim=1, keepdim=True), g)
    # torch initialises g = ||v||, so the wrapped layer starts with the same weight
    linear = nn.Linear(7, 5).to(device)
    original = linear.weight.detach().clone()
    wrapped = weight_norm(linear)
    torch.testing.assert_close(wrapped.weight, original)


def test_gradcheck_float64():
    torch.manual_seed(6)
    x = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    gamma = torch.rand(5, dtype=torch.float64, requires_grad=True)
    beta = torch.randn(5, dtype=torch.float64, requires_grad=True)
    rm, rv = torch.zeros(5, dtype=torch.float64), torch.ones(5, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda a, b, c: nl.batch_norm(a, b, c, rm.clone(), rv.clone(), True), (x, gamma, beta)
    )
    assert torch.autograd.gradcheck(nl.layer_norm, (x, gamma, beta))
    assert torch.autograd.gradcheck(nl.rms_norm, (x, gamma))
    v = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    g = torch.rand(4, 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(nl.weight_norm_weight, (v, g))


def test_rmsnorm_is_available():
    """torch.nn.RMSNorm (added in torch 2.4) is what the page compares against."""
    major, minor = (int(p) for p in torch.__version__.split(".")[:2])
    assert (major, minor) >= (2, 4)
    assert hasattr(nn, "RMSNorm")


def test_rms_norm_jacobian_closed_form(device):
    """dy/dx = (1/r) (I - x_hat x_hat^T / D) with r = sqrt(mean(x^2) + eps), x_hat = x / r."""
    torch.manual_seed(7)
    d = 6
    x = torch.randn(d, dtype=torch.float64, device=device)
    ones = torch.ones(d, dtype=torch.float64, device=device)
    jac = torch.autograd.functional.jacobian(lambda t: nl.rms_norm(t, ones, eps=1e-5), x)
    r = torch.sqrt(x.pow(2).mean() + 1e-5)
    x_hat = x / r
    eye = torch.eye(d, dtype=torch.float64, device=device)
    expected = (eye - torch.outer(x_hat, x_hat) / d) / r
    torch.testing.assert_close(jac, expected, rtol=1e-10, atol=1e-12)


def test_weight_norm_gradient_formulas(device):
    """dL/dg = <dL/dw, v_hat> and dL/dv = (g/||v||)(I - v_hat v_hat^T) dL/dw, row by row."""
    torch.manual_seed(8)
    v = torch.randn(4, 6, dtype=torch.float64, device=device, requires_grad=True)
    g = torch.rand(4, 1, dtype=torch.float64, device=device, requires_grad=True)
    grad_w = torch.randn(4, 6, dtype=torch.float64, device=device)
    nl.weight_norm_weight(v, g).backward(grad_w)
    norm = v.detach().norm(dim=1, keepdim=True)
    v_hat = v.detach() / norm
    along = (grad_w * v_hat).sum(dim=1, keepdim=True)
    torch.testing.assert_close(g.grad, along)
    torch.testing.assert_close(v.grad, g.detach() / norm * (grad_w - v_hat * along))


def test_float32_eps_quoted_on_the_page():
    """The page: RMSNorm's default eps=None means torch.finfo(x.dtype).eps, quoted for float32."""
    assert nn.RMSNorm(4).eps is None
    page = " ".join(expanded_page("docs/fixes/normalization.md").split())
    eps = torch.finfo(torch.float32).eps
    assert f"`torch.finfo(x.dtype).eps` ({eps:.3g} for float32)" in page


def test_old_weight_norm_api_is_deprecated():
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        torch.nn.utils.weight_norm(nn.Linear(3, 2))


def test_batch_norm_couples_the_samples_of_a_batch(device):
    """In training mode dy_n/dx_m != 0 for m != n; in eval mode it is zero."""
    torch.manual_seed(9)
    x = torch.randn(6, 3, dtype=torch.float64, device=device)
    ones = torch.ones(3, dtype=torch.float64, device=device)

    def row0(training):
        return lambda t: nl.batch_norm(t, ones, 0 * ones, 0 * ones, ones.clone(), training)[0]

    jac_train = torch.autograd.functional.jacobian(row0(True), x)  # (3, 6, 3)
    jac_eval = torch.autograd.functional.jacobian(row0(False), x)
    assert jac_train[:, 1:].abs().max() > 1e-2
    assert jac_eval[:, 1:].abs().max() == 0
