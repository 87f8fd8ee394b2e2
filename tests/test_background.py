"""The background lane's helpers (tests/background.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from background import in_subprocess


def test_a_function_runs_in_a_fresh_python_and_its_floats_come_back_exact(tmp_path: Path) -> None:
    module = tmp_path / "test_sample.py"
    module.write_text(
        "import os, torch\n"
        "def values():\n"
        "    return {'third': 1 / 3, 'pid': os.getpid(), 'threads': torch.get_num_threads()}\n"
        "def broken():\n"
        "    raise ValueError('no such run')\n",
        encoding="utf-8",
    )
    result = in_subprocess(module, "values")
    assert result["third"] == 1 / 3
    assert result["pid"] != os.getpid()
    assert result["threads"] == 1  # as conftest.py sets this process's torch
    with pytest.raises(RuntimeError, match=r"test_sample\.py:broken\(\) failed:[\s\S]*no such run"):
        in_subprocess(module, "broken")
