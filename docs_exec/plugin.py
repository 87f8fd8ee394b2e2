"""The MkDocs side, kept thin: the shared build step (build.py) runs at on_files; this file only
hands MkDocs the generated files and each page's Markdown, and renders exercise notebooks through
mkdocs-jupyter."""

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

from . import build
from .errors import BuildError
from .exercises import downloads_html
from .notebook_pages import clean_page_html
from .settings import Settings
from .source_links import source_links_html

log = logging.getLogger("mkdocs.plugins.docs_exec")


class DocsExecConfig(base.Config):
    snippets_dir = c.Type(str, default=Settings.snippets_dir)
    notebooks_dir = c.Type(str, default=Settings.notebooks_dir)
    cache_dir = c.Type(str, default=Settings.cache_dir)
    lock_files = c.ListOfItems(c.Type(str), default=list(Settings.lock_files))
    timeout = c.Type((int, float), default=Settings.timeout)
    workers = c.Type(int, default=Settings.workers)
    repository = c.Type(str, default=Settings.repository)
    branch = c.Type(str, default=Settings.branch)
    light_background = c.Type(str, default=Settings.light_background)
    dark_background = c.Type(str, default=Settings.dark_background)
    dark_foreground = c.Type(str, default=Settings.dark_foreground)


class DocsExecPlugin(BasePlugin[DocsExecConfig]):
    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        root = Path(config.config_file_path).parent.resolve()
        docs = Path(config.docs_dir).resolve().relative_to(root).as_posix()
        given = {**dict(self.config), "docs_dir": docs, "site_name": config.site_name}
        self.settings = Settings.from_mapping(root, given)
        return config

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        docs = self.settings.docs_dir
        pages = {f"{docs}/{f.src_uri}": f.content_string for f in files.documentation_pages()}
        try:
            self.build = build.run(self.settings, pages, lambda m: log.info(f"docs-exec {m}"))
            generated = self.build.files()
        except BuildError as error:
            raise PluginError(str(error)) from error
        log.info(f"docs-exec: {self.build.report.summary()}")
        for path, content in generated.items():  # text, or bytes (the code archive)
            files.append(File.generated(config, path, content=content))
        # mkdocs-jupyter (listed after this plugin) renders notebooks that exist on disk.
        rendered = self.settings.cache / "notebooks"
        self.exercises = dict(zip(self.build.notebook_pages(), self.build.notebooks, strict=True))
        for page, notebook in self.build.notebook_pages().items():
            target = rendered / page
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(notebook, encoding="utf-8")
            files.append(
                File(
                    page,
                    src_dir=str(rendered),
                    dest_dir=config.site_dir,
                    use_directory_urls=config.use_directory_urls,
                )
            )
        return files

    def on_page_markdown(self, markdown: str, page: Page, **kwargs: object) -> str:
        try:
            return self.build.page(markdown, page.file.src_uri)
        except BuildError as error:
            raise PluginError(str(error)) from error

    def on_page_content(self, html: str, page: Page, **kwargs: object) -> str:
        source = self.exercises.get(page.file.src_uri)
        if source is None:
            return html
        downloads = downloads_html(source, page.file.url)
        try:
            cleaned = clean_page_html(
                html, page.file.src_uri, self.settings.cache / "pages", downloads
            )
        except BuildError as error:
            raise PluginError(str(error)) from error
        return cleaned + source_links_html(self.settings, source)

    def on_serve(self, server, config: MkDocsConfig, builder):
        server.watch(str(self.settings.snippets))
        server.watch(str(self.settings.path(self.settings.notebooks_dir)))
        return server
