"""Tie pages to snippets: scan the docs, and check that every directive can be honoured."""

from __future__ import annotations

import json
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .directives import Directive, DirectiveSyntaxError, Include, check_include, parse_page
from .downloads import notebook, script
from .errors import Location
from .executor import Report
from .layout import download_path, figure_path
from .settings import Settings
from .values import UnresolvedValue, resolve


@dataclass
class Plan:
    directives: list[Directive] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def snippets(self) -> list[str]:
        return sorted({directive.snippet for directive in self.directives})


def scan(pages: dict[str, str], root: Path) -> Plan:
    """Parse every page (keyed by its path from `root`) and check the files it names exist."""
    plan = Plan()
    for page, text in sorted(pages.items()):
        try:
            directives, includes = parse_page(text, page)
        except DirectiveSyntaxError as exc:
            plan.problems.append(str(exc))
            continue
        plan.directives += directives
        plan.includes += includes
    for directive in plan.directives:
        if not (root / directive.snippet).is_file():
            plan.problems.append(
                f"{directive.where}: {directive.kind}(...) names {directive.snippet}, "
                "which does not exist"
            )
    plan.problems += [p for p in (check_include(i, root) for i in plan.includes) if p]
    return plan


def check(plan: Plan, report: Report) -> list[str]:
    """Problems that only the run can show: raising snippets, missing or unplaced figures,
    values that name no printed number, data that is not JSON."""
    uses: dict[str, list[Directive]] = defaultdict(list)
    for directive in plan.directives:
        uses[directive.snippet].append(directive)
    problems = []
    for failure in report.failures:
        used = uses.get(failure.snippet)
        where = used[0].where if used else Location(failure.snippet, failure.line or 1)
        at = f" at line {failure.line}" if failure.line else ""
        problems.append(
            f"{where}: {failure.snippet} failed{at}:\n{textwrap.indent(failure.traceback, '    ')}"
        )
    for snippet, directives in sorted(uses.items()):
        result = report.results.get(snippet)
        if result is None:
            continue
        first = directives[0].where
        if result.stderr.strip():
            problems.append(
                f"{first}: {snippet} wrote to stderr (fix or silence it; readers would see it):\n"
                + textwrap.indent(result.stderr.strip(), "    ")
            )
        placed = {d.figure for d in directives if d.kind == "figure"}
        for directive in directives:
            if directive.kind == "output" and not result.stdout.strip():
                problems.append(
                    f"{directive.where}: output(...) of {snippet}, which prints nothing"
                )
            if directive.kind == "data":
                try:
                    json.loads(result.stdout)
                except json.JSONDecodeError as exc:
                    problems.append(
                        f"{directive.where}: data(...) of {snippet}, which does not print JSON "
                        f"({exc})"
                    )
            if directive.kind == "value":
                try:
                    resolve(directive, result.stdout)
                except UnresolvedValue as exc:
                    problems.append(str(exc))
            if directive.kind == "figure" and directive.figure > len(result.figures):
                problems.append(
                    f"{directive.where}: figure {directive.figure} of {snippet}, which draws "
                    f"{len(result.figures)} figure(s)"
                )
        for number in range(1, len(result.figures) + 1):
            if number not in placed:
                problems.append(
                    f"{first}: {snippet} draws figure {number}, which no page places "
                    f'(add {{{{ figure("{snippet}", {number}, alt="...") }}}})'
                )
    return problems


def site_files(plan: Plan, report: Report, settings: Settings) -> dict[str, str]:
    """Files the build adds to the site, by path from the docs root: every figure in both
    schemes, and each included snippet as a download (script and notebook)."""
    root, shown = settings.root, f"{settings.snippets_dir}/"
    files = {}
    for snippet, result in sorted(report.results.items()):
        for number, figure in enumerate(result.figures, start=1):
            files[figure_path(snippet, number, "light")] = figure.light
            files[figure_path(snippet, number, "dark")] = figure.dark
    for snippet in sorted({i.target for i in plan.includes if i.target.startswith(shown)}):
        source = (root / snippet).read_text(encoding="utf-8")
        files[download_path(snippet, ".py")] = script(source)
        files[download_path(snippet, ".ipynb")] = notebook(source, snippet, settings.site_name)
    return files


def notebook_sources(root: Path, notebooks_dir: str) -> tuple[str, ...]:
    """Exercise notebooks (jupytext percent-format .py files), by path from the project root."""
    folder = root / notebooks_dir
    return tuple(p.relative_to(root).as_posix() for p in sorted(folder.glob("*.py")))
