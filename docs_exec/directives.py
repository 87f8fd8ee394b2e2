"""Find the directives and the `--8<--` snippet includes in a page's Markdown.

Output and figure directives are lines of their own, outside code fences: a Python-style call
in double braces,

    {{ output("snippets/foundations/chain_rule.py") }}
    {{ figure("snippets/foundations/mlp_sensitivity.py", 1, alt="What the figure shows") }}

A data directive, a line of its own and never indented, places what a snippet printed as JSON in a
`<script type="application/json">` element with that id, for a script on the page to read:

    {{ data("snippets/fixes/gradient_explorer.py", id="explorer-data") }}

A value directive is inline, anywhere outside code fences (values.py says what it names):

    Post-LN ends at {{ value("snippets/fixes/transformer_ln_training.py", "Post-LN", 5) }} nats.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import Location

DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\{\{(?P<body>(?!\s*value\().*)\}\}[ \t]*$")
VALUE = re.compile(r"\{\{\s*value\((?P<args>.*?)\)\s*\}\}")
INCLUDE = re.compile(r"^[ \t]*-{1,}8<-{1,}[ \t]+(?P<quote>[\"'])(?P<target>.+?)(?P=quote)[ \t]*$")
FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})")
SECTION_NAME = re.compile(r"[a-z][-_0-9a-z]*")
# Letters, digits, "-" and "_", starting with a letter: valid in HTML and usable unescaped in
# CSS selectors and URL fragments.
HTML_ID = re.compile(r"[A-Za-z][-_0-9A-Za-z]*")


@dataclass(frozen=True)
class Directive:
    """`output(snippet)` places its stdout; `figure(snippet, n, alt=...)` its n-th figure;
    `value(snippet, label, ..., n)` the n-th number printed after a label (see values.py)."""

    kind: str
    snippet: str
    where: Location
    indent: str = ""
    figure: int = 0
    alt: str = ""
    labels: tuple[str, ...] = ()
    index: int = 0
    sig: int | None = None
    tex: bool = False
    plain: bool = False
    # (label, relative tolerance) for the numbers of an output that move with the CPU's kernels
    # and the thread count; the label "" covers every line.
    tolerances: tuple[tuple[str, float], ...] = ()
    element_id: str = ""


@dataclass(frozen=True)
class Include:
    """A pymdownx.snippets include, optionally of one named section."""

    target: str
    section: str | None
    where: Location


class DirectiveSyntaxError(ValueError):
    def __init__(self, where: Location, message: str) -> None:
        super().__init__(f"{where}: {message}")


def fence_spans(lines: list[str]) -> list[tuple[int, int]]:
    """(opening, closing) line indices of each top-level code fence; unclosed ones run on."""
    spans, opening, open_fence = [], 0, ""
    for index, line in enumerate(lines):
        match = FENCE.match(line)
        if not match:
            continue
        fence = match["fence"]
        if not open_fence:
            opening, open_fence = index, fence
        elif (
            fence[0] == open_fence[0]
            and len(fence) >= len(open_fence)
            and not line.strip()[len(fence) :].strip()
        ):
            spans.append((opening, index))
            open_fence = ""
    if open_fence:
        spans.append((opening, len(lines) - 1))
    return spans


def lines_with_fences(text: str) -> Iterator[tuple[int, str, bool]]:
    """Yield (line number, line, inside a code fence) so examples in code blocks stay inert."""
    lines = text.splitlines()
    fenced = {i for start, end in fence_spans(lines) for i in range(start, end + 1)}
    for index, line in enumerate(lines):
        yield index + 1, line, index in fenced


def parse_call(body: str, where: Location) -> Directive:
    try:
        call = ast.parse(body.strip(), mode="eval").body
    except SyntaxError as exc:
        raise DirectiveSyntaxError(
            where, f"cannot parse directive {{{{{body}}}}}: {exc.msg}"
        ) from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        raise DirectiveSyntaxError(
            where,
            f"expected output(...), figure(...), value(...) or data(...), got {{{{{body}}}}}",
        )
    kind = call.func.id
    try:
        args = [ast.literal_eval(arg) for arg in call.args]
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except ValueError:
        raise DirectiveSyntaxError(
            where, "directive arguments must be literals (quote the snippet path)"
        ) from None
    if kind == "output":
        usage = (
            'usage: {{ output("snippets/name.py") }}, optionally with rtol=0.02 (every number) '
            'and vary={"line label": 0.5} (the lines with that label)'
        )
        rtol, vary = kwargs.pop("rtol", 0.0), kwargs.pop("vary", {})
        if len(args) != 1 or kwargs or not isinstance(args[0], str) or not isinstance(vary, dict):
            raise DirectiveSyntaxError(where, usage)
        tolerances = (("", rtol), *vary.items()) if rtol else tuple(vary.items())
        for label, tolerance in tolerances:
            if not isinstance(label, str) or not isinstance(tolerance, (int, float)):
                raise DirectiveSyntaxError(where, usage)
            if not 0 < tolerance <= 1:
                raise DirectiveSyntaxError(
                    where, f"a tolerance is relative, in (0, 1]; got {tolerance!r}"
                )
        return Directive("output", args[0], where, tolerances=tuple(tolerances))
    if kind == "value":
        return parse_value(args, kwargs, where)
    if kind == "data":
        return parse_data(args, kwargs, where)
    if kind == "figure":
        usage = 'usage: {{ figure("snippets/name.py", 1, alt="what the figure shows") }}'
        if len(args) != 2 or set(kwargs) != {"alt"}:
            raise DirectiveSyntaxError(where, usage)
        snippet, number, alt = args[0], args[1], kwargs["alt"]
        if not isinstance(snippet, str) or not isinstance(number, int) or number < 1:
            raise DirectiveSyntaxError(where, usage + " (figures are numbered from 1)")
        if not isinstance(alt, str) or len(alt.split()) < 4:
            raise DirectiveSyntaxError(where, "alt text must say what the figure shows (4+ words)")
        return Directive("figure", snippet, where, figure=number, alt=alt.strip())
    raise DirectiveSyntaxError(
        where,
        f"unknown directive {kind!r}: use output(...), figure(...), value(...) or data(...)",
    )


def parse_data(args: list, kwargs: dict, where: Location) -> Directive:
    usage = 'usage: {{ data("snippets/name.py", id="element-id") }}'
    if len(args) != 1 or set(kwargs) != {"id"} or not isinstance(args[0], str):
        raise DirectiveSyntaxError(where, usage)
    element_id = kwargs["id"]
    if not isinstance(element_id, str) or not HTML_ID.fullmatch(element_id):
        raise DirectiveSyntaxError(
            where,
            f"id={element_id!r} is not an HTML id: a letter, then letters, digits, '-' or '_'",
        )
    return Directive("data", args[0], where, element_id=element_id)


def parse_value(args: list, kwargs: dict, where: Location) -> Directive:
    usage = (
        'usage: {{ value("snippets/name.py", "label", n) }} (the n-th number after the label; '
        'more labels narrow it: "section", "row")'
    )
    index = args.pop() if len(args) > 2 and isinstance(args[-1], int) else 1
    sig, tex, plain = kwargs.pop("sig", None), kwargs.pop("tex", False), kwargs.pop("plain", False)
    snippet, labels = (args[0], tuple(args[1:])) if args else (None, ())
    if (
        not isinstance(snippet, str)
        or not labels
        or kwargs
        or not all(isinstance(label, str) and label.strip() for label in labels)
        or not isinstance(index, int)
        or index < 1
        or not isinstance(tex, bool)
        or not isinstance(plain, bool)
    ):
        raise DirectiveSyntaxError(where, usage)
    if sig is not None and not (isinstance(sig, int) and sig >= 1):
        raise DirectiveSyntaxError(where, "sig is a number of significant digits, at least 1")
    return Directive(
        "value", snippet, where, labels=labels, index=index, sig=sig, tex=tex, plain=plain
    )


def inline_values(line: str, where: Location) -> list[Directive]:
    """The value directives on a line, in order."""
    return [parse_call(f"value({match['args']})", where) for match in VALUE.finditer(line)]


def directive_lines(
    text: str, page: str
) -> Iterator[tuple[int, str, Directive | None, list[Directive]]]:
    """Every line with the output, figure or data directive it holds (None for other lines) and its
    value directives (inside a figure's alt text too); code fences hold none."""
    for number, line, in_fence in lines_with_fences(text):
        if in_fence:
            yield number, line, None, []
            continue
        where = Location(page, number)
        values = inline_values(line, where)
        match = DIRECTIVE.match(line)
        if match:
            found = parse_call(match["body"], where)
            if found.kind == "data" and match["indent"]:
                raise DirectiveSyntaxError(
                    where,
                    "a data directive stands at the start of its line: Markdown reads HTML "
                    "inside an indented block (an admonition, a tab) as text",
                )
            yield number, line, replace(found, indent=match["indent"]), values
        else:
            yield number, line, None, values


def parse_page(text: str, page: str) -> tuple[list[Directive], list[Include]]:
    """All directives and includes of one page; DirectiveSyntaxError for a malformed one."""
    directives: list[Directive] = []
    includes: list[Include] = []
    for number, line, directive, values in directive_lines(text, page):
        include = INCLUDE.match(line)
        if include:
            target, _, section = include["target"].partition(":")
            named = section if SECTION_NAME.fullmatch(section) else None
            includes.append(Include(target, named, Location(page, number)))
        elif directive:
            directives.append(directive)
        directives += values
    return directives, includes


def check_include(include: Include, base: Path) -> str | None:
    """Why an include would fail (missing file or section), or None when it resolves."""
    path = base / include.target
    if not path.is_file():
        return f"{include.where}: includes {include.target}, which does not exist"
    if include.section:
        text = path.read_text(encoding="utf-8")
        for marker in ("start", "end"):
            if not re.search(
                rf"--8<--\s*\[\s*{marker}\s*:\s*{re.escape(include.section)}\s*\]", text
            ):
                return (
                    f"{include.where}: includes section '{include.section}' of {include.target}, "
                    f"which has no '[{marker}:{include.section}]' marker"
                )
    return None
