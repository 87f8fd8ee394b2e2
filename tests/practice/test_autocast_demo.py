"""Checks for autocast_demo.py: the dtypes autocast produces and the AMP loop."""

from __future__ import annotations

import autocast_demo as ad
import pytest
import torch

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def test_settings_per_device(device) -> None:
    dtype, scaler = ad.amp_settings(device)
    if device.type == "cuda":
        assert dtype == torch.float16 and scaler.is_enabled()
    else:
        assert dtype == torch.bfloat16 and not scaler.is_enabled()
        loss = torch.tensor(3.0)
        assert scaler.scale(loss) is loss  # a disabled scaler passes everything through


def test_dtypes_under_autocast(device) -> None:
    torch.manual_seed(0)
    dtype, _ = ad.amp_settings(device)
    model = ad.make_model(device)
    seen = ad.dtypes_under_autocast(model, torch.randn(8, 64, device=device), dtype)
    assert seen["input x"] == torch.float32
    assert seen["Linear output"] == dtype  # matmuls run in low precision
    assert seen["cross_entropy loss"] == torch.float32  # losses are autocast to float32
    assert seen["weights (parameters)"] == torch.float32  # the weights are never cast
    assert seen["weight .grad"] == torch.float32
    if device.type == "cuda":  # CUDA's float32 list includes layer_norm and softmax
        assert seen["LayerNorm output"] == torch.float32
        assert seen["softmax output"] == torch.float32
        assert seen["GELU output"] == torch.float32  # follows its float32 input
    else:  # on CPU they stay in bfloat16
        assert seen["LayerNorm output"] == torch.bfloat16
        assert seen["softmax output"] == torch.bfloat16
        assert seen["GELU output"] == torch.bfloat16


def test_gelu_is_on_no_autocast_list_and_follows_its_input(device) -> None:
    """The page: GELU keeps the dtype of its input under autocast, so it runs in float32 after
    CUDA's float32 LayerNorm and in the low-precision dtype after a low-precision op."""
    dtype, _ = ad.amp_settings(device)
    x = torch.randn(4, 8, device=device)
    with torch.autocast(device.type, dtype=dtype):
        assert torch.nn.functional.gelu(x).dtype == torch.float32
        assert torch.nn.functional.gelu(x.to(dtype)).dtype == dtype


def test_amp_training_tracks_float32(device) -> None:
    dtype, scaler = ad.amp_settings(device)
    torch.manual_seed(0)
    x = torch.randn(512, 64, device=device)
    y = (x[:, :10] + 0.5 * torch.randn(512, 10, device=device)).argmax(dim=1)
    curves = []
    for run_dtype in (None, dtype):
        torch.manual_seed(1)
        model = ad.make_model(device)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        curves.append([ad.train_step(model, opt, scaler, x, y, run_dtype) for _ in range(60)])
    for losses in curves:
        assert losses[-1] < 0.2 * losses[0]
    assert max(abs(a - b) for a, b in zip(*curves, strict=True)) < 0.05
