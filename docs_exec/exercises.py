"""Exercise notebooks as pages and downloads: a starter notebook without the worked solution next
to the full one, and, for engines that cannot render notebooks, a Markdown page made from the
executed cells with the site's own output and figure blocks."""

from __future__ import annotations

import html
import json
import posixpath
import re
import textwrap
from pathlib import PurePosixPath

from .layout import download_path, starter_path
from .notebooks import notebook_json
from .render import figure_block, output_block
from .store import Result

SOLUTION = "solution"  # the cell tag of the worked solution
SUMMARY = "Worked solution (try the exercise first)"


def _is_solution(cell: dict) -> bool:
    return SOLUTION in cell.get("metadata", {}).get("tags", [])


def starter_notebook(notebook: str) -> str:
    """The executed notebook without its solution cells and without outputs: the exercise as a
    reader starts it."""
    cells = [cell for cell in json.loads(notebook)["cells"] if not _is_solution(cell)]
    for cell in cells:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return notebook_json(cells)


def _downloads(source: str, folder: str) -> list[tuple[str, str, str]]:
    """(link text, href relative to `folder`, file name) of an exercise's two downloads."""
    links = []
    for path, label in (
        (starter_path(source), "Download the exercise ({})"),
        (download_path(source, ".ipynb"), "the notebook with the worked solution ({})"),
    ):
        name = PurePosixPath(path).name
        links.append((label.format(name), posixpath.relpath(path, folder or "."), name))
    return links


def downloads_markdown(source: str, page: str) -> list[str]:
    """The two download links of an exercise, for a Markdown page at `page`."""
    links = [
        f'[{text}]({href}){{ download="{name}" }}'
        for text, href, name in _downloads(source, posixpath.dirname(page))
    ]
    return [" · ".join(links), "{: .exec-downloads }"]


def downloads_html(source: str, url: str) -> str:
    """The two download links as HTML, for a page rendered from the notebook (mkdocs-jupyter)
    and served at `url` (a folder URL such as exercises/name/)."""
    folder = url.rstrip("/") if url.endswith("/") else posixpath.dirname(url)
    links = " · ".join(
        f'<a href="{href}" download="{name}">{html.escape(text)}</a>'
        for text, href, name in _downloads(source, folder)
    )
    return f'<p class="exec-downloads">{links}</p>\n'


# matplotlib mathtext as a screen reader should hear it: the commands the exercises' figures use,
# as the characters they draw. Left as TeX, `$...$` in alt text became `\(...\)` for the
# page's math renderer, which alt text never reaches.
MATHTEXT_CHARACTERS = {
    "|": "‖", "partial": "∂", "Delta": "Δ", "Sigma": "Σ", "sigma": "σ", "eta": "η",
    "pm": "±", "ln": "ln", ",": " ", "mathbb": "", "mathrm": "", "mathdefault": "",
}  # fmt: skip
TICK = re.compile(r"[-+−\d.,e^ ]+")  # a tick label, also a log axis's 10^-3


def plain_text(label: str) -> str:
    """A matplotlib label as plain text: each `$...$` without its dollars and braces, its
    commands as the characters they draw ("$\\|g_{W}\\|_2$ (log)" -> "‖g_W‖_2 (log)");
    ValueError for a command the table does not list."""

    def character(match: re.Match) -> str:
        name = match[1] or match[3]
        if name not in MATHTEXT_CHARACTERS:
            raise ValueError(f"no plain text for \\{name} in the figure label {label!r}")
        drawn = MATHTEXT_CHARACTERS[name]
        # TeX drops the space after a command word: "\\Delta W" draws ΔW; "\\ln 3" draws ln 3.
        return drawn + " " if match[2] and len(drawn) > 1 else drawn

    def math(match: re.Match) -> str:
        commands = re.sub(r"\\([A-Za-z]+)( ?)|\\([|,])", character, match[1])
        return commands.replace("{", "").replace("}", "")

    return re.sub(r"\s+", " ", re.sub(r"\$([^$]*)\$", math, label)).strip()


def figure_alt(svg: str) -> str:
    """A figure's alt text from the words it draws (matplotlib's SVG keeps each text as a
    comment): its titles and axis labels as plain text, without tick labels."""
    words = []
    for text in re.findall(r"<!-- (.*?) -->", svg):
        text = plain_text(html.unescape(text))
        if text and not TICK.fullmatch(text) and text not in words:
            words.append(text)
    return "Figure: " + "; ".join(words) if words else "Figure drawn by the cell above"


def exercise_markdown(result: Result, source: str, page: str) -> str:
    """The executed notebook as a page: Markdown cells as written, code cells as Python blocks
    with their output and figures under them, each run of solution cells folded into one
    collapsed block, and the downloads under the title."""
    figures = iter(range(1, len(result.figures) + 1))
    blocks: list[tuple[bool, list[str]]] = []
    for cell in json.loads(result.notebook)["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            lines = text.split("\n")
        else:
            lines = ["```python", *text.split("\n"), "```"]
            for output in cell.get("outputs", []):
                if output["output_type"] == "stream":
                    lines += ["", *output_block("".join(output["text"]), result.provenance)]
                else:
                    number = next(figures)
                    svg = result.figures[number - 1].light
                    lines += ["", *figure_block(result.snippet, number, figure_alt(svg), page, svg)]
        blocks.append((_is_solution(cell), lines))
    out: list[str] = []
    for index, (solution, lines) in enumerate(blocks):
        if solution and not (index and blocks[index - 1][0]):
            out += [f'??? success "{SUMMARY}"', ""]
        out += [textwrap.indent("\n".join(lines), "    ") if solution else "\n".join(lines), ""]
        if index == 0:
            out += [*downloads_markdown(source, page), ""]
    return "\n".join(out)
