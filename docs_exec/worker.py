"""The child side: run one snippet (or exercise notebook) in a fresh process forked from a warm
server that has torch and matplotlib imported (see executor.py), so each child starts in
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
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from multiprocessing.connection import Connection

from .figures import Palette
from .store import Figure

# torch._dynamo is what the first optimizer.step() of a process imports (torch.optim checks
# whether it is being compiled): 1.2-1.5 s per snippet that trains, paid once here instead.
PRELOAD = ["torch", "torch._dynamo", "matplotlib", "matplotlib.pyplot", "docs_exec.figures"]


def _provenance() -> str:
    import torch

    return f"Python {platform.python_version()} · torch {torch.__version__.split('+')[0]} · CPU"


def _failure(exc: BaseException, path: str, root: str) -> dict:
    frames = traceback.extract_tb(exc.__traceback__)
    in_file = [frame for frame in frames if os.path.realpath(frame.filename) == path]
    line = in_file[-1].lineno if in_file else None
    # Drop the runner's frames above the file so the traceback starts where the reader's code does.
    first = next((i for i, frame in enumerate(frames) if frame in in_file), 0)
    text = "".join(traceback.format_list(frames[first:]))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    return {"line": line, "traceback": text.replace(root + os.sep, "")}


def _run_notebook(path: str, take_figures: Callable[[], list[Figure]]) -> tuple[str, list]:
    """The executed .ipynb (light figures inline, as a notebook shows them) and every figure in
    both schemes, in the order of the notebook's image outputs, for pages rendered from it."""
    from .notebooks import execute, parse_percent, to_ipynb

    with open(path, encoding="utf-8") as source:
        cells = parse_percent(source.read())
    drawn: list[Figure] = []

    def light_figures() -> list[str]:
        taken = take_figures()
        drawn.extend(taken)
        return [figure.light for figure in taken]

    return to_ipynb(cells, execute(cells, path, light_figures)), drawn


def run_file(
    path: str,
    kind: str,
    root: str,
    palette: Palette,
    timeout: float,
    stack_file: str,
    conn: Connection,
) -> None:
    """Run `path` (absolute) as a script or, for kind "notebook", cell by cell; send a result
    dict through `conn`; never raise."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import torch

    from .figures import RC, capture_open_figures

    matplotlib.rcParams.update(RC)
    torch.set_num_threads(1)  # one core per child: outputs don't depend on the machine's core count
    shown = []

    def take_figures() -> list:
        taken = shown + capture_open_figures(palette)
        shown.clear()
        return taken

    plt.show = lambda *args, **kwargs: shown.extend(capture_open_figures(palette))
    sys.argv = [path]
    sys.path.insert(0, os.path.dirname(path))
    stdout, stderr = io.StringIO(), io.StringIO()
    failure, notebook, figures = None, "", []
    with open(stack_file, "w") as stacks, tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        faulthandler.dump_traceback_later(timeout, exit=True, file=stacks)
        started = time.perf_counter()
        with redirect_stdout(stdout), redirect_stderr(stderr):
            try:
                if kind == "notebook":
                    notebook, figures = _run_notebook(path, take_figures)
                else:
                    runpy.run_path(path, run_name="__main__")
                    figures = take_figures()
            except SystemExit as exc:
                if exc.code not in (None, 0):
                    failure = _failure(exc, path, root)
            except BaseException as exc:
                failure = _failure(exc, path, root)
        seconds = time.perf_counter() - started
        faulthandler.cancel_dump_traceback_later()
        os.chdir(root)
    conn.send(
        {
            "stdout": stdout.getvalue(),
            "stderr": stderr.getvalue(),
            "figures": [(figure.light, figure.dark) for figure in figures],
            "notebook": notebook,
            "provenance": _provenance(),
            "seconds": seconds,
            "failure": failure,
        }
    )
    conn.close()
