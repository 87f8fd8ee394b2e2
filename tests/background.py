"""One background lane for the suite's slowest checks: the kernel matrix, the trajectory
reruns, a clean build, the exercise notebooks and the computations of a few long tests (a test
module's function called in a fresh Python: `in_subprocess`) all run in subprocesses, so they
need no pytest process of their own.

They start as soon as collection ends and keep the other cores busy while the main process runs
everything else; their tests wait for the result. A test module names its jobs with
`background_jobs(items, scratch)` (its own selected items and a folder that lasts the session
in, {name: Job} out); a job whose tests were not selected never runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class Job:
    """A lane job and its rough size: the seconds it took in a cold suite on the 2-core machine
    (2026-12-05), used only to start the largest first. Started in any other order, a long job
    can be left running alone at the end while the other core idles (100 s of it, measured).
    `early`: a test near the start of the suite waits for it, so it starts before the rest
    (one queued behind the large jobs held the main process for 260 s)."""

    run: Callable[[], Any]
    size: int
    early: bool = False


class Lane:
    """Jobs start in the order they were submitted, as many at once as the machine has cores:
    the main process often waits (page loads, a Jupyter kernel starting, a subprocess), and a
    second job fills that time; when it does not, the jobs share the cores with it."""

    def __init__(self) -> None:
        workers = os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="background")
        self._jobs: dict[str, Future] = {}
        self.seconds: dict[str, float] = {}  # each finished job's wall time, for the summary
        self._scratch = tempfile.TemporaryDirectory(prefix="pytest-background-")
        self.scratch = Path(self._scratch.name)

    def submit(self, name: str, job: Callable[[], Any]) -> None:
        if name in self._jobs:
            raise ValueError(f"two background jobs are named {name!r}")
        self._jobs[name] = self._pool.submit(self._timed, name, job)

    def _timed(self, name: str, job: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return job()
        finally:
            self.seconds[name] = time.perf_counter() - started

    def result(self, name: str) -> Any:
        """The job's return value (its exception, raised here, if it failed)."""
        if name not in self._jobs:
            raise KeyError(f"no background job {name!r}; its module's background_jobs names it")
        return self._jobs[name].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._scratch.cleanup()


def start_jobs(lane: Lane, items: list[pytest.Item]) -> None:
    """Submit every selected module's background jobs: the early ones, then the largest first
    (ties in collection order)."""
    by_module: dict[Any, list[pytest.Item]] = {}
    for item in items:
        module = getattr(item, "module", None)
        if module is not None:
            by_module.setdefault(module, []).append(item)
    jobs: dict[str, Job] = {}
    for module, selected in by_module.items():
        named = getattr(module, "background_jobs", None)
        jobs.update(named(selected, lane.scratch) if named else {})
    for name, job in sorted(jobs.items(), key=lambda pair: (not pair[1].early, -pair[1].size)):
        lane.submit(name, job.run)


# Loads a test module by path in a fresh interpreter, with torch's threads set as conftest.py
# sets them, and prints one of its functions' result.
CALL = """
import importlib.util, json, os, sys, torch
torch.set_num_threads(int(os.environ.get("TEST_TORCH_THREADS", "1")))
spec = importlib.util.spec_from_file_location("module_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(getattr(module, sys.argv[2])()))
"""


def in_subprocess(test_file: Path, function: str) -> Any:
    """`function()` of a test module, called in a fresh Python with the suite's import paths
    and torch threads, for a lane job; its result crosses as JSON, which keeps floats exact."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", CALL, str(test_file), function]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{test_file.name}:{function}() failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def category(item: pytest.Item) -> str:
    """Where a test's time goes in the suite's summary: the cross-kernel checks, the browser,
    the site build and its checks (the other `slow` tests), or unit tests."""
    if item.path.name == "test_kernels.py":
        return "cross-kernel"
    if item.get_closest_marker("browser"):
        return "browser"
    return "build" if item.get_closest_marker("slow") else "unit"
