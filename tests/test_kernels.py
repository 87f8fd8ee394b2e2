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
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sitecheck import ROOT

from tools.kernels import (
    SETTINGS,
    Setting,
    declared_tolerances,
    recorded_stdout,
    run_all,
    same_output,
    snippet_names,
)

NAMES = snippet_names()
CAPABILITY_NAMES = {"default": "DEFAULT", "avx2": "AVX2", "avx512": "AVX512"}


@pytest.fixture(scope="session")
def standalone_runs(
    request: pytest.FixtureRequest, built_site: Path
) -> dict[tuple[str, str], subprocess.CompletedProcess]:
    """The standalone runs of the snippets whose tests this session selected (all of them in
    `make test`, one with `-k name`), started together so that they share the cores."""
    test = test_snippet_prints_what_the_page_shows_on_any_kernels.__name__
    selected = sorted(
        {
            item.callspec.params["name"]
            for item in request.session.items
            if getattr(item, "originalname", "") == test
        }
    )
    return run_all(selected)


@pytest.mark.slow
@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name.replace(" ", "-"))
@pytest.mark.parametrize("name", NAMES)
def test_snippet_prints_what_the_page_shows_on_any_kernels(
    name: str, setting: Setting, standalone_runs: dict
) -> None:
    done = standalone_runs[(setting.name, name)]
    assert done.returncode == 0, done.stderr
    snippet = f"snippets/{name}"
    declared = declared_tolerances().get(snippet, ())
    mismatch = same_output(done.stdout, recorded_stdout(snippet), declared)
    assert mismatch is None, f"{snippet} under {setting.name} (declared {declared}): {mismatch}"


@pytest.mark.slow
@pytest.mark.parametrize("setting", SETTINGS[1:], ids=lambda s: s.name.replace(" ", "-"))
def test_trajectory_claims_hold_on_other_kernels_and_thread_counts(setting: Setting) -> None:
    env = {**setting.env(), "TEST_TORCH_THREADS": str(setting.threads or os.cpu_count() or 1)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "trajectory and not slow",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"under {setting.name}:\n{done.stdout[-4000:]}"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name.replace(" ", "-"))
def test_each_setting_reaches_torch(setting: Setting) -> None:
    """An ignored ATEN_CPU_CAPABILITY would make the runs above test nothing new."""
    probe = "import torch; print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())"
    done = subprocess.run(
        [sys.executable, "-c", probe], env=setting.env(), capture_output=True, text=True
    )
    capability, threads = done.stdout.split()
    if setting.capability:
        assert capability == CAPABILITY_NAMES[setting.capability]
    if setting.threads:
        assert int(threads) == setting.threads


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


def test_a_declared_line_tolerance_covers_only_the_lines_with_its_label() -> None:
    recorded = "Post-LN 2.750 max 4.12\nPre-LN 1.621\nPost-LN, warmup 1.925\n"
    moved = "Post-LN 2.687 max 26.5\nPre-LN 1.621\nPost-LN, warmup 1.925\n"
    assert same_output(moved, recorded, (("Post-LN", 0.9),)) is None
    assert same_output(moved, recorded, (("Pre-LN", 0.9),)) is not None
    warm = recorded.replace("1.925", "1.990")
    assert same_output(warm, recorded, (("Post-LN", 0.9),)) is not None  # another line
    assert same_output(warm, recorded, (("Post-LN", 0.9), ("", 0.05))) is None
