"""The one error type the build raises, always with the place in the docs it comes from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A line in a source file, written `path:line` as editors and terminals link it."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


class BuildError(Exception):
    """One or more problems that must stop the build; each message starts with its location."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        super().__init__(f"docs-exec found {count}:\n\n" + "\n\n".join(problems))
