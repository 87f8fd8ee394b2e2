"""The MkDocs side, kept thin: scan pages, run snippets, add figure files, expand directives."""

from __future__ import annotations

import logging
from pathlib import Path

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from . import executor
from .errors import BuildError
from .notebook_pages import clean_page_html
from .project import DEFAULTS, check, notebook_page, notebook_sources, scan, site_files
from .render import add_downloads, expand

log = logging.getLogger("mkdocs.plugins.docs_exec")


class DocsExecConfig(base.Config):
    snippets_dir = c.Type(str, default=DEFAULTS["snippets_dir"])
    notebooks_dir = c.Type(str, default=DEFAULTS["notebooks_dir"])
    cache_dir = c.Type(str, default=DEFAULTS["cache_dir"])
    lock_files = c.ListOfItems(c.Type(str), default=DEFAULTS["lock_files"])
    timeout = c.Type((int, float), default=DEFAULTS["timeout"])
    workers = c.Type(int, default=0)


class DocsExecPlugin(BasePlugin[DocsExecConfig]):
    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        root = Path(config.config_file_path).parent.resolve()
        self.root = root
        self.settings = executor.Settings(
            root=root,
            snippets_dir=root / self.config.snippets_dir,
            cache_dir=root / self.config.cache_dir,
            lock_files=[root / name for name in self.config.lock_files],
            timeout=float(self.config.timeout),
            workers=self.config.workers,
        )
        return config

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        docs = Path(config.docs_dir).resolve().relative_to(self.root).as_posix()
        pages = {f"{docs}/{f.src_uri}": f.content_string for f in files.documentation_pages()}
        plan = scan(pages, self.root)
        if plan.problems:
            raise PluginError(str(BuildError(plan.problems)))
        notebooks = notebook_sources(self.root, self.config.notebooks_dir)
        try:
            report = executor.run(
                plan.snippets,
                self.settings,
                progress=lambda m: log.info(f"docs-exec {m}"),
                notebooks=notebooks,
            )
        except BuildError as error:
            raise PluginError(str(error)) from error
        problems = check(plan, report)
        if problems:
            raise PluginError(str(BuildError(problems)))
        log.info(f"docs-exec: {report.summary()}")
        for path, content in site_files(plan, report, self.root).items():
            files.append(File.generated(config, path, content=content))
        # mkdocs-jupyter (listed after this plugin) renders notebooks that exist on disk.
        rendered = self.settings.cache_dir / "notebooks"
        for source in notebooks:
            target = rendered / notebook_page(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(report.results[source].notebook, encoding="utf-8")
            files.append(
                File(
                    notebook_page(source),
                    src_dir=str(rendered),
                    dest_dir=config.site_dir,
                    use_directory_urls=config.use_directory_urls,
                )
            )
        self.results = report.results
        self.notebook_pages = {notebook_page(source) for source in notebooks}
        return files

    def on_page_markdown(self, markdown: str, page: Page, **kwargs: object) -> str:
        try:
            expanded = expand(markdown, page.file.src_uri, self.results)
        except BuildError as error:
            raise PluginError(str(error)) from error
        return add_downloads(expanded, page.file.src_uri)

    def on_page_content(self, html: str, page: Page, **kwargs: object) -> str:
        if page.file.src_uri in self.notebook_pages:
            try:
                return clean_page_html(html, page.file.src_uri, self.settings.cache_dir / "pages")
            except BuildError as error:
                raise PluginError(str(error)) from error
        return html

    def on_serve(self, server, config: MkDocsConfig, builder):
        server.watch(str(self.settings.snippets_dir))
        server.watch(str(self.root / self.config.notebooks_dir))
        return server
