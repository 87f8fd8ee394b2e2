"""Run every snippet as a reader would, under other CPU kernels and thread counts, and measure how
far each printed number moves from the output the build recorded.

torch picks its vector kernels by CPU (`ATEN_CPU_CAPABILITY`: default, avx2, avx512) and splits
reductions by thread count; either changes the last bits of a sum, and a chaotic run amplifies
them. The settings below cover each kernel family and both thread counts that a 2-core reader
gets; the build itself records with the machine's own kernels and one thread.

Usage: python tools/kernels.py [snippet names]   (prints the spread table for README/`make bench`)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = ROOT / "snippets"
CACHE = ROOT / ".cache" / "docs-exec"
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
        for name in ("PYTHONPATH", "ATEN_CPU_CAPABILITY", "OMP_NUM_THREADS"):
            env.pop(name, None)
        if self.capability:
            env["ATEN_CPU_CAPABILITY"] = self.capability
        if self.threads:
            env["OMP_NUM_THREADS"] = str(self.threads)
        return env


# A reader's plain `python snippet.py` first; then each other kernel family, each thread count.
SETTINGS = (
    Setting(None, None),
    Setting("avx2", 1),
    Setting("default", 2),
)


def snippet_names() -> list[str]:
    return sorted(p.name for p in SNIPPETS.glob("*.py") if not p.name.startswith("_"))


def recorded_stdout(snippet: str) -> str:
    """What the last build recorded for `snippets/<name>` (the cache a build fills)."""
    data = json.loads((CACHE / (snippet.replace("/", "__") + ".json")).read_text())
    return data["stdout"]


def run_standalone(
    name: str, setting: Setting, timeout: float = 600
) -> subprocess.CompletedProcess:
    """`python snippets/<name>` from an empty folder, as a reader who downloaded it would."""
    with tempfile.TemporaryDirectory(prefix="kernels-") as folder:
        return subprocess.run(
            [sys.executable, str(SNIPPETS / name)],
            cwd=folder,
            capture_output=True,
            text=True,
            env=setting.env(),
            timeout=timeout,
        )


def number_pairs(actual: str, expected: str) -> Iterator[tuple[int, str, str, str]]:
    """(line number, printed line, printed number, recorded number) for every number of two
    outputs; ValueError where they differ in anything but their numbers (nan is not a number
    here, so a nan where a number was recorded is a mismatch)."""
    got_lines, want_lines = actual.splitlines(), expected.splitlines()
    if len(got_lines) != len(want_lines):
        raise ValueError(f"{len(got_lines)} lines printed, {len(want_lines)} recorded")
    for number, (got, want) in enumerate(zip(got_lines, want_lines, strict=True), start=1):
        if NUMBER.sub("#", got) != NUMBER.sub("#", want):
            raise ValueError(f"line {number} differs:\n  ran:      {got}\n  recorded: {want}")
        for a, b in zip(NUMBER.findall(got), NUMBER.findall(want), strict=True):
            yield number, got, a, b


def last_digit(token: str) -> float:
    """The value of one unit in the last printed digit of a number token ("1.25e-3" -> 1e-5)."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (-decimals + (int(exponent) if exponent else 0))


def same_output(actual: str, expected: str, rtol: float = 0.0) -> str | None:
    """None when the texts match: integers exactly, decimals to two units in the last digit,
    or every number to `rtol` of the recorded one where the page declares a tolerance."""
    try:
        for line, got, a, b in number_pairs(actual, expected):
            decimal = any(mark in a + b for mark in ".eE")
            tolerance = 2 * max(last_digit(a), last_digit(b)) if decimal else 0
            if not abs(float(a) - float(b)) <= max(tolerance, rtol * abs(float(b))):
                return f"line {line}: {a} differs from the recorded {b}:\n  ran: {got}"
    except ValueError as exc:
        return str(exc)
    return None


def largest_relative_difference(actual: str, expected: str) -> float:
    """max |a - b| / max(|a|, |b|) over the numbers of two outputs (ValueError as above)."""
    largest = 0.0
    for _, _, a, b in number_pairs(actual, expected):
        x, y = float(a), float(b)
        if max(abs(x), abs(y)):
            largest = max(largest, abs(x - y) / max(abs(x), abs(y)))
    return largest


def spread(names: list[str], settings: tuple[Setting, ...] = SETTINGS) -> dict[str, dict]:
    """Per snippet and setting: the largest relative difference, or the structural mismatch."""
    table: dict[str, dict] = {name: {} for name in names}
    cores = os.cpu_count() or 1
    for setting in settings:
        # As many runs at once as leave each its threads: oversubscribed cores spin in OpenMP.
        threads = setting.threads or cores
        with ThreadPoolExecutor(max_workers=max(1, cores // threads)) as pool:
            runs = pool.map(measure, names, [setting] * len(names))
            for name, result in zip(names, runs, strict=True):
                table[name][setting.name] = result
    return table


def measure(name: str, setting: Setting) -> float | str:
    """The largest relative difference of a standalone run from the recorded output, or what
    broke."""
    started = time.perf_counter()
    done = run_standalone(name, setting)
    seconds = time.perf_counter() - started
    print(f"  {name} under {setting.name}: {seconds:.1f} s", file=sys.stderr, flush=True)
    if done.returncode:
        return f"exit {done.returncode}: {done.stderr[-300:]}"
    try:
        return largest_relative_difference(done.stdout, recorded_stdout(f"snippets/{name}"))
    except ValueError as exc:
        return str(exc)


def main(argv: list[str]) -> int:
    names = [n if n.endswith(".py") else f"{n}.py" for n in argv] or snippet_names()
    table = spread(names)
    header = [s.name for s in SETTINGS]
    print(f"{'snippet':<36}" + "".join(f"{h:>22}" for h in header))
    for name, row in table.items():
        cells = []
        for setting in header:
            value = row[setting]
            cells.append(f"{value:>22.2e}" if isinstance(value, float) else f"{'MISMATCH':>22}")
        print(f"{name:<36}" + "".join(cells))
        for setting in header:
            if not isinstance(row[setting], float):
                print(f"    {setting}: {row[setting]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
