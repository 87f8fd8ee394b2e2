"""Two clean builds must give byte-identical sites, whatever the machine's thread count.

Build A runs snippets one at a time with OMP_NUM_THREADS=1, from an empty cache in its own copy
of the project; build B is either a second such build, two snippets at a time with
OMP_NUM_THREADS=2, or a site given on the command line (the test suite passes its own build, so
that the check costs one cold build, not two). Every file must match
byte for byte; the sitemap is compared without its <lastmod> dates (MkDocs writes today's date).
Usage: python tools/reproducible.py [SITE]  (exit 1 and the differing files when they differ)
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ["docs", "snippets", "exercises", "mkdocs.yml", "requirements.lock"]


def clean_build(scratch: Path, name: str, workers: int, threads: int) -> Path:
    project = scratch / name
    project.mkdir()
    for item in COPIED:
        source = ROOT / item
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, project / item)
    env = {
        **os.environ,
        "DOCS_EXEC_WORKERS": str(workers),  # mkdocs.yml reads it (!ENV)
        "OMP_NUM_THREADS": str(threads),
        "NO_MKDOCS_2_WARNING": "1",
    }
    mkdocs = str(Path(sys.executable).parent / "mkdocs")
    done = subprocess.run(
        [mkdocs, "build", "--strict", "-d", "site"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"clean build {name} failed:\n{done.stderr}")
    return project / "site"


def comparable(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name == "sitemap.xml.gz":
        data = gzip.decompress(data)
    if path.name.startswith("sitemap.xml"):
        data = re.sub(rb"<lastmod>[^<]*</lastmod>", b"", data)
    return data


def differences(first: Path, second: Path) -> list[str]:
    names = {p.relative_to(first) for p in first.rglob("*") if p.is_file()}
    others = {p.relative_to(second) for p in second.rglob("*") if p.is_file()}
    problems = [f"only in one build: {name}" for name in sorted(names ^ others)]
    for name in sorted(names & others):
        if comparable(first / name) != comparable(second / name):
            problems.append(f"differs: {name}")
    return problems


def main(argv: list[str]) -> int:
    """With a built site as argument (the test suite's own build, cold in CI), one clean build
    is compared with it; without, two clean builds are compared with each other."""
    with tempfile.TemporaryDirectory(prefix="reproducible-") as scratch:
        first = clean_build(Path(scratch), "a", workers=1, threads=1)
        second = Path(argv[0]) if argv else clean_build(Path(scratch), "b", workers=2, threads=2)
        files = sum(1 for p in first.rglob("*") if p.is_file())
        problems = differences(first, second)
    for problem in problems:
        print(problem)
    print(f"{files} files compared: {'identical' if not problems else f'{len(problems)} differ'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
