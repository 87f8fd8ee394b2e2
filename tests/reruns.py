"""The trajectory tests (claims about training runs) again under another kernel setting, in a
pytest of their own; each test file that passed is remembered under a key of everything it
reads, so that a second `make test` with nothing changed repeats none of them.

A file's key covers: the file; the suite's shared modules (conftest and the helpers beside it);
its part's snippets and pages; the snippets it imports from elsewhere; the pytest and site
configuration, the lock, the docs_exec package (the recorded outputs some tests read), Python;
and the kernels and threads torch reaches under the setting. Only a run that passed as a whole
is stored: a failure is never remembered.
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sitecheck import ROOT

from docs_exec.keys import digest_of, file_digest, imported_names, local_modules
from docs_exec.store import Cache, entry_folder, load_entry, save_entry
from tools.kernels import SETTINGS_OF_THE_BUILD, Setting, reached

MARKED = "trajectory and not slow"
SHARED = ("pyproject.toml", "mkdocs.yml", "requirements.lock")


@dataclass
class Rerun:
    """What the rerun under one setting did: the files it ran (and pytest's output and exit
    status for them) and the files whose stored pass still held."""

    returncode: int = 0
    output: str = ""
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)


def trajectory_files() -> list[Path]:
    """Every test file of a part that marks tests `trajectory`."""
    return sorted(p for p in ROOT.glob("tests/*/test_*.py") if "mark.trajectory" in p.read_text())


def _inputs(test_file: Path) -> list[Path]:
    part = test_file.parent.name
    found = {test_file, *(ROOT / name for name in SHARED)}
    found.update(p for p in (ROOT / "tests").glob("*.py") if not p.name.startswith("test_"))
    found.update((ROOT / "docs_exec").glob("*.py"))
    for folder in (ROOT / "snippets" / part, ROOT / "docs" / part):
        found.update(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for name in imported_names(test_file.read_text(encoding="utf-8")):
        for module in (ROOT / "snippets").glob(f"*/{name}.py"):
            found.update(local_modules(module))
    return sorted(found)


def file_key(test_file: Path, setting: Setting) -> str:
    material = {
        "inputs": {str(p.relative_to(ROOT)): file_digest(p) for p in _inputs(test_file)},
        "python": platform.python_version(),
        "reached": reached(setting),
    }
    return digest_of(material)


def _stored(test_file: Path, setting: Setting, key: str) -> Path:
    slug = re.sub(r"\W+", "-", setting.name)
    name = entry_folder(str(test_file.relative_to(ROOT)))
    return SETTINGS_OF_THE_BUILD.cache / "kernels" / f"trajectory-{slug}" / name / f"{key}.json"


def rerun_trajectory_tests(setting: Setting, threads: int) -> Rerun:
    """Run the trajectory tests of every file whose stored pass no longer holds under `setting`
    (torch set to `threads` threads, see conftest). Some read the outputs the build recorded;
    those are brought up to date first, under the machine's own settings, or a cold cache would
    be filled by this setting's kernels."""
    keys = {path: file_key(path, setting) for path in trajectory_files()}
    result = Rerun()
    todo = []
    for path, key in keys.items():
        held = load_entry(_stored(path, setting, key), key) is not None
        (result.reused if held else todo).append(str(path.relative_to(ROOT)))
    if not todo:
        return result
    record = [sys.executable, "-m", "docs_exec", "run"]
    recorded = subprocess.run(record, cwd=ROOT, capture_output=True, text=True)
    if recorded.returncode:
        raise RuntimeError(f"python -m docs_exec run failed:\n{recorded.stdout[-3000:]}")
    env = {**setting.env(), "TEST_TORCH_THREADS": str(threads)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", MARKED, *todo],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    result.returncode, result.output, result.ran = done.returncode, done.stdout, todo
    if done.returncode == 0:
        for name in todo:
            key = keys[ROOT / name]
            save_entry(_stored(ROOT / name, setting, key), {"key": key}, Cache.KEEP)
    return result
