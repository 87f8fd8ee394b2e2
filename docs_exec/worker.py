"""The child side: run one snippet as `__main__` in a fresh process forked from a warm server.

The fork server has torch and matplotlib imported (see executor.py), so each child starts in
milliseconds and no snippet can leak global state (seeds, default dtype, rcParams) into another.
"""

from __future__ import annotations

import faulthandler
import io
import os
import platform
import runpy
import sys
import tempfile
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from multiprocessing.connection import Connection

PRELOAD = ["torch", "matplotlib", "matplotlib.pyplot", "docs_exec.figures"]


def _provenance() -> str:
    import torch

    return f"Python {platform.python_version()} · torch {torch.__version__.split('+')[0]} · CPU"


def _failure(exc: BaseException, snippet: str, root: str) -> dict:
    frames = traceback.extract_tb(exc.__traceback__)
    in_snippet = [frame for frame in frames if os.path.realpath(frame.filename) == snippet]
    line = in_snippet[-1].lineno if in_snippet else None
    # Drop the runpy frames above the snippet so the traceback starts where the reader's code does.
    first = next((i for i, frame in enumerate(frames) if frame in in_snippet), 0)
    text = "".join(traceback.format_list(frames[first:]))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    return {"line": line, "traceback": text.replace(root + os.sep, "")}


def run_snippet(snippet: str, root: str, timeout: float, stack_file: str, conn: Connection) -> None:
    """Run `snippet` (an absolute path), send a result dict through `conn`, never raise."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import torch

    from .figures import RC, capture_open_figures

    matplotlib.rcParams.update(RC)
    torch.set_num_threads(1)  # one core per child: outputs don't depend on the machine's core count
    figures = []

    def show(*args: object, **kwargs: object) -> None:
        figures.extend(capture_open_figures())

    plt.show = show
    sys.argv = [snippet]
    sys.path.insert(0, os.path.dirname(snippet))
    stdout, stderr = io.StringIO(), io.StringIO()
    failure = None
    with open(stack_file, "w") as stacks, tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        faulthandler.dump_traceback_later(timeout, exit=True, file=stacks)
        started = time.perf_counter()
        with redirect_stdout(stdout), redirect_stderr(stderr):
            try:
                runpy.run_path(snippet, run_name="__main__")
            except SystemExit as exc:
                if exc.code not in (None, 0):
                    failure = _failure(exc, snippet, root)
            except BaseException as exc:
                failure = _failure(exc, snippet, root)
        seconds = time.perf_counter() - started
        faulthandler.cancel_dump_traceback_later()
        if failure is None:
            figures.extend(capture_open_figures())
        os.chdir(root)
    conn.send(
        {
            "stdout": stdout.getvalue(),
            "stderr": stderr.getvalue(),
            "figures": [(figure.light, figure.dark) for figure in figures],
            "provenance": _provenance(),
            "seconds": seconds,
            "failure": failure,
        }
    )
    conn.close()
