"""What one snippet run produced, and the on-disk cache of results (a JSON file per key)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

# The shape of a stored Result. Bump it when a field changes: an entry written in another shape is
# then a miss (the snippet runs again), never a crash while reading it.
SCHEMA = 2


@dataclass(frozen=True)
class Figure:
    light: str
    dark: str


@dataclass(frozen=True)
class Result:
    snippet: str
    key: str
    stdout: str
    stderr: str
    provenance: str
    seconds: float
    figures: list[Figure] = field(default_factory=list)
    notebook: str = ""  # the executed .ipynb, for exercise notebooks

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        data = {name: value for name, value in data.items() if name != "schema"}
        figures = [Figure(**figure) for figure in data.pop("figures")]
        return cls(figures=figures, **data)


def entry_folder(snippet: str) -> str:
    """The cache folder of one snippet or notebook (its path from the root, flattened)."""
    return snippet.replace("/", "__")


class Cache:
    """Results by snippet and key, one file per key, so that switching back and forth between two
    branches that differ in a snippet finds both results. The KEEP most recently used entries of
    each snippet stay; older ones are removed when a new one is saved."""

    KEEP = 4

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, snippet: str, key: str) -> Path:
        return self.directory / entry_folder(snippet) / f"{key}.json"

    def load(self, snippet: str, key: str) -> Result | None:
        data = load_entry(self._path(snippet, key), key)
        try:
            return None if data is None else Result.from_dict(data)
        except (TypeError, KeyError, AttributeError):
            return None  # written in another shape: run it again

    def save(self, result: Result) -> None:
        save_entry(self._path(result.snippet, result.key), asdict(result), self.KEEP)


def load_entry(path: Path, key: str) -> dict | None:
    """The JSON entry stored at `path` under `key`; None if it is absent, unreadable, of another
    schema or another key. A hit is marked most recently used, so pruning keeps it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or data.get("key") != key:
        return None
    os.utime(path)
    return data


def save_entry(path: Path, entry: dict, keep: int) -> None:
    """Write `entry` (it holds its "key") at `path` in one step, so a reader never sees half a
    file; then keep only the `keep` most recently used entries of its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
    text = json.dumps({"schema": SCHEMA, **entry}, indent=1, sort_keys=True)
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    entries = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    for stale in entries[:-keep]:
        stale.unlink(missing_ok=True)
