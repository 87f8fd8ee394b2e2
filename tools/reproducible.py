"""Two clean builds must give byte-identical sites, whatever the machine's thread count.

Build A runs snippets one at a time with OMP_NUM_THREADS=1, from an empty cache in its own copy
of the project; build B is either a second such build, two snippets at a time with
OMP_NUM_THREADS=2, or a site given on the command line (the test suite passes its own build, so
that the check costs one cold build, not two). Every file must match
byte for byte; the sitemap is compared without its <lastmod> dates (MkDocs writes today's date).
Usage: python tools/reproducible.py [SITE]  (exit 1 and the differing files when they differ)

The test suite remembers the files' digests of a clean build that matched its own build, under a
key of everything a clean build reads (`clean_build_key`); while that key holds, a second
`make test` compares its build with those digests instead of building again.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from docs_exec.keys import digest_of, file_digest

ROOT = Path(__file__).resolve().parent.parent
# What a clean build sees of the project; the installed docs_exec package is the rest.
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


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def clean_build_key(workers: int, threads: int) -> str:
    """Everything a clean build's bytes depend on: the files it copies (the lock among them), the
    docs_exec package, Python, the kernels and thread count torch reaches, the worker count."""
    from tools.kernels import Setting, reached

    sources = [ROOT / item for item in COPIED] + [ROOT / "docs_exec"]
    files = [p for source in sources for p in (_files(source) if source.is_dir() else [source])]
    material = {
        "files": {str(p.relative_to(ROOT)): file_digest(p) for p in files},
        "builder": file_digest(Path(__file__)),
        "python": platform.python_version(),
        "reached": reached(Setting(None, threads)),
        "workers": workers,
    }
    return digest_of(material)


def comparable(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name == "sitemap.xml.gz":
        data = gzip.decompress(data)
    if path.name.startswith("sitemap.xml"):
        data = re.sub(rb"<lastmod>[^<]*</lastmod>", b"", data)
    return data


def digests(site: Path) -> dict[str, str]:
    """Each file of a built site by its path, as the SHA-256 of what is compared."""
    return {
        p.relative_to(site).as_posix(): hashlib.sha256(comparable(p)).hexdigest()
        for p in site.rglob("*")
        if p.is_file()
    }


def differences(first: dict[str, str], second: dict[str, str]) -> list[str]:
    """What differs between two sites' `digests`."""
    problems = [f"only in one build: {name}" for name in sorted(first.keys() ^ second.keys())]
    problems += [
        f"differs: {name}"
        for name in sorted(first.keys() & second.keys())
        if first[name] != second[name]
    ]
    return problems


def main(argv: list[str]) -> int:
    """With a built site as argument (the test suite's own build, cold in CI), one clean build
    is compared with it; without, two clean builds are compared with each other."""
    with tempfile.TemporaryDirectory(prefix="reproducible-") as scratch:
        first = clean_build(Path(scratch), "a", workers=1, threads=1)
        second = Path(argv[0]) if argv else clean_build(Path(scratch), "b", workers=2, threads=2)
        files = sum(1 for p in first.rglob("*") if p.is_file())
        problems = differences(digests(first), digests(second))
    for problem in problems:
        print(problem)
    print(f"{files} files compared: {'identical' if not problems else f'{len(problems)} differ'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
