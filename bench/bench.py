"""Build timings for `make bench`: plain vs cached vs cold vs one edited snippet, with targets.

Everything runs in a temporary copy of the project, so the working tree and its cache stay as they
are. Times are wall-clock medians of whole `mkdocs build` processes, as a reader would see them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from page_weight import measure

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
COPIED = ["docs", "snippets", "exercises", "mkdocs.yml", "requirements.lock"]
SUMMARY = re.compile(r"docs-exec: (\d+) executed, (\d+) cached")


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout + done.stderr


def build(project: Path, config: str = "mkdocs.yml") -> tuple[float, str]:
    mkdocs = str(Path(sys.executable).parent / "mkdocs")
    return timed([mkdocs, "build", "-f", config, "-d", str(project / "site")], project)


def median_of(runs: int, action: Callable[[], float]) -> float:
    return statistics.median(action() for _ in range(runs))


def plain_config(project: Path) -> None:
    """The same pages, theme and notebook renderer with docs-exec left out: a copy of the docs
    holding the notebooks docs-exec executed, rendered by mkdocs-jupyter as any site would."""
    from mkdocs.config import load_config

    shutil.copytree(project / "docs", project / "docs-plain")
    notebooks = project / ".cache/docs-exec/notebooks/exercises"
    shutil.copytree(notebooks, project / "docs-plain" / "exercises")
    jupyter = dict(load_config(str(project / "mkdocs.yml")).plugins["mkdocs-jupyter"].config)
    options = json.dumps({"mkdocs-jupyter": jupyter})
    (project / "plain.yml").write_text(
        f"INHERIT: mkdocs.yml\ndocs_dir: docs-plain\nplugins:\n  - search\n  - {options}\n"
    )


def counts(log: str) -> tuple[int, int]:
    match = SUMMARY.search(log)
    if not match:
        sys.exit(f"no docs-exec summary in the build log:\n{log}")
    return int(match[1]), int(match[2])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        project = Path(scratch)
        for name in COPIED:
            source = ROOT / name
            copy = shutil.copytree if source.is_dir() else shutil.copy2
            copy(source, project / name)
        cold, log = build(project)
        executed, _ = counts(log)
        entries = (project / ".cache/docs-exec").rglob("*.json")
        results = [json.loads(path.read_text()) for path in entries]
        snippet_seconds = sum(result["seconds"] for result in results)

        plain_config(project)
        plain = median_of(RUNS, lambda: build(project, "plain.yml")[0])

        python = str(Path(sys.executable))
        bare = median_of(3, lambda: timed([python, "-c", "pass"], project)[0])
        imports = median_of(
            3, lambda: timed([python, "-c", "import torch, matplotlib.pyplot"], project)[0]
        )
        torch_import = imports - bare

        cached = median_of(RUNS, lambda: build(project)[0])
        cached_counts = counts(build(project)[1])

        weights = measure(project / "site")

        edited = sorted((project / "snippets").glob("*.py"))[0]
        edited.write_text(edited.read_text() + "\n# an edit for make bench\n")
        one_edit, log = build(project)
        rerun = counts(log)

    cold_target = 1.3 * (torch_import + snippet_seconds) + plain
    rows = [
        ("plain Material build (plugin off)", f"{plain:.2f} s", ""),
        ("fully cached rebuild", f"{cached:.2f} s", f"<= 1.3 x plain = {1.3 * plain:.2f} s"),
        ("  ratio cached / plain", f"{cached / plain:.2f}", "<= 1.30"),
        ("  snippets executed in a cached rebuild", str(cached_counts[0]), "0"),
        ("cold build (empty cache)", f"{cold:.2f} s", f"<= {cold_target:.2f} s"),
        ("  snippets executed", str(executed), ""),
        ("  one torch + matplotlib import", f"{torch_import:.2f} s", ""),
        ("  sum of the snippets' own run times", f"{snippet_seconds:.2f} s", ""),
        (f"rebuild after editing {edited.name}", f"{one_edit:.2f} s", ""),
        ("  snippets executed / cached", f"{rerun[0]} / {rerun[1]}", "1 / rest"),
    ]
    print(f"docs build benchmark ({RUNS} runs for medians, {len(results)} snippets)")
    for label, value, target in rows:
        print(f"  {label:<42} {value:>10}   {target}")
    verdicts = {
        "cached <= 1.3 x plain": cached <= 1.3 * plain,
        "cold within target": cold <= cold_target,
        "one edit re-runs one snippet": rerun[0] == 1,
    }
    for name, ok in verdicts.items():
        print(f"  {'meets' if ok else 'MISSES'}: {name}")
    print("\n".join(weights))


if __name__ == "__main__":
    main()
