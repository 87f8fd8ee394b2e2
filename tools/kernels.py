"""Run every snippet as a reader would, under other CPU kernels and thread counts, and measure how
far each printed number moves from the output the build recorded.

torch picks its vector kernels by CPU (`ATEN_CPU_CAPABILITY`: default, avx2, avx512) and splits
reductions by thread count; either changes the last bits of a sum, and a chaotic run amplifies
them. The settings below cover each kernel family and both thread counts that a 2-core reader
gets; the build itself records with the machine's own kernels and one thread.

Usage: python tools/kernels.py [snippet names]   (prints the spread table for README/`make bench`)
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from docs_exec.keys import cache_key, digest_of, file_digest, lock_digest
from docs_exec.settings import from_config_file
from docs_exec.store import Cache, entry_folder, load_entry, save_entry
from docs_exec.values import label_pattern

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = ROOT / "snippets"
PRELOADED = Path(__file__).resolve().parent / "preloaded.py"
SETTINGS_OF_THE_BUILD = from_config_file(ROOT / "mkdocs.yml")
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Setting:
    """`capability` None: the machine's own kernels; `threads` None: torch's default count."""

    capability: str | None
    threads: int | None

    @property
    def name(self) -> str:
        return f"{self.capability or 'native'}/{self.threads or 'default'} threads"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "MPLBACKEND": "Agg"}
        for name in ("PYTHONPATH", "ATEN_CPU_CAPABILITY", "OMP_NUM_THREADS", "OMP_WAIT_POLICY"):
            env.pop(name, None)
        if self.capability:
            env["ATEN_CPU_CAPABILITY"] = self.capability
        if self.threads:
            env["OMP_NUM_THREADS"] = str(self.threads)
        # Idle OpenMP threads sleep instead of spinning: a run beside other work (the suite runs
        # these beside pytest) then does not crawl, 25 s instead of 58 s for four snippets with
        # one core busy elsewhere (2026-12-05). How work is split, and so every printed digit,
        # does not depend on it: tests/test_kernels.py compares with a plain run.
        env["OMP_WAIT_POLICY"] = "PASSIVE"
        return env


# A reader's plain `python snippet.py` first; then each other kernel family, each thread count.
SETTINGS = (
    Setting(None, None),
    Setting("avx2", 1),
    Setting("default", 2),
)


def snippet_names() -> list[str]:
    """Every snippet by its path inside snippets/ ("<part>/<name>.py")."""
    return sorted(
        p.relative_to(SNIPPETS).as_posix()
        for p in SNIPPETS.glob("*/*.py")
        if not p.name.startswith("_")
    )


def recorded_stdout(snippet: str) -> str:
    """What the build recorded for `snippets/<name>` as it is now (its cache entry)."""
    build = SETTINGS_OF_THE_BUILD
    locked = lock_digest(build.locks)
    result = Cache(build.cache).load(snippet, cache_key(ROOT / snippet, build, locked))
    if result is None:
        raise LookupError(f"{snippet}: no recorded output; run `python -m docs_exec run` first")
    return result.stdout


def _shape(line: str) -> str:
    """A printed line without its numbers, runs of spaces as one: a table padded to its widest
    number shifts its columns when a number gains a digit (9.99 to 10.01), and that is no
    difference a reader would see as a different result."""
    return " ".join(NUMBER.sub("#", line).split())


def number_pairs(actual: str, expected: str) -> Iterator[tuple[int, str, str, str]]:
    """(line number, printed line, printed number, recorded number) for every number of two
    outputs; ValueError where they differ in anything but their numbers and the spaces padding
    them (nan is not a number here, so a nan where a number was recorded is a mismatch)."""
    got_lines, want_lines = actual.splitlines(), expected.splitlines()
    if len(got_lines) != len(want_lines):
        raise ValueError(f"{len(got_lines)} lines printed, {len(want_lines)} recorded")
    for number, (got, want) in enumerate(zip(got_lines, want_lines, strict=True), start=1):
        if _shape(got) != _shape(want):
            raise ValueError(f"line {number} differs:\n  ran:      {got}\n  recorded: {want}")
        for a, b in zip(NUMBER.findall(got), NUMBER.findall(want), strict=True):
            yield number, got, a, b


def last_digit(token: str) -> float:
    """The value of one unit in the last printed digit of a number token ("1.25e-3" -> 1e-5)."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (-decimals + (int(exponent) if exponent else 0))


