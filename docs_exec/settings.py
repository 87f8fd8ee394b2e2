"""One settings object for every entry point (the MkDocs plugin, the command line, the tests)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from .figures import Palette


@dataclass(frozen=True)
class Settings:
    """Where things are, relative to `root` (the folder of mkdocs.yml), and how to run them.
    The defaults are this project's layout; mkdocs.yml's `docs-exec:` block or the command line
    override any of them by name."""

    root: Path
    docs_dir: str = "docs"
    snippets_dir: str = "snippets"
    notebooks_dir: str = "exercises"
    cache_dir: str = ".cache/docs-exec"
    lock_files: tuple[str, ...] = ("requirements.lock",)
    timeout: float = 120.0
    workers: int = 0  # 0: one child process per core
    site_name: str = ""  # mkdocs.yml's site_name, named in the notebooks readers download
    # Where the sources live, for the "Edit this page" / "Report a problem" links ("": none).
    repository: str = ""
    branch: str = "main"
    # The page colours of the theme's two schemes, which the figures' two variants are drawn for.
    light_background: str = Palette.light_background
    dark_background: str = Palette.dark_background
    dark_foreground: str = Palette.dark_foreground

    def __post_init__(self) -> None:
        self.palette  # noqa: B018  (a colour that is not #rrggbb fails here, when read)

    @classmethod
    def from_mapping(cls, root: Path, values: Mapping[str, object]) -> Settings:
        """Settings from a config block or parsed arguments; unset (None) values keep defaults,
        unknown names are an error rather than a silently ignored setting."""
        known = {f.name for f in fields(cls)} - {"root"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown docs-exec setting(s): {', '.join(unknown)}")
        given = {name: value for name, value in values.items() if value is not None}
        if "lock_files" in given:
            given["lock_files"] = tuple(given["lock_files"])  # type: ignore[arg-type]
        return cls(root=root.resolve(), **given)  # type: ignore[arg-type]

    def path(self, relative: str) -> Path:
        return self.root / relative

    @property
    def snippets(self) -> Path:
        return self.root / self.snippets_dir

    @property
    def cache(self) -> Path:
        return self.root / self.cache_dir

    @property
    def locks(self) -> list[Path]:
        return [self.root / name for name in self.lock_files]

    @property
    def palette(self) -> Palette:
        return Palette(self.light_background, self.dark_background, self.dark_foreground)

    @property
    def parallel(self) -> int:
        return self.workers or os.cpu_count() or 1


class _ConfigLoader(yaml.SafeLoader):
    """Reads mkdocs.yml as MkDocs does for the keys we need: `!ENV [NAME, default]` is the
    environment's value; other tags (Python objects for Markdown extensions) are not needed and
    read as None."""


def _env(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    names = loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else []
    if isinstance(node, yaml.ScalarNode):
        names = [loader.construct_scalar(node)]
    *variables, default = names if len(names) > 1 else [*names, None]
    return next((os.environ[v] for v in variables if v in os.environ), default)


_ConfigLoader.add_constructor("!ENV", _env)
_ConfigLoader.add_multi_constructor("", lambda loader, suffix, node: None)
_ConfigLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, s, node: None)


def from_config_file(config_file: Path, plugin: str = "docs-exec") -> Settings:
    """The settings mkdocs.yml gives the plugin (its `docs-exec:` block and `docs_dir`), so the
    command line and the MkDocs build run with the same ones."""
    config = yaml.load(config_file.read_text(encoding="utf-8"), Loader=_ConfigLoader) or {}
    block: Mapping[str, object] = {}
    for entry in config.get("plugins") or []:
        if isinstance(entry, dict) and plugin in entry:
            block = entry[plugin] or {}
    values = {**block, "docs_dir": config.get("docs_dir"), "site_name": config.get("site_name")}
    if values.get("workers") is not None:
        values["workers"] = int(values["workers"])  # type: ignore[call-overload]
    return Settings.from_mapping(config_file.parent, values)
