"""Exercise notebooks: jupytext percent-format sources, run cell by cell, saved as .ipynb."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

CELL = re.compile(r"^# %%(?P<rest>.*)$")
TAGS = re.compile(r"tags=(\[[^\]]*\])")


@dataclass
class Cell:
    kind: str
    source: str
    line: int  # where the cell's first line of content is in the .py file
    tags: list[str] = field(default_factory=list)


def parse_percent(text: str) -> list[Cell]:
    """Cells of a percent-format file; markdown cells lose their leading '# '."""
    cells: list[Cell] = []
    for number, line in enumerate(text.splitlines(), start=1):
        marker = CELL.match(line)
        if marker:
            rest = marker["rest"]
            tags = TAGS.search(rest)
            kind = "markdown" if "[markdown]" in rest else "code"
            cells.append(Cell(kind, "", number + 1, json.loads(tags[1]) if tags else []))
        elif cells:
            cells[-1].source += line + "\n"
    for cell in cells:
        if cell.kind == "markdown":
            lines = cell.source.splitlines()
            cell.source = "\n".join(re.sub(r"^# ?", "", text) for text in lines)
        cell.source = cell.source.strip("\n")
    return [cell for cell in cells if cell.source.strip()]


def execute(cells: list[Cell], path: str, figures: Callable[[], list[str]]) -> list[list[dict]]:
    """Run the code cells in one namespace; each cell's stdout and figures become its outputs.

    `figures()` returns the SVGs drawn since it was last called (shown or left open). An error
    propagates with the .py file's own line numbers."""
    namespace: dict = {"__name__": "__main__", "__file__": path}
    outputs: list[list[dict]] = []
    for cell in cells:
        if cell.kind != "code":
            continue
        tree = ast.increment_lineno(ast.parse(cell.source), cell.line - 1)
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            exec(compile(tree, path, "exec"), namespace)
        cell_outputs: list[dict] = []
        if stdout.getvalue():
            cell_outputs.append(
                {"output_type": "stream", "name": "stdout", "text": stdout.getvalue()}
            )
        for svg in figures():
            cell_outputs.append(
                {
                    "output_type": "display_data",
                    "data": {"image/svg+xml": svg, "text/plain": "<Figure>"},
                    "metadata": {},
                }
            )
        outputs.append(cell_outputs)
    return outputs


def to_ipynb(cells: list[Cell], outputs: list[list[dict]]) -> str:
    """An nbformat 4.5 notebook; `outputs` holds one list per code cell, in order."""
    remaining = iter(outputs)
    document_cells = []
    count = 0
    for number, cell in enumerate(cells, start=1):
        metadata = {"tags": cell.tags} if cell.tags else {}
        if cell.kind == "markdown":
            document_cells.append(
                {
                    "cell_type": "markdown",
                    "id": f"cell-{number}",
                    "metadata": metadata,
                    "source": cell.source,
                }
            )
            continue
        count += 1
        document_cells.append(
            {
                "cell_type": "code",
                "execution_count": count,
                "id": f"cell-{number}",
                "metadata": metadata,
                "outputs": next(remaining),
                "source": cell.source,
            }
        )
    return notebook_json(document_cells)


def notebook_json(cells: list[dict]) -> str:
    """An nbformat 4.5 document around ready-made cells, as stable, diffable JSON."""
    document = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
