"""Machine independence: what a page shows holds whatever CPU kernels and thread count the
reader's torch uses.

- Every snippet, run standalone as a reader would (`python snippet.py` from an empty folder),
  prints what its page shows under each setting of tools/kernels.py: the machine's own kernels
  with torch's default thread count, avx2 with one thread, the portable `default` kernels with
  two. Numbers must match to two units in their last digit, or to the relative tolerance the
  page declares on the output (`{{ output(..., rtol=..., vary={"label": ...}) }}`), which the
  reader sees under it.
- The tests marked `trajectory` (claims about training runs, which amplify rounding) run again
  under the other kernel families and thread count.

A run that passed is remembered under a key of everything it depends on (tools/kernels.py's
`run_key`, tests/reruns.py's `file_key`), so a second `make test` repeats only what changed;
the recorded outputs it is compared with are checked afresh every time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
from background import Job, Lane
from reruns import rerun_trajectory_tests, trajectory_files
from sitecheck import ROOT

from tools.kernels import (
    SETTINGS,
    Setting,
    declared_tolerances,
    reached,
    recorded_stdout,
    run_setting,
    same_output,
    snippet_names,
)

NAMES = snippet_names()
CAPABILITY_NAMES = {"default": "DEFAULT", "avx2": "AVX2", "avx512": "AVX512"}


MATRIX = "test_snippet_prints_what_the_page_shows_on_any_kernels"
RERUN = "test_trajectory_claims_hold_on_other_kernels_and_thread_counts"


def background_jobs(items: list[pytest.Item], scratch: Path) -> dict[str, Job]:
    """The standalone runs of the snippets this session selected (all of them in `make test`),
    one job per setting, then the trajectory tests again under each other setting."""
    jobs: dict[str, Job] = {}
    matrix = [item.callspec.params for item in items if item.originalname == MATRIX]
    for setting in SETTINGS:
        names = sorted({p["name"] for p in matrix if p["setting"] == setting})
        threads = setting.threads or os.cpu_count() or 1
        if names:
            run = partial(run_setting, names, setting, cores=CORES_BESIDE_PYTEST)
            jobs[setting.name] = Job(run, 240 if threads > 1 else 185)
    for item in items:
        if item.originalname == RERUN:
            setting = item.callspec.params["setting"]
            threads = setting.threads or os.cpu_count() or 1
            # Sized to start after the kernel sets and the clean build: each rerun first brings
            # the recorded outputs up to date, which the main process has built by then.
            run = partial(rerun_trajectory_tests, setting, threads)
            jobs[f"trajectory {setting.name}"] = Job(run, 150 if threads > 1 else 120)
    return jobs


# The main pytest process keeps one core busy; the three settings run side by side in the
# background lane and share the others.
CORES_BESIDE_PYTEST = max(1, ((os.cpu_count() or 1) - 1) // len(SETTINGS))


@pytest.mark.slow
@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name.replace(" ", "-"))
@pytest.mark.parametrize("name", NAMES)
def test_snippet_prints_what_the_page_shows_on_any_kernels(
    name: str, setting: Setting, background: Lane, built_site: Path
) -> None:
    done = background.result(setting.name)[name]
    assert done.returncode == 0, done.stderr
    snippet = f"snippets/{name}"
    declared = declared_tolerances().get(snippet, ())
    mismatch = same_output(done.stdout, recorded_stdout(snippet), declared)
    assert mismatch is None, f"{snippet} under {setting.name} (declared {declared}): {mismatch}"


@pytest.mark.slow
@pytest.mark.parametrize("setting", SETTINGS[1:], ids=lambda s: s.name.replace(" ", "-"))
def test_trajectory_claims_hold_on_other_kernels_and_thread_counts(
    setting: Setting, background: Lane
) -> None:
    done = background.result(f"trajectory {setting.name}")
    assert done.returncode == 0, f"under {setting.name}:\n{done.output[-4000:]}"
    assert sorted(done.ran + done.reused) == [str(p.relative_to(ROOT)) for p in trajectory_files()]
    if done.ran:
        assert " passed" in done.output.splitlines()[-1], done.output[-2000:]


# The second prints different digits with two threads than with one (README's kernel table).
@pytest.mark.parametrize("name", ["foundations/chain_rule.py", "problems/activation_depth_flow.py"])
def test_a_forked_run_prints_what_python_snippet_py_prints(name: str) -> None:
    """The kernel matrix forks its runs from a preloaded interpreter (tools/preloaded.py) with
    idle OpenMP threads asleep; a reader runs `python snippet.py` with the defaults. Both must
    print the same bytes, here with two threads."""
    setting = SETTINGS[2]
    forked = run_setting([name], setting, cached=False)[name]
    reader = {k: v for k, v in setting.env().items() if k != "OMP_WAIT_POLICY"}
    with tempfile.TemporaryDirectory() as empty:
        plain = subprocess.run(
            [sys.executable, str(ROOT / "snippets" / name)],
            cwd=empty,
            env=reader,
            capture_output=True,
            text=True,
        )
    assert plain.returncode == forked.returncode == 0, forked.stderr + plain.stderr
    assert forked.stdout == plain.stdout != ""


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name.replace(" ", "-"))
def test_each_setting_reaches_torch(setting: Setting) -> None:
    """An ignored ATEN_CPU_CAPABILITY would make the runs above test nothing new."""
    capability, threads = reached(setting)
    if setting.capability:
        assert capability == CAPABILITY_NAMES[setting.capability]
    if setting.threads:
        assert threads == setting.threads


def test_a_stored_run_is_reused_only_while_its_inputs_stay(tmp_path: Path, monkeypatch) -> None:
    """The matrix keeps each successful run under a key; a rerun with nothing changed forks
    nothing, and a changed snippet, setting or runner is a miss."""
    import tools.kernels as kernels

    build = replace(kernels.SETTINGS_OF_THE_BUILD, cache_dir=str(tmp_path / "cache"))
    monkeypatch.setattr(kernels, "SETTINGS_OF_THE_BUILD", build)
    forks: list[list[Path]] = []

    def fake_runner(scripts: list[Path], env: dict, jobs: int = 1) -> dict:
        forks.append(scripts)
        return {s: subprocess.CompletedProcess([s], 0, f"ran {s.name}\n", "") for s in scripts}

    monkeypatch.setattr(kernels, "run_scripts", fake_runner)
    name, setting = "foundations/chain_rule.py", SETTINGS[1]
    first = kernels.run_setting([name], setting)[name]
    again = kernels.run_setting([name], setting)[name]
    assert len(forks) == 1 and again.stdout == first.stdout == "ran chain_rule.py\n"
    kernels.run_setting([name], SETTINGS[2])  # another setting: its own entry
    kernels.run_setting([name], setting, cached=False)  # the forked-run check bypasses it
    assert len(forks) == 3
    changed = kernels.run_key(name, setting)
    monkeypatch.setattr(kernels, "PRELOADED", ROOT / "tools" / "kernels.py")
    assert kernels.run_key(name, setting) != changed  # the runner is part of the key
    stored = list((tmp_path / "cache" / "kernels").rglob("*.json"))
    assert len(stored) == 2 and all(json.loads(p.read_text())["key"] for p in stored)


def test_a_failed_run_is_not_stored(tmp_path: Path, monkeypatch) -> None:
    import tools.kernels as kernels

    build = replace(kernels.SETTINGS_OF_THE_BUILD, cache_dir=str(tmp_path / "cache"))
    monkeypatch.setattr(kernels, "SETTINGS_OF_THE_BUILD", build)

    def failing_runner(scripts: list[Path], env: dict, jobs: int = 1) -> dict:
        return dict.fromkeys(scripts, subprocess.CompletedProcess([], 1, "", "Traceback ..."))

    monkeypatch.setattr(kernels, "run_scripts", failing_runner)
    kernels.run_setting(["foundations/chain_rule.py"], SETTINGS[1])
    assert not (tmp_path / "cache").exists()


def test_output_comparison_tolerates_only_the_last_digits_or_the_declared_tolerance() -> None:
    assert same_output("loss 1.2346\n", "loss 1.2345\n") is None
    assert same_output("loss 1.2348\n", "loss 1.2345\n") is not None
    assert same_output("loss 1.2348\n", "loss 1.2345\n", (("", 0.001),)) is None
    assert same_output("loss 1.2545\n", "loss 1.2345\n", (("", 0.01),)) is not None
    assert same_output("dead units: 13\n", "dead units: 12\n") is not None
    assert same_output("dead units: 13\n", "dead units: 12\n", (("", 0.1),)) is None
    assert same_output("norm 3.1e-05\n", "norm 3.2e-05\n") is None
    assert same_output("norm 3.1e-05\n", "norm 3.9e-05\n") is not None
    assert same_output("dead units: 12\n", "dead units: 12\nextra\n") is not None
    assert same_output("x = nan\n", "x = 1.0\n", (("", 1.0),)) is not None
    # a column padded to its widest number shifts when a number gains a digit
    assert same_output("lr  10.01 end\n", "lr   9.99 end\n", (("", 0.01),)) is None
    assert same_output("lr  10.01 end\n", "lr   9.99 stop\n", (("", 0.01),)) is not None


def test_a_declared_line_tolerance_covers_only_the_lines_with_its_label() -> None:
    recorded = "Post-LN 2.750 max 4.12\nPre-LN 1.621\nPost-LN, warmup 1.925\n"
    moved = "Post-LN 2.687 max 26.5\nPre-LN 1.621\nPost-LN, warmup 1.925\n"
    assert same_output(moved, recorded, (("Post-LN", 0.9),)) is None
    assert same_output(moved, recorded, (("Pre-LN", 0.9),)) is not None
    warm = recorded.replace("1.925", "1.990")
    assert same_output(warm, recorded, (("Post-LN", 0.9),)) is not None  # another line
    assert same_output(warm, recorded, (("Post-LN", 0.9), ("", 0.05))) is None
