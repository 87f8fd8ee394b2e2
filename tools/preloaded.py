"""Run many scripts as `python script.py` would, each in a fresh process forked from one
interpreter that has already imported torch and matplotlib.

Importing torch and matplotlib takes about 1.4 s of a 2-core machine's CPU (and torch._dynamo, which
the first optimizer.step() imports, 1.2-1.5 s more); the kernel matrix
(tools/kernels.py) runs every snippet under three settings, so a plain subprocess per run spent
more time importing than computing. A forked child starts from the parent's memory, so it is as
fresh as a new interpreter for everything a snippet can touch (seeds, default dtype, rcParams,
modules it imports), and the settings that matter here are read from the environment the parent
was started with: `ATEN_CPU_CAPABILITY` when torch first dispatches a kernel, `OMP_NUM_THREADS`
when the OpenMP pool starts, both after the fork, since the parent never computes anything.
tests/test_kernels.py checks that a forked run prints byte for byte what `python script.py` prints.

Usage (internal, see tools/kernels.py): python tools/preloaded.py JOBS SCRIPT...  prints one JSON
object per script: its returncode, stdout and stderr.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import tempfile
import traceback
from pathlib import Path

# torch._dynamo: imported by the first optimizer.step() of a process (see docs_exec/worker.py).
PRELOAD = ("torch", "torch._dynamo", "matplotlib.pyplot", "numpy")


def _child(script: str, folder: str) -> None:
    """Become `python script` started in `folder`; never returns."""
    os.chdir(folder)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
    sys.argv = [script]
    sys.path[0] = os.path.dirname(script)
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:  # as the interpreter treats it: None is 0, a message is 1
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve(jobs: int, scripts: list[str]) -> None:
    """Fork one child per script, at most `jobs` at a time; print each result as JSON."""
    for module in PRELOAD:
        __import__(module)
    pending = list(scripts)
    running: dict[int, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="preloaded-") as scratch:
        while pending or running:
            while pending and len(running) < jobs:
                script = pending.pop(0)
                folder = tempfile.mkdtemp(dir=scratch)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _child(script, folder)
                running[pid] = (script, folder)
            pid, status = os.wait()
            script, folder = running.pop(pid)
            result = {
                "script": script,
                "returncode": os.waitstatus_to_exitcode(status),
                "stdout": Path(folder, "stdout").read_text(errors="replace"),
                "stderr": Path(folder, "stderr").read_text(errors="replace"),
            }
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:])
