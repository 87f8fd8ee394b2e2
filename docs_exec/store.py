"""What one snippet run produced, and the on-disk cache of results (a JSON file a snippet)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


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
        figures = [Figure(**figure) for figure in data.pop("figures")]
        return cls(figures=figures, **data)


class Cache:
    """Results by snippet path; an entry counts only while its key is the snippet's current key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, snippet: str) -> Path:
        return self.directory / (snippet.replace("/", "__") + ".json")

    def load(self, snippet: str, key: str) -> Result | None:
        path = self._path(snippet)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        if data.get("key") != key:
            return None
        return Result.from_dict(data)

    def save(self, result: Result) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(result.snippet)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(result), indent=1, sort_keys=True), encoding="utf-8")
        partial.replace(path)
