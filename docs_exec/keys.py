"""Cache keys: what a snippet's output depends on, hashed."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import re
from dataclasses import astuple
from pathlib import Path

from . import __version__
from .errors import BuildError
from .settings import Settings
from .store import SCHEMA

# The modules that decide what a stored Result holds: running (worker), capturing figures
# (figures), notebooks, the Result's shape (store) and how a run becomes a Result (executor).
CAPTURE_MODULES = ("worker.py", "figures.py", "notebooks.py", "store.py", "executor.py")

IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\w+)[\w.]*[ \t]+import|import[ \t]+([\w., \t]+))", re.M)


def imported_names(source: str) -> set[str]:
    """Top-level names the source imports. A line scan, not a parse: it runs on every build,
    and a name too many only adds a file to the hash."""
    names: set[str] = set()
    for module, modules in IMPORT.findall(source):
        if module:
            names.add(module)
        else:
            names.update(
                part.split()[0].split(".")[0] for part in modules.split(",") if part.strip()
            )
    return names


def local_modules(snippet: Path) -> list[Path]:
    """The snippet and the local modules it imports, transitively, sorted: modules beside it,
    where `python snippet.py` finds them (sys.path[0] is the script's folder)."""
    seen: dict[Path, None] = {}
    todo = [snippet.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen[path] = None
        for name in sorted(imported_names(path.read_text(encoding="utf-8"))):
            for candidate in (path.parent / f"{name}.py", path.parent / name / "__init__.py"):
                if candidate.is_file():
                    todo.append(candidate.resolve())
    return sorted(seen, key=str)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digest_of(material: dict) -> str:
    """The key for a JSON description of everything a stored result depends on. The same idiom
    keys the snippet cache, the kernel runs, the trajectory reruns and the clean build."""
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


@functools.cache
def executor_digest() -> str:
    """The version, the result schema and the code that shapes a result: a change to any of
    them re-runs every snippet. Read once per process (it is the same for every snippet)."""
    digest = hashlib.sha256(f"{__version__}\0{SCHEMA}".encode())
    for module in CAPTURE_MODULES:
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()


def lock_digest(lock_files: list[Path]) -> str:
    """One hash for the pinned dependency versions; a missing lock file stops the build."""
    missing = [path for path in lock_files if not path.is_file()]
    if missing:
        raise BuildError(
            [
                f"{path}: lock file not found (the docs-exec `lock_files` setting names it; "
                "outputs are cached per locked dependency set, `make lock` writes it)"
                for path in missing
            ]
        )
    digest = hashlib.sha256()
    for path in lock_files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(snippet: Path, settings: Settings, locked: str) -> str:
    """Hash of the snippet, its local imports, the lock, Python, the executor version and the
    palette the figures are drawn for."""
    root = settings.snippets.resolve()
    sources = {
        str(path.relative_to(root)) if path.is_relative_to(root) else path.name: file_digest(path)
        for path in local_modules(snippet)
    }
    material = {
        "executor": executor_digest(),
        "python": platform.python_version(),
        "lock": locked,
        "sources": sources,
        "palette": astuple(settings.palette),
    }
    return digest_of(material)
