"""Checks for bf16_accumulation.py: accumulation dtype, loss-scale log, FP8 formats."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import bf16_accumulation as ba
import pytest
import torch
from sitecheck import expanded_page

BF16, FP32 = torch.bfloat16, torch.float32
PAGE = "docs/practice/mixed-precision.md"


def test_bf16_buffer_stalls_where_the_sum_outgrows_its_addends() -> None:
    """512 equal gradients of 1, each divided by 512: the addend 2^-9 is exact in bfloat16, and
    so is the sum up to 0.5, where the spacing is 2^-8 and adding 2^-9 ties back to 0.5 (even)."""
    grads = [torch.ones(3)] * 512
    assert torch.equal(ba.accumulate(grads, BF16), torch.full((3,), 0.5, dtype=BF16))
    assert torch.equal(ba.accumulate(grads, FP32), torch.ones(3))
    assert ba.relative_error(grads, BF16) == pytest.approx(0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bf16_buffer_error_grows_with_m_and_fp32_stays_at_rounding(seed: int) -> None:
    grads = ba.micro_batch_grads(max(ba.COUNTS), seed=seed)
    bf16 = [ba.relative_error(grads[:m], BF16) for m in ba.COUNTS]
    cast_only = [ba.relative_error(grads[:m], FP32, BF16) for m in ba.COUNTS]
    fp32 = [ba.relative_error(grads[:m], FP32) for m in ba.COUNTS]
    eps32, eps16 = torch.finfo(FP32).eps, torch.finfo(BF16).eps
    assert bf16[0] < bf16[1] < bf16[2] and bf16[2] > 2 * bf16[0]
    assert all(e < 10 * eps32 for e in fp32)
    # bf16 gradients summed in fp32 keep one rounding's error, which averages down with M
    assert all(e < eps16 / 2 for e in cast_only) and cast_only[2] < cast_only[0]
    assert all(b > 2 * c > 1000 * f for b, c, f in zip(bf16, cast_only, fp32, strict=True))


def test_scale_log_halves_on_each_overflow_and_doubles_after_four_clean_steps() -> None:
    bad = {3, 10, 11, 12}
    log = ba.scale_log(16, bad)
    scale, clean, expected = 2.0**16, 0, []
    for step in range(16):
        expected.append((scale, step not in bad))
        if step in bad:
            scale, clean = scale / 2, 0
        else:
            clean += 1
            if clean == 4:
                scale, clean = scale * 2, 0
    assert log == expected


def test_float8_formats_from_their_bits() -> None:
    """E4M3 (fn: no inf, the all-ones pattern is NaN) tops out at 1.75 * 2^8; E5M2 keeps
    IEEE's inf and tops out at 1.75 * 2^15. Bias 7 and 15 give smallest normals 2^-6, 2^-14."""
    e4m3, e5m2 = torch.finfo(torch.float8_e4m3fn), torch.finfo(torch.float8_e5m2)
    assert (e4m3.max, e4m3.smallest_normal, e4m3.eps) == (448.0, 2.0**-6, 2.0**-3)
    assert (e5m2.max, e5m2.smallest_normal, e5m2.eps) == (57344.0, 2.0**-14, 2.0**-2)
    # past the max, the page says: E4M3fn saturates, E5M2 overflows to inf
    big = torch.tensor([1e3, 1e6])
    assert big.to(torch.float8_e4m3fn).float().tolist() == [448.0, 448.0]
    assert big.to(torch.float8_e5m2).float().tolist() == [1024.0, float("inf")]


def test_per_tensor_scaling_uses_the_range() -> None:
    g = ba.micro_batch_grads(1)[0]
    for dtype in (torch.float8_e4m3fn, torch.float8_e5m2):
        z0, e0, z1, e1 = ba.float8_scaling(g, dtype)
        assert z1 == 0.0 and e1 < e0
        assert e1 < torch.finfo(dtype).eps  # a few roundings' worth, no lost elements
    z0, *_ = ba.float8_scaling(g, torch.float8_e4m3fn)
    assert z0 > 0.05  # unscaled, E4M3's floor zeroes a real share of the gradient


def test_fsdp2_reduce_dtype_defaults_to_the_compute_dtype() -> None:
    """The page's advice names a real field, and it must be set: None means 'reduce in
    param_dtype'."""
    from torch.distributed.fsdp import MixedPrecisionPolicy

    policy = MixedPrecisionPolicy(param_dtype=BF16)
    assert policy.reduce_dtype is None
    assert MixedPrecisionPolicy(param_dtype=BF16, reduce_dtype=FP32).reduce_dtype is FP32
    page = " ".join(expanded_page(PAGE).split())
    assert "MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)" in page


def test_accelerate_unscales_inside_clip_grad_norm() -> None:
    """The installed accelerate's Accelerator.clip_grad_norm_ calls self.unscale_gradients(),
    as the page says (read from the source, without importing accelerate)."""
    spec = importlib.util.find_spec("accelerate")
    assert spec is not None and spec.origin is not None
    tree = ast.parse((Path(spec.origin).parent / "accelerator.py").read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Accelerator")
    clip = next(
        n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "clip_grad_norm_"
    )
    calls = {
        n.func.attr
        for n in ast.walk(clip)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    }
    assert "unscale_gradients" in calls
    page = " ".join(expanded_page(PAGE).split())
    assert "`Accelerator.clip_grad_norm_` calls `unscale_gradients()`" in page
