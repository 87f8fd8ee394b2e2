"""Cache keys: what a snippet's output depends on, hashed."""

from __future__ import annotations

import hashlib
import json
import platform
import re
from pathlib import Path

from . import __version__

IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\w+)[\w.]*[ \t]+import|import[ \t]+([\w., \t]+))", re.M)


def _imported_names(source: str) -> set[str]:
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


def local_modules(snippet: Path, snippets_dir: Path) -> list[Path]:
    """The snippet and the modules of `snippets_dir` it imports, transitively, sorted."""
    seen: dict[Path, None] = {}
    todo = [snippet.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen[path] = None
        for name in sorted(_imported_names(path.read_text(encoding="utf-8"))):
            for candidate in (snippets_dir / f"{name}.py", snippets_dir / name / "__init__.py"):
                if candidate.is_file():
                    todo.append(candidate.resolve())
    return sorted(seen, key=str)


def executor_digest() -> str:
    """The version plus the code that shapes a result, so a change to capture re-runs snippets."""
    digest = hashlib.sha256(__version__.encode())
    for module in ("worker.py", "figures.py", "notebooks.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()


def lock_digest(lock_files: list[Path]) -> str:
    """One hash for the pinned dependency versions; a missing lock file is an error, not a miss."""
    digest = hashlib.sha256()
    for path in lock_files:
        if not path.is_file():
            raise FileNotFoundError(
                f"lock file {path} does not exist (docs-exec lock_files setting)"
            )
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(snippet: Path, snippets_dir: Path, locked: str) -> str:
    """Hash of the snippet, its local imports, the lock, Python and the executor version."""
    root = snippets_dir.resolve()
    sources = {
        str(path.relative_to(root)) if path.is_relative_to(root) else path.name: hashlib.sha256(
            path.read_bytes()
        ).hexdigest()
        for path in local_modules(snippet, snippets_dir)
    }
    material = {
        "executor": executor_digest(),
        "python": platform.python_version(),
        "lock": locked,
        "sources": sources,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