def same_output(
    actual: str, expected: str, tolerances: tuple[tuple[str, float], ...] = ()
) -> str | None:
    """None when the texts match: integers exactly, decimals to two units in the last digit, or
    to the relative tolerance a page declares, |a - b| <= rtol * max(|a|, |b|), for every line
    (label "") or for the lines with a label (see docs_exec.values.label_pattern)."""
    patterns = [(label_pattern(label) if label else None, rtol) for label, rtol in tolerances]
    lines = expected.splitlines()
    try:
        for line, got, a, b in number_pairs(actual, expected):
            decimal = any(mark in a + b for mark in ".eE")
            tolerance = 2 * max(last_digit(a), last_digit(b)) if decimal else 0
            x, y = float(a), float(b)
            for pattern, rtol in patterns:
                if pattern is None or pattern.search(lines[line - 1]):
                    tolerance = max(tolerance, rtol * max(abs(x), abs(y)))
            if not abs(x - y) <= tolerance:
                return f"line {line}: {a} differs from the recorded {b}:\n  ran: {got}"
    except ValueError as exc:
        return str(exc)
    return None


def largest_relative_difference(actual: str, expected: str) -> tuple[float, str]:
    """max |a - b| / max(|a|, |b|) over the numbers of two outputs, and the printed line where
    it occurs (ValueError as above)."""
    largest, where = 0.0, ""
    for line, got, a, b in number_pairs(actual, expected):
        x, y = float(a), float(b)
        moved = abs(x - y) / max(abs(x), abs(y)) if max(abs(x), abs(y)) else 0.0
        if moved > largest:
            largest, where = moved, f"line {line}: {a} (recorded {b}) in: {got.strip()}"
    return largest, where


def declared_tolerances() -> dict[str, tuple[tuple[str, float], ...]]:
    """The tolerances each snippet's output directive declares on its page."""
    from docs_exec.project import scan

    pages = {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted((ROOT / "docs").rglob("*.md"))
    }
    tolerances: dict[str, tuple[tuple[str, float], ...]] = {}
    for directive in scan(pages, ROOT).directives:
        if directive.kind == "output":
            declared = tolerances.get(directive.snippet, ())
            tolerances[directive.snippet] = declared + directive.tolerances
    return tolerances


@dataclass(frozen=True)
class Cell:
    """One snippet under one setting: how far it moved, where, and what fails the page's
    declared tolerance (None when it holds)."""

    largest: float
    where: str
    failure: str | None


