"""Downloadable copies of snippets: the script without section markers, and a Jupyter notebook."""

from __future__ import annotations

import ast
import re
from pathlib import PurePosixPath

from .notebooks import notebook_json

MARKER = re.compile(r"^[ \t]*#[ \t]*-{1,}8<-{1,}[ \t]*\[[ \t]*(start|end)[ \t]*:[^\]]*\][ \t]*$")


def script(source: str) -> str:
    """The snippet as a reader runs it: the section markers only make sense on the page."""
    return "".join(line for line in source.splitlines(keepends=True) if not MARKER.match(line))


def _cells(source: str) -> list[str]:
    """Code cells split at section markers, so each part the page shows is its own cell."""
    cells, current = [], []
    for line in source.splitlines():
        if MARKER.match(line):
            cells.append("\n".join(current).strip("\n"))
            current = []
        else:
            current.append(line)
    cells.append("\n".join(current).strip("\n"))
    return [cell for cell in cells if cell.strip()]


def notebook(source: str, snippet: str, site_name: str = "") -> str:
    """A notebook (nbformat 4.5) whose cells run the snippet top to bottom, figures inline."""
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree) or PurePosixPath(snippet).stem
    body = source
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        lines = source.splitlines(keepends=True)
        body = "".join(lines[: first.lineno - 1] + lines[first.end_lineno :])
    intro = (
        f"# {docstring}\n\nFrom `{snippet}`" + (f" of *{site_name}*" if site_name else "") + ". "
        "Run the cells in order; the last one calls `main()`, which prints the results "
        "and draws the figures shown on the page."
    )
    cells = [{"cell_type": "markdown", "id": "intro", "metadata": {}, "source": intro}]
    for number, code in enumerate(_cells(body), start=1):
        cells.append(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"code-{number}",
                "metadata": {},
                "outputs": [],
                "source": code,
            }
        )
    return notebook_json(cells)
