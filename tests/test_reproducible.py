"""A clean build gives, byte for byte, the site the suite built (with other worker and thread
counts, and from the cache where there was one)."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import pytest
from background import Job, Lane

import tools.reproducible as reproducible
from docs_exec.store import Cache, load_entry, save_entry
from tools.kernels import SETTINGS_OF_THE_BUILD
from tools.reproducible import clean_build, clean_build_key, differences, digests

# One snippet at a time, one thread: the other end of what the suite's own build uses.
CLEAN = {"workers": 1, "threads": 1}


def _stored(key: str) -> Path:
    return SETTINGS_OF_THE_BUILD.cache / "checks" / "clean-build" / f"{key}.json"


def remembered_or_built(scratch: Path) -> tuple[str, dict[str, str], bool]:
    """The clean build's file digests under its key: remembered from a build that matched the
    suite's before (False), or from a clean build made now in its own copy of the project
    (tools/reproducible.py), with an empty cache (True)."""
    key = clean_build_key(**CLEAN)
    entry = load_entry(_stored(key), key)
    if entry is not None:
        return key, entry["files"], False
    return key, digests(clean_build(scratch, "clean", **CLEAN)), True


def background_jobs(items: list[pytest.Item], scratch: Path) -> dict[str, Job]:
    if not any(item.originalname == MATCH for item in items):
        return {}
    return {"clean build": Job(partial(remembered_or_built, scratch), 200)}


MATCH = "test_a_clean_build_is_byte_identical_to_the_suites_build"


@pytest.mark.slow
def test_a_clean_build_is_byte_identical_to_the_suites_build(
    built_site: Path, background: Lane
) -> None:
    key, clean, built_now = background.result("clean build")
    assert len(clean) > 100
    assert differences(clean, digests(built_site)) == []
    if built_now:  # only a match is remembered
        save_entry(_stored(key), {"key": key, "files": clean}, Cache.KEEP)


def test_the_clean_build_key_covers_what_a_clean_build_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for item in reproducible.COPIED:
        source = reproducible.ROOT / item
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, tmp_path / item)
    shutil.copytree(reproducible.ROOT / "docs_exec", tmp_path / "docs_exec")
    monkeypatch.setattr(reproducible, "ROOT", tmp_path)
    key = clean_build_key(**CLEAN)
    assert clean_build_key(**CLEAN) == key
    assert clean_build_key(workers=2, threads=1) != key
    for changed in ("docs/index.md", "snippets/foundations/chain_rule.py", "docs_exec/render.py"):
        path = tmp_path / changed
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        assert clean_build_key(**CLEAN) != key, changed
        path.write_bytes(original)
    assert clean_build_key(**CLEAN) == key


def test_differences_name_every_file_that_differs_or_is_missing(tmp_path: Path) -> None:
    for name, day in (("a", "04"), ("b", "05")):  # built on two days: only the dates differ
        (tmp_path / name / "x").mkdir(parents=True)
        (tmp_path / name / "x" / "page.html").write_text("same")
        (tmp_path / name / "sitemap.xml").write_text(f"<lastmod>2026-12-{day}</lastmod>")
    (tmp_path / "a" / "figure.svg").write_text("<svg/>")
    (tmp_path / "b" / "x" / "page.html").write_text("other")
    found = differences(digests(tmp_path / "a"), digests(tmp_path / "b"))
    assert found == ["only in one build: figure.svg", "differs: x/page.html"]
