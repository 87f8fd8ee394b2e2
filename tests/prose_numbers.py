"""Find the numbers a page's prose states and say where each comes from.

A number in the text a reader sees (running text, tables, admonitions, math, figure alt text)
must be one of three things:
- bound: a `{{ value(...) }}` directive, filled from a recorded run (nothing to check here);
- shown: the number, to the precision the prose gives it, is printed in an output on that page;
- allowed: listed in `tests/allowed_numbers.yml` with its reason (a constant, a closed form, a
  setting, a version, a citation), checked against its `equals` expression where it has one.

Only decimals are checked (a point or an exponent: 2.853, 5.3e-3, 9.5 × 10⁻⁷): integers on these
pages are sizes, steps, seeds, years and section numbers that a reader sets, not results.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from docs_exec.directives import DIRECTIVE, VALUE, lines_with_fences, parse_call
from docs_exec.errors import Location
from tools.kernels import NUMBER, last_digit

ALLOWED = Path(__file__).resolve().parent / "allowed_numbers.yml"
DECIMAL = re.compile(r"(?<![\w.])(?:\d+(?:\.\d+)?[eE][-+]?\d+|\d+\.\d+)(?![\w.]*\d)")
# 9.54 \times 10^{-7} in math, and 9.54 × 10⁻⁷ in text, are the number 9.54e-7.
MATH_SCIENTIFIC = re.compile(r"(\d+(?:\.\d+)?)\s*(?:\\times|\\cdot|×)\s*10\^\{?([-−]?\d+)\}?")
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
TEXT_SCIENTIFIC = re.compile(r"(\d+(?:\.\d+)?)\s*×\s*10([⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
# Markup that is not text a reader sees: link targets, attribute lists, HTML comments.
HIDDEN = re.compile(r"\]\([^)]*\)|\{:[^}]*\}|\{ *[.#][^}]*\}|<!--.*?-->")


@dataclass(frozen=True)
class Stated:
    token: str
    where: Location
    context: str

    def __str__(self) -> str:
        return f"{self.where}: {self.token}  in  {self.context.strip()[:120]}"


def _visible(line: str, where: Location) -> str:
    """The text of one Markdown line that a reader sees, with bound values taken out."""
    directive = DIRECTIVE.match(line)
    if directive:
        found = parse_call(directive["body"], where)
        line = found.alt if found.kind == "figure" else ""
    line = VALUE.sub(" ", line)
    line = HIDDEN.sub(" ", line)
    line = MATH_SCIENTIFIC.sub(lambda m: f"{m[1]}e{m[2].replace('−', '-')}", line)
    return TEXT_SCIENTIFIC.sub(lambda m: f"{m[1]}e{m[2].translate(SUPERSCRIPT)}", line)


def stated_numbers(text: str, page: str) -> Iterator[Stated]:
    """Every decimal number a reader sees on the page, with where it stands."""
    for number, line, fenced in lines_with_fences(text):
        if fenced or line.lstrip().startswith("--8<--"):
            continue
        where = Location(page, number)
        visible = _visible(line, where)
        for match in DECIMAL.finditer(visible):
            yield Stated(match.group(), where, visible)


def shown_outputs(text: str, page: str, stdout_of: dict[str, str]) -> list[float]:
    """Every number printed in the outputs the page places."""
    numbers = []
    for number, line, fenced in lines_with_fences(text):
        directive = None if fenced else DIRECTIVE.match(line)
        if directive:
            found = parse_call(directive["body"], Location(page, number))
            if found.kind == "output":
                numbers += [float(t) for t in NUMBER.findall(stdout_of[found.snippet])]
    return numbers


def rounds_to(value: float, token: str) -> bool:
    """`value` rounded to the precision of `token` is `token` (sign aside: prose writes a
    minus sign its own way)."""
    return abs(abs(value) - float(token)) <= last_digit(token) / 2 * (1 + 1e-9)


def load_allowed(path: Path = ALLOWED) -> dict[str, dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def check_allowed(entries: dict[str, dict]) -> list[str]:
    """Entries without a reason, or whose `equals` expression does not round to the number."""
    problems = []
    names = {name: getattr(math, name) for name in dir(math) if not name.startswith("_")}
    for token, entry in entries.items():
        if not isinstance(entry, dict) or not str(entry.get("reason", "")).strip():
            problems.append(f"{ALLOWED.name}: {token} has no reason")
            continue
        if not DECIMAL.fullmatch(str(token)):
            problems.append(f"{ALLOWED.name}: {token} is not a decimal number as pages write it")
        if "equals" in entry:
            value = eval(str(entry["equals"]), {"__builtins__": {}}, names)
            if not rounds_to(float(value), str(token)):
                problems.append(f"{ALLOWED.name}: {token} is not {entry['equals']} = {value!r}")
    return problems


def unexplained(text: str, page: str, stdout_of: dict[str, str], allowed: dict) -> list[Stated]:
    """Numbers on the page that are neither bound, nor shown in its outputs, nor allowed."""
    shown = shown_outputs(text, page, stdout_of)
    return [
        stated
        for stated in stated_numbers(text, page)
        if stated.token not in allowed and not any(rounds_to(x, stated.token) for x in shown)
    ]
