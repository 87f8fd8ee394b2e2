"""The background lane's helpers (tests/background.py)."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from background import Job, in_subprocess, start_jobs


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


def test_the_lane_starts_early_jobs_then_the_largest_and_ties_in_collection_order() -> None:
    def module(name: str, sizes: dict[str, int]) -> ModuleType:
        made = ModuleType(name)
        made.background_jobs = lambda items, scratch: {  # type: ignore[attr-defined]
            job: Job(lambda: None, size) for job, size in sizes.items()
        }
        return made

    first, second = module("a", {"notebook": 40, "kernels": 240}), module("b", {"build": 200})
    soon = ModuleType("c")
    soon.background_jobs = lambda items, scratch: {  # type: ignore[attr-defined]
        "needed soon": Job(lambda: None, 90, early=True)
    }
    items = [SimpleNamespace(module=m) for m in (first, second, soon)]
    submitted: list[str] = []
    lane = SimpleNamespace(scratch=Path("."), submit=lambda name, run: submitted.append(name))
    start_jobs(lane, items)  # type: ignore[arg-type]
    assert submitted == ["needed soon", "kernels", "build", "notebook"]
    submitted.clear()
    tied = [SimpleNamespace(module=module("c", {"x": 1, "y": 1, "z": 1}))]
    start_jobs(lane, tied)  # type: ignore[arg-type]
    assert submitted == ["x", "y", "z"]