def run_scripts(
    scripts: list[Path], env: dict[str, str], jobs: int = 1
) -> dict[Path, subprocess.CompletedProcess]:
    """Each script's result as if it had been run with `python script` in an empty folder
    under `env` (a CompletedProcess, so that callers cannot tell the difference)."""
    done = subprocess.run(
        [sys.executable, str(PRELOADED), str(jobs), *map(str, scripts)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"the preloaded runner failed:\n{done.stderr[-2000:]}")
    results = {}
    for line in done.stdout.splitlines():
        result = json.loads(line)
        path = Path(result.pop("script"))
        results[path] = subprocess.CompletedProcess([sys.executable, str(path)], **result)
    missing = set(scripts) - set(results)
    if missing:
        raise RuntimeError(f"the preloaded runner returned nothing for {sorted(missing)}")
    return results


PROBE = "import torch; print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())"


@functools.cache
def reached(setting: Setting) -> tuple[str, int]:
    """The kernel family and thread count torch really uses under `setting` on this machine
    (an ATEN_CPU_CAPABILITY the CPU lacks falls back to a lower one)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=setting.env(), capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"torch did not start under {setting.name}:\n{done.stderr[-2000:]}")
    capability, threads = done.stdout.split()
    return capability, int(threads)


def run_key(name: str, setting: Setting) -> str:
    """What a standalone run's output depends on: everything the build's key covers (the snippet,
    its local imports, the lock, Python), the kernels and threads torch reaches under the
    setting on this machine, the environment it gets and the runner that forks it."""
    build = SETTINGS_OF_THE_BUILD
    env = setting.env()
    material = {
        "snippet": cache_key(SNIPPETS / name, build, lock_digest(build.locks)),
        "reached": reached(setting),
        "env": {k: env.get(k) for k in ("ATEN_CPU_CAPABILITY", "OMP_NUM_THREADS", "MPLBACKEND")},
        "runner": file_digest(PRELOADED),
    }
    return digest_of(material)


def _stored_run(name: str, setting: Setting) -> Path:
    slug = re.sub(r"\W+", "-", setting.name)
    return SETTINGS_OF_THE_BUILD.cache / "kernels" / slug / entry_folder(name)


def run_setting(
    names: list[str], setting: Setting, cores: int | None = None, cached: bool = True
) -> dict[str, subprocess.CompletedProcess]:
    """Every snippet under one setting, each as `python snippets/<name>` from an empty folder
    (forked from a preloaded interpreter: tools/preloaded.py), as many at once as leave each
    run its threads (oversubscribed cores spin in OpenMP and crawl).

    A run that succeeded is stored under `run_key`, beside the build's cache, and not repeated
    while nothing it depends on changes: the same inputs on the same machine print the same
    bytes (tests/test_reproducible.py holds the build to that). `cached=False` runs them all."""
    keys = {name: run_key(name, setting) for name in names} if cached else {}
    results: dict[str, subprocess.CompletedProcess] = {}
    for name, key in keys.items():
        entry = load_entry(_stored_run(name, setting) / f"{key}.json", key)
        if entry is not None:
            results[name] = subprocess.CompletedProcess(
                [sys.executable, str(SNIPPETS / name)], 0, entry["stdout"], entry["stderr"]
            )
    missing = [name for name in names if name not in results]
    cores = cores or os.cpu_count() or 1
    jobs = max(1, cores // (setting.threads or cores))
    scripts = [SNIPPETS / name for name in missing]
    done = run_scripts(scripts, setting.env(), jobs) if scripts else {}
    for name in missing:
        run = results[name] = done[SNIPPETS / name]
        if name in keys and run.returncode == 0:
            entry = {"key": keys[name], "stdout": run.stdout, "stderr": run.stderr}
            save_entry(_stored_run(name, setting) / f"{keys[name]}.json", entry, Cache.KEEP)
    return {name: results[name] for name in names}


def run_all(
    names: list[str], settings: tuple[Setting, ...] = SETTINGS
) -> dict[tuple[str, str], subprocess.CompletedProcess]:
    """Every snippet under every setting, by (setting name, snippet name)."""
    return {
        (setting.name, name): done
        for setting in settings
        for name, done in run_setting(names, setting).items()
    }


def measure(done: subprocess.CompletedProcess, name: str, declared: tuple) -> Cell:
    """How far one standalone run moved from the recorded output, and whether that is within
    the tolerances its page declares."""
    if done.returncode:
        return Cell(math.nan, "", f"exit {done.returncode}: {done.stderr[-300:]}")
    recorded = recorded_stdout(f"snippets/{name}")
    try:
        largest, where = largest_relative_difference(done.stdout, recorded)
    except ValueError as exc:
        return Cell(math.nan, "", str(exc))
    return Cell(largest, where, same_output(done.stdout, recorded, declared))


def main(argv: list[str]) -> int:
    """Print the largest relative difference per snippet and setting; `!` marks one outside
    the tolerance its page declares, explained below the table."""
    names = [n if n.endswith(".py") else f"{n}.py" for n in argv] or snippet_names()
    declared = declared_tolerances()
    runs = run_all(names)
    table = {
        name: {
            s.name: measure(runs[(s.name, name)], name, declared.get(f"snippets/{name}", ()))
            for s in SETTINGS
        }
        for name in names
    }
    header = [s.name for s in SETTINGS]
    print(f"| snippet | {' | '.join(header)} |")
    print("| --- |" + " --- |" * len(header))
    for name, row in table.items():
        cells = [f"{row[h].largest:.1e}{' !' if row[h].failure else ''}" for h in header]
        print(f"| {name} | {' | '.join(cells)} |")
    for name, row in table.items():
        for setting, cell in row.items():
            if cell.largest:
                print(f"{name} under {setting}: largest move at {cell.where}")
            if cell.failure:
                print(f"  ! outside the page's tolerance: {cell.failure}")
    return 1 if any(c.failure for row in table.values() for c in row.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
