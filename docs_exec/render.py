"""Replace directive lines in a page's Markdown with the recorded output, figures and data."""

from __future__ import annotations

import html
import posixpath
import re
from pathlib import PurePosixPath

from .directives import INCLUDE, VALUE, Directive, directive_lines, fence_spans
from .errors import BuildError, Location
from .layout import download_path, figure_path
from .store import Result
from .values import resolve


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def output_block(
    stdout: str, provenance: str, tolerances: tuple[tuple[str, float], ...] = ()
) -> list[str]:
    """What a run printed, as an "Output" block with its provenance (and tolerance) under it."""
    body = stdout.rstrip("\n")
    fence = _fence(body)
    note = html.escape(provenance)
    if tolerances:
        note += " · " + html.escape(_tolerance_note(tolerances))
    return [
        f'{fence}text title="Output"',
        *body.split("\n"),
        fence,
        "",
        note,
        "{: .exec-provenance }",
    ]


def _tolerance_note(tolerances: tuple[tuple[str, float], ...]) -> str:
    """What the page declares about numbers that move with the CPU's kernels and thread count
    (and the kernel tests hold every reader's run to), in words."""
    by_amount: dict[float, list[str]] = {}
    for label, tolerance in tolerances:
        by_amount.setdefault(tolerance, []).append(label)
    parts = []
    for tolerance, labels in sorted(by_amount.items(), reverse=True):
        amount = "by any amount" if tolerance >= 1 else f"by up to {tolerance * 100:g}%"
        named = [f"“{label}”" for label in labels if label]
        if named:
            parts.append(f"the lines with {' or '.join(named)} can move {amount}")
        if "" in labels:
            rest = "other numbers" if len(tolerances) > 1 else "these numbers can move"
            parts.append(f"{rest} {amount}")
    return "on other CPU kernels or thread counts, " + "; ".join(parts)


def data_block(stdout: str, element_id: str) -> list[str]:
    """What a run printed as JSON (project.check has parsed it), in a script element that the
    page's scripts read and nobody sees. "<" becomes its JSON escape, so that no string in the
    data can close the element. The element is one line, for Markdown to pass it through as
    raw HTML: JSON strings hold no line breaks, so joining the lines changes no value."""
    body = " ".join(line.strip() for line in stdout.splitlines() if line.strip())
    body = body.replace("<", "\\u003c")
    return [f'<script type="application/json" id="{element_id}">{body}</script>']


SVG_SIZE = re.compile(r'<svg\b[^>]*?\bwidth="([\d.]+)pt"[^>]*?\bheight="([\d.]+)pt"')


def svg_pixels(svg: str) -> tuple[int, int]:
    """A matplotlib SVG's width and height in CSS pixels (it states them in points, 4/3 px each)."""
    size = SVG_SIZE.search(svg)
    if size is None:
        raise ValueError("the figure's SVG states no width and height in pt")
    return round(float(size[1]) * 4 / 3), round(float(size[2]) * 4 / 3)


def figure_block(snippet: str, number: int, alt: str, page: str, svg: str) -> list[str]:
    """The figure's light and dark variants, each shown in its colour scheme only. Each states
    its size, so that the browser keeps its place before the lazy image loads: the text under
    it, or an anchor a reader jumps to, stays where it is."""
    alt_text = re.sub(r"([\\\[\]])", r"\\\1", alt)
    width, height = svg_pixels(svg)
    lines = []
    for scheme in ("light", "dark"):
        target = posixpath.relpath(
            figure_path(snippet, number, scheme), posixpath.dirname(page) or "."
        )
        attributes = f".exec-figure loading=lazy width={width} height={height}"
        lines.append(f"![{alt_text}]({target}#only-{scheme}){{ {attributes} }}")
    return [" ".join(lines)]


def expand(markdown: str, page: str, results: dict[str, Result]) -> str:
    """`page` is the page's path inside the docs folder (used to make figure links relative)."""
    lines = list(directive_lines(markdown, page))
    problems = [
        f"{Location(page, number)}: {snippet} has no recorded run (the build did not scan this "
        "page, or the snippet was added since; run the build again)"
        for number, _, directive, values in lines
        for snippet in sorted({d.snippet for d in [*values, *filter(None, [directive])]})
        if snippet not in results
    ]
    if problems:
        raise BuildError(problems)
    out = []
    for number, line, directive, values in lines:
        line = _bind(line, values, results)
        if directive is None:
            out.append(line)
            continue
        result = results[directive.snippet]
        if directive.kind == "output":
            block = output_block(result.stdout, result.provenance, directive.tolerances)
        elif directive.kind == "data":
            block = data_block(result.stdout, directive.element_id)
        else:
            alt = _bind(directive.alt, values, results)
            svg = result.figures[directive.figure - 1].light
            try:
                block = figure_block(result.snippet, directive.figure, alt, page, svg)
            except ValueError as error:
                where = f"{Location(page, number)}: {directive.snippet} figure {directive.figure}"
                raise BuildError([f"{where}: {error}"]) from error
        out += [directive.indent + piece if piece else "" for piece in block]
    return "\n".join(out) + "\n"


def _bind(text: str, values: list[Directive], results: dict[str, Result]) -> str:
    """`text` with its value directives, in order, replaced by the numbers they name."""
    numbers = iter([resolve(value, results[value.snippet].stdout) for value in values])
    return VALUE.sub(lambda _: next(numbers), text) if values else text


def add_downloads(markdown: str, page: str, snippets_dir: str) -> str:
    """Under the first block on the page that shows each snippet (whole-file blocks first), add
    links to download the script and the notebook made from it."""
    lines = markdown.split("\n")
    chosen: dict[str, tuple[int, bool, str]] = {}
    for start, end in fence_spans(lines):
        for line in lines[start + 1 : end]:
            include = INCLUDE.match(line)
            if not include:
                continue
            target, _, section = include["target"].partition(":")
            if not target.startswith(f"{snippets_dir}/"):
                continue
            whole = not section
            if target not in chosen or (whole and not chosen[target][1]):
                indent = re.match(r"[ \t]*", lines[start])[0]  # type: ignore[index]
                chosen[target] = (end, whole, indent)
    for target, (end, _, indent) in sorted(chosen.items(), key=lambda item: -item[1][0]):
        folder = posixpath.dirname(page) or "."
        links = []
        for suffix, label in ((".py", "Download {}"), (".ipynb", "Open as a notebook ({})")):
            name = PurePosixPath(download_path(target, suffix)).name
            href = posixpath.relpath(download_path(target, suffix), folder)
            links.append(f'[{label.format(name)}]({href}){{ download="{name}" }}')
        paragraph = [indent + " · ".join(links), indent + "{: .exec-downloads }"]
        lines[end + 1 : end + 1] = ["", *paragraph]
    return "\n".join(lines)
