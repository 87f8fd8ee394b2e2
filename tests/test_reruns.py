"""The trajectory reruns remember a file that passed, under a key of what it reads."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import reruns
from sitecheck import ROOT

from tools.kernels import SETTINGS

TRANSFORMER = ROOT / "tests" / "fixes" / "test_transformer_ln_training.py"


def test_a_files_inputs_are_its_part_its_imports_and_the_shared_modules() -> None:
    inputs = {str(p.relative_to(ROOT)) for p in reruns._inputs(TRANSFORMER)}
    assert {
        "tests/fixes/test_transformer_ln_training.py",
        "tests/conftest.py",
        "snippets/fixes/transformer_ln_grads.py",
        "docs/fixes/pre-post-ln.md",
        "docs_exec/store.py",
        "requirements.lock",
    } <= inputs
    assert not any(name.startswith(("docs/practice/", "snippets/practice/")) for name in inputs)
    assert TRANSFORMER in reruns.trajectory_files()
    assert ROOT / "tests" / "foundations" / "test_chain_rule.py" not in reruns.trajectory_files()


class FakePytest:
    """Stands in for subprocess.run: records each command, passes unless told to fail."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.fail = False

    def __call__(self, command: list[str], **kwargs) -> subprocess.CompletedProcess:
        self.calls.append(command)
        failed = self.fail and "pytest" in command
        return subprocess.CompletedProcess(command, int(failed), "3 passed in 1.00s\n", "")


@pytest.fixture
def fake_pytest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePytest:
    build = replace(reruns.SETTINGS_OF_THE_BUILD, cache_dir=str(tmp_path))
    monkeypatch.setattr(reruns, "SETTINGS_OF_THE_BUILD", build)
    monkeypatch.setattr(reruns, "trajectory_files", lambda: [TRANSFORMER])
    monkeypatch.setattr(reruns, "reached", lambda setting: (setting.name, 1))  # no probe run
    fake = FakePytest()
    monkeypatch.setattr(reruns.subprocess, "run", fake)
    return fake


def test_a_pass_is_remembered_and_a_second_run_repeats_nothing(fake_pytest: FakePytest) -> None:
    setting = SETTINGS[2]
    first = reruns.rerun_trajectory_tests(setting, 2)
    assert first.ran == ["tests/fixes/test_transformer_ln_training.py"] and not first.reused
    ran = [call for call in fake_pytest.calls if "pytest" in call]
    assert len(ran) == 1 and ran[0][-1] == first.ran[0]
    again = reruns.rerun_trajectory_tests(setting, 2)
    assert again.reused == first.ran and not again.ran
    assert len(fake_pytest.calls) == 2  # docs_exec run and pytest, once each
    other = reruns.rerun_trajectory_tests(SETTINGS[1], 1)  # another setting: its own entry
    assert other.ran == first.ran


def test_a_failure_is_not_remembered(fake_pytest: FakePytest) -> None:
    fake_pytest.fail = True
    failed = reruns.rerun_trajectory_tests(SETTINGS[2], 2)
    assert failed.returncode == 1 and failed.ran
    fake_pytest.fail = False
    assert reruns.rerun_trajectory_tests(SETTINGS[2], 2).ran == failed.ran
