"""The build step every engine shares: scan the pages, run what they need, and decide what each
page and generated file contains. The MkDocs plugin asks it page by page; `python -m docs_exec
build` writes the same pages and files into a staging docs folder that any engine can build."""

from __future__ import annotations

import posixpath
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import executor
from .archive import cached_code_archive
from .errors import BuildError
from .exercises import exercise_markdown, starter_notebook
from .layout import STAGING, code_archive_path, download_path, notebook_page, starter_path
from .project import Plan, check, notebook_sources, scan, site_files
from .render import add_downloads, expand
from .settings import Settings
from .source_links import source_links_markdown
from .store import Result


@dataclass
class Build:
    settings: Settings
    plan: Plan
    report: executor.Report
    notebooks: tuple[str, ...]  # exercise sources, by path from the root
    pages: dict[str, str]  # every page's Markdown, by path from the root (docs/part/page.md)

    @property
    def results(self) -> dict[str, Result]:
        return self.report.results

    def page(self, markdown: str, page: str) -> str:
        """A docs page (`page`: its path inside the docs folder) as every engine receives it:
        directives replaced by outputs, figures and values, downloads under the code, and the
        links to edit the page or report a problem with it at the end."""
        expanded = expand(markdown, page, self.results)
        source = f"{self.settings.docs_dir}/{page}"
        with_downloads = add_downloads(expanded, page, self.settings.snippets_dir)
        return with_downloads + source_links_markdown(self.settings, source)

    def files(self) -> dict[str, str | bytes]:
        """Generated files by path inside the docs folder: figures in both schemes, each shown
        snippet as a script and a notebook, each exercise as a starter and a full notebook, and
        all of the code in one zip."""
        files: dict[str, str | bytes] = {**site_files(self.plan, self.report, self.settings)}
        notebooks = {source: self.results[source].notebook for source in self.notebooks}
        for source, notebook in notebooks.items():
            files[download_path(source, ".ipynb")] = notebook
            files[starter_path(source)] = starter_notebook(notebook)
        files[code_archive_path(self.settings.site_name)] = cached_code_archive(
            self.settings, notebooks
        )
        return files

    def notebook_pages(self) -> dict[str, str]:
        """Executed exercise notebooks, for an engine that renders .ipynb (mkdocs-jupyter)."""
        return {notebook_page(s): self.results[s].notebook for s in self.notebooks}

    def exercise_pages(self) -> dict[str, str]:
        """Exercise pages in Markdown, for an engine that cannot render notebooks."""
        pages = {}
        for source in self.notebooks:
            page = notebook_page(source, ".md")
            try:
                markdown = exercise_markdown(self.results[source], source, page)
            except ValueError as error:  # a figure label with no plain-text form
                raise BuildError([f"{source}: {error}"]) from error
            pages[page] = markdown + source_links_markdown(self.settings, source)
        return pages


def read_pages(settings: Settings) -> dict[str, str]:
    """Every Markdown page of the docs folder, by its path from the root (docs/part/page.md)."""
    docs = settings.root / settings.docs_dir
    return {
        path.relative_to(settings.root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(docs.rglob("*.md"))
    }


def run(settings: Settings, pages: dict[str, str], progress: executor.Progress = print) -> Build:
    """Scan `pages` (by path from the root), run every snippet and notebook that is not cached,
    and check the results; any problem raises one BuildError that lists them all."""
    plan = scan(pages, settings.root)
    if plan.problems:
        raise BuildError(plan.problems)
    notebooks = notebook_sources(settings.root, settings.notebooks_dir)
    report = executor.run(plan.snippets, settings, progress, notebooks=notebooks)
    problems = check(plan, report)
    if problems:
        raise BuildError(problems)
    return Build(settings, plan, report, notebooks, pages)


def staging_config(config: str, build: Build) -> str:
    """mkdocs.yml for an engine that builds the staging folder: the same site, read from the
    expanded docs beside it and written into site/ beside it (Zensical keeps both inside the
    config's folder), exercise pages in Markdown, and no plugin left to run (the build ran)."""
    lines = config.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("plugins:")), None)
    if start is not None:
        end = next(
            (i for i in range(start + 1, len(lines)) if re.match(r"[A-Za-z_]", lines[i])),
            len(lines),
        )
        lines[start:end] = ["plugins:", "  - search", ""]
    text = "\n".join(lines) + "\n"
    for page in build.notebook_pages():
        text = text.replace(page, page.removesuffix(".ipynb") + ".md")
    return f"docs_dir: docs\nsite_dir: site\n{text}"


LINK = re.compile(r"\]\((?P<target>[^)\s#]+\.ipynb)(?P<anchor>#[^)\s]*)?\)")


def markdown_exercise_links(markdown: str, page: str, notebook_pages: set[str]) -> str:
    """Links to an exercise page (`exercises/x.ipynb`) pointed at its Markdown rendering
    (`exercises/x.md`); links to downloadable notebooks stay as they are."""

    def relink(match: re.Match[str]) -> str:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page), match["target"]))
        if target not in notebook_pages:
            return match[0]
        return f"]({match['target'].removesuffix('.ipynb')}.md{match['anchor'] or ''})"

    return LINK.sub(relink, markdown)


def write_staging(build: Build, config_file: Path) -> Path:
    """Write the docs folder as any engine should build it, and its config; returns the config.
    The folder is rebuilt from scratch each time, so nothing stale survives a rename."""
    settings = build.settings
    out = settings.cache / STAGING
    docs = out / "docs"
    if out.exists():
        shutil.rmtree(out)
    source = settings.root / settings.docs_dir
    shutil.copytree(source, docs, ignore=shutil.ignore_patterns("*.md"))
    notebook_pages = set(build.notebook_pages())
    for path, text in build.pages.items():
        page = Path(path).relative_to(settings.docs_dir).as_posix()
        _write(docs / page, markdown_exercise_links(build.page(text, page), page, notebook_pages))
    for path, content in {**build.files(), **build.exercise_pages()}.items():
        _write(docs / path, content)
    staged = out / "mkdocs.yml"
    staged.write_text(staging_config(config_file.read_text(encoding="utf-8"), build), "utf-8")
    return staged


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
