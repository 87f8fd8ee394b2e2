"""The snippet executor: cache keys, re-runs, captured figures and the errors that stop a build."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from docs_exec import executor
from docs_exec.directives import DirectiveSyntaxError, parse_page
from docs_exec.errors import BuildError
from docs_exec.figures import Palette, contrast
from docs_exec.keys import CAPTURE_MODULES
from docs_exec.layout import notebook_page
from docs_exec.project import check, scan
from docs_exec.render import expand, svg_pixels
from docs_exec.settings import Settings
from docs_exec.store import SCHEMA, Cache, Result

PRINTS = '''"""Prints."""
print("value = 42")
'''


def make_project(root: Path, snippets: dict[str, str], pages: dict[str, str]) -> Settings:
    for name, source in snippets.items():
        path = root / "snippets" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    for name, text in pages.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (root / "requirements.lock").write_text("torch==2.13.0\n")
    # The same settings for the command line (python -m docs_exec --config root/mkdocs.yml).
    config = "site_name: T\nplugins:\n  - docs-exec:\n      cache_dir: .cache\n      timeout: 20\n"
    (root / "mkdocs.yml").write_text(config + "      workers: !ENV [NO_SUCH_VARIABLE, 2]\n")
    return Settings(root=root, cache_dir=".cache", timeout=20, workers=2)


def pages_of(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in (root / "docs").rglob("*.md")}


def build(settings: Settings) -> tuple[executor.Report, list[str]]:
    plan = scan(pages_of(settings.root), settings.root)
    assert not plan.problems
    report = executor.run(plan.snippets, settings, progress=lambda message: None)
    return report, check(plan, report)


def test_second_run_is_cached_and_edit_reruns_only_that_snippet(tmp_path: Path) -> None:
    settings = make_project(
        tmp_path,
        {"a.py": PRINTS, "b.py": PRINTS.replace("42", "43")},
        {"index.md": '{{ output("snippets/a.py") }}\n\n{{ output("snippets/b.py") }}\n'},
    )
    first, problems = build(settings)
    assert problems == []
    assert sorted(first.executed) == ["snippets/a.py", "snippets/b.py"]
    assert first.results["snippets/b.py"].stdout == "value = 43\n"

    second, _ = build(settings)
    assert second.executed == [] and sorted(second.cached) == ["snippets/a.py", "snippets/b.py"]

    (tmp_path / "snippets" / "a.py").write_text(PRINTS.replace("42", "44"))
    third, _ = build(settings)
    assert third.executed == ["snippets/a.py"]
    assert third.results["snippets/a.py"].stdout == "value = 44\n"


def test_key_covers_local_imports_and_lock(tmp_path: Path) -> None:
    settings = make_project(
        tmp_path,
        {"helper.py": "VALUE = 1\n", "main.py": "from helper import VALUE\nprint(VALUE)\n"},
        {"index.md": '{{ output("snippets/main.py") }}\n'},
    )
    assert build(settings)[0].results["snippets/main.py"].stdout == "1\n"
    (tmp_path / "snippets" / "helper.py").write_text("VALUE = 2\n")
    report, _ = build(settings)
    assert report.executed == ["snippets/main.py"]
    assert report.results["snippets/main.py"].stdout == "2\n"
    (tmp_path / "requirements.lock").write_text("torch==2.13.1\n")
    assert build(settings)[0].executed == ["snippets/main.py"]


def test_raising_snippet_names_page_snippet_line_and_traceback(tmp_path: Path) -> None:
    source = '''\
        """Fails."""


        def ratio(x):
            return 1 / x


        print(ratio(0))
        '''
    settings = make_project(
        tmp_path, {"boom.py": source}, {"part/page.md": '# P\n\n{{ output("snippets/boom.py") }}\n'}
    )
    report, problems = build(settings)
    assert report.executed == [] and len(problems) == 1
    message = problems[0]
    assert message.startswith("docs/part/page.md:3: snippets/boom.py failed at line 5")
    assert "ZeroDivisionError: division by zero" in message
    assert 'File "snippets/boom.py", line 8' in message


def test_snippet_over_its_time_limit_fails_with_the_line_it_was_on(tmp_path: Path) -> None:
    settings = make_project(
        tmp_path,
        {"slow.py": "import time\nprint('start')\nwhile True:\n    time.sleep(0.05)\n"},
        {"index.md": '{{ output("snippets/slow.py") }}\n'},
    )
    settings = dataclasses.replace(settings, timeout=1.0)
    report, problems = build(settings)
    assert len(report.failures) == 1
    assert "exceeded the time limit of 1 s while at line 4" in problems[0]
    assert problems[0].startswith("docs/index.md:1: snippets/slow.py failed at line 4")


def test_missing_snippet_and_missing_section_fail_with_page_and_line(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        {"real.py": "# --8<-- [start:body]\nprint(1)\n# --8<-- [end:body]\n"},
        {
            "index.md": """\
            # Page

            ```python
            --8<-- "snippets/real.py:body"
            --8<-- "snippets/real.py:nosuch"
            --8<-- "snippets/gone.py"
            ```

            {{ output("snippets/absent.py") }}
            """
        },
    )
    problems = scan(pages_of(tmp_path), tmp_path).problems
    assert problems == [
        "docs/index.md:9: output(...) names snippets/absent.py, which does not exist",
        "docs/index.md:5: includes section 'nosuch' of snippets/real.py, "
        "which has no '[start:nosuch]' marker",
        "docs/index.md:6: includes snippets/gone.py, which does not exist",
    ]


FIGURES = '''\
    """Draws two figures: one shown explicitly, one left open at the end."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="rising")
    ax.set_title("first")
    plt.show()
    fig, ax = plt.subplots()
    ax.set_title("second")
    print("drew two")
    '''


def test_figures_are_captured_at_show_and_at_the_end_in_order(tmp_path: Path) -> None:
    settings = make_project(
        tmp_path,
        {"figs.py": FIGURES},
        {
            "index.md": '{{ figure("snippets/figs.py", 1, alt="A line rising from 0 to 1") }}\n'
            '{{ figure("snippets/figs.py", 2, alt="An empty set of axes titled second") }}\n'
        },
    )
    report, problems = build(settings)
    assert problems == []
    figures = report.results["snippets/figs.py"].figures
    assert len(figures) == 2
    assert ">first<" not in figures[0].light  # text is drawn as paths, so fonts never matter
    assert "<dc:date>" not in figures[0].light
    assert figures[0].light != figures[1].light
    assert "#ffffff" in figures[0].light and "#ffffff" not in figures[0].dark
    # Black text has no fill in matplotlib's SVG: the dark copy must set a light default.
    assert '<svg fill="#e2e4ec" ' in figures[0].dark and "<svg fill" not in figures[0].light


def test_unplaced_and_out_of_range_figures_are_problems(tmp_path: Path) -> None:
    settings = make_project(
        tmp_path,
        {"figs.py": FIGURES},
        {"index.md": '{{ figure("snippets/figs.py", 3, alt="A figure that does not exist") }}\n'},
    )
    _, problems = build(settings)
    assert "docs/index.md:1: figure 3 of snippets/figs.py, which draws 2 figure(s)" in problems
    assert any("draws figure 1, which no page places" in p for p in problems)
    assert any("draws figure 2, which no page places" in p for p in problems)


def test_stderr_and_silent_output_are_problems(tmp_path: Path) -> None:
    settings = make_project(
        tmp_path,
        {
            "warns.py": "import warnings\nwarnings.warn('careful')\nprint(1)\n",
            "quiet.py": "x = 1\n",
        },
        {"index.md": '{{ output("snippets/warns.py") }}\n{{ output("snippets/quiet.py") }}\n'},
    )
    _, problems = build(settings)
    assert any(p.startswith("docs/index.md:1: snippets/warns.py wrote to stderr") for p in problems)
    assert "docs/index.md:2: output(...) of snippets/quiet.py, which prints nothing" in problems


def test_svg_output_is_byte_identical_across_clean_runs(tmp_path: Path) -> None:
    runs = []
    for name in ("one", "two"):
        settings = make_project(
            tmp_path / name,
            {"figs.py": FIGURES},
            {
                "index.md": '{{ figure("snippets/figs.py", 1, alt="A line rising from 0 to 1") }}\n'
                '{{ figure("snippets/figs.py", 2, alt="Empty axes titled second here") }}\n'
            },
        )
        runs.append(build(settings)[0].results["snippets/figs.py"].figures)
    assert runs[0] == runs[1]


def test_the_palette_comes_from_the_config_and_is_part_of_the_key(tmp_path: Path) -> None:
    """A theme with another dark page colour gets figures drawn for it, and re-runs them."""
    from docs_exec.settings import from_config_file

    settings = make_project(
        tmp_path,
        {"figs.py": FIGURES},
        {"index.md": '{{ figure("snippets/figs.py", 1, alt="A line rising from 0 to 1") }}\n'},
    )
    first, _ = build(settings)
    config = tmp_path / "mkdocs.yml"
    config.write_text(config.read_text() + '      dark_background: "#000000"\n')
    black = from_config_file(config)
    assert black.palette.background("dark") == (0, 0, 0)
    second, _ = build(black)
    assert second.executed == ["snippets/figs.py"]
    old, new = (report.results["snippets/figs.py"].figures[0] for report in (first, second))
    assert old.light == new.light and old.dark != new.dark
    assert "#000000" in new.dark and "#000000" not in old.dark
    with pytest.raises(ValueError, match="dark_foreground: '#fff' is not #rrggbb"):
        Settings(root=tmp_path, dark_foreground="#fff")


def test_both_variants_keep_data_colours_legible_and_dark_remaps_greys() -> None:
    cycle = [
        f"#{c}" for c in "1f77b4 ff7f0e 2ca02c d62728 9467bd 8c564b e377c2 bcbd22 17becf".split()
    ]
    svg = 'style="fill: #ffffff; stroke: #000000" stroke="#b0b0b0" ' + " ".join(cycle)
    palette = Palette()
    light_variant, dark_variant = palette.light_variant, palette.dark_variant
    dark = dark_variant(svg)
    assert "#ffffff" not in dark and "#000000" not in dark and "#b0b0b0" not in dark
    assert "#1e2129" in dark  # white becomes the page background of the slate scheme
    for colour in cycle:
        for variant, background in ((light_variant, (255, 255, 255)), (dark_variant, (30, 33, 41))):
            mapped = variant(colour)
            rgb = tuple(int(mapped[i : i + 2], 16) for i in (1, 3, 5))
            assert contrast(rgb, background) >= 3.0, (colour, mapped)
    assert light_variant("#ff7f0e") != "#ff7f0e"  # tab:orange is 2.9:1 on white before mixing
    assert light_variant("#123456") == "#123456"  # colours a snippet chose itself are kept


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{{ output("a.py", "b.py") }}', "usage: {{ output"),
        ('{{ figure("a.py", 1) }}', "usage: {{ figure"),
        ('{{ figure("a.py", 0, alt="four words of alt") }}', "numbered from 1"),
        ('{{ figure("a.py", 1, alt="too short") }}', "alt text must say"),
        ('{{ plot("a.py") }}', "unknown directive 'plot'"),
        ("{{ output(snippets/a.py) }}", "quote the snippet path"),
        ('{{ output("a.py" }}', "cannot parse directive"),
        ('{{ output("a.py", rtol=2) }}', "a tolerance is relative, in (0, 1]"),
        ('{{ output("a.py", vary={"Post-LN": 0}) }}', "a tolerance is relative, in (0, 1]"),
        ('{{ output("a.py", vary=0.5) }}', "usage: {{ output"),
        ('Loss {{ value("a.py") }}.', "usage: {{ value"),
        ('Loss {{ value("a.py", "loss", 0) }}.', "usage: {{ value"),
        ('Loss {{ value("a.py", "loss", digits=2) }}.', "usage: {{ value"),
        ('Loss {{ value("a.py", "loss", sig=0) }}.', "sig is a number"),
    ],
)
def test_malformed_directives_are_rejected_with_their_line(line: str, reason: str) -> None:
    with pytest.raises(DirectiveSyntaxError) as caught:
        parse_page(f"# Page\n\n{line}\n", "docs/page.md")
    assert str(caught.value).startswith("docs/page.md:3: ")
    assert reason in str(caught.value)


def test_directives_in_code_fences_are_inert_and_indentation_is_kept(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        ````markdown
        {{ output("snippets/not-run.py") }}
        ````

        === "Tab"

            {{ output("snippets/a.py") }}
        """
    )
    directives, _ = parse_page(text, "docs/index.md")
    assert [(d.snippet, d.where.line) for d in directives] == [("snippets/a.py", 7)]
    settings = make_project(tmp_path, {"a.py": PRINTS}, {"index.md": text})
    report, _ = build(settings)
    expanded = expand(text, "index.md", report.results).splitlines()
    assert expanded[1] == '{{ output("snippets/not-run.py") }}'
    assert expanded[6] == '    ```text title="Output"'
    assert expanded[7] == "    value = 42"


def test_a_fully_cached_run_does_not_import_torch(tmp_path: Path) -> None:
    settings = make_project(
        tmp_path, {"a.py": PRINTS}, {"index.md": '{{ output("snippets/a.py") }}\n'}
    )
    build(settings)
    probe = textwrap.dedent(
        f"""\
        import sys
        from docs_exec.__main__ import main
        code = main(["run", "--config", {str(tmp_path / "mkdocs.yml")!r}])
        print(code, "torch" in sys.modules, "matplotlib" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "0 False False"
    assert "0 executed, 1 cached" in done.stdout


def test_a_heatmap_is_embedded_as_an_image_not_thousands_of_paths(tmp_path: Path) -> None:
    heatmap = '''\
        """A 200 x 200 heatmap."""
        import matplotlib.pyplot as plt
        import numpy as np

        fig, ax = plt.subplots()
        ax.pcolormesh(np.arange(40_000.0).reshape(200, 200))
        ax.set_title("heat")
        print("drawn")
        '''
    settings = make_project(
        tmp_path,
        {"heat.py": heatmap},
        {"index.md": '{{ figure("snippets/heat.py", 1, alt="A smooth heatmap of a ramp") }}\n'},
    )
    report, problems = build(settings)
    svg = report.results["snippets/heat.py"].figures[0].light
    assert problems == []
    assert "<image" in svg and len(svg) < 200_000


TABLE = """\"\"\"Prints a table.\"\"\"
print("run                        loss   held-out")
print("Post-LN                    3.100  2.853")
print("Post-LN, 100 warmup steps  1.900  1.925")
print("DeepNorm (Post-LN stack)   1.600  1.633")
print("error 7.84e-10")
print("loss 0.5")
"""


def test_values_bind_printed_numbers_into_text_math_tables_and_alt_text(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        Post-LN ends at {{ value("snippets/t.py", "Post-LN", 2) }}, warmup at
        {{ value("snippets/t.py", "Post-LN, 100 warmup steps", 2, sig=2) }}.

        | error | ${{ value("snippets/t.py", "error", tex=True) }}$ |
        | rows | {{ value("snippets/t.py", "held-out", "DeepNorm", 2) }} |
        | plain | {{ value("snippets/t.py", "error", plain=True) }} |

        {{ figure("snippets/f.py", 1, alt="Ends at {{ value('snippets/t.py', 'DeepNorm', 2) }}") }}

        ```markdown
        {{ value("snippets/t.py", "missing") }}
        ```
        """
    )
    figure = '"""Draws."""\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n'
    settings = make_project(tmp_path, {"t.py": TABLE, "f.py": figure}, {"index.md": text})
    report, problems = build(settings)
    assert problems == []
    expanded = expand(text, "index.md", report.results)
    assert "Post-LN ends at 2.853, warmup at\n1.9." in expanded
    assert "| error | $7.84 \\times 10^{-10}$ |" in expanded
    assert "| rows | 1.633 |\n| plain | 0.000000000784 |" in expanded
    assert "![Ends at 1.633](figures/f-1-light.svg#only-light)" in expanded
    assert '{{ value("snippets/t.py", "missing") }}' in expanded  # inert in a code fence


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        ('"missing", 1', "no line that snippets/t.py printed has this label"),
        ('"Post-LN", 3', "output line 2 has 2 number(s) after the label"),
        ('"loss", 1', "'loss' is on output lines 1, 6; name one line"),
        ('"held-out", "Pre-LN", 1', "no output line after the previous label has 'Pre-LN'"),
    ],
)
def test_a_value_that_names_no_printed_number_fails_with_page_and_line(
    tmp_path: Path, call: str, reason: str
) -> None:
    text = f'# Page\n\nIt reaches {{{{ value("snippets/t.py", {call}) }}}}.\n'
    text += '\n{{ output("snippets/t.py") }}\n'
    settings = make_project(tmp_path, {"t.py": TABLE}, {"p.md": text})
    _, problems = build(settings)
    assert len(problems) == 1
    assert problems[0].startswith("docs/p.md:3: value(")
    assert reason in problems[0]


@pytest.mark.parametrize(
    ("token", "sig", "plain", "tex"),
    [
        ("2.853", 2, "2.853", "2.853"),
        ("1.9e-01", 1, "0.19", "0.19"),
        ("5.340e-03", 2, "0.005340", "5.340 \\times 10^{-3}"),
        ("1.2e+04", 1, "12000", "1.2 \\times 10^{4}"),
    ],
)
def test_value_formats(token: str, sig: int, plain: str, tex: str) -> None:
    from docs_exec.values import as_plain, as_tex, round_significant

    assert as_plain(token) == plain
    assert as_tex(token) == tex
    assert float(round_significant(token, sig)) == pytest.approx(float(f"{float(token):.{sig}g}"))


def test_an_output_says_how_far_its_numbers_move_on_other_kernels(tmp_path: Path) -> None:
    text = '{{ output("snippets/t.py", rtol=0.05, vary={"Post-LN": 0.1, "loss": 1}) }}\n'
    settings = make_project(tmp_path, {"t.py": TABLE}, {"index.md": text})
    report, problems = build(settings)
    assert problems == []
    note = expand(text, "index.md", report.results).split("```")[-1]
    assert "thread counts, the lines with “loss” can move by any amount; " in note
    assert "the lines with “Post-LN” can move by up to 10%; other numbers by up to 5%" in note


def _entries(settings: Settings, snippet: str) -> list[Path]:
    return sorted((settings.cache / snippet.replace("/", "__")).glob("*.json"))


def test_switching_a_snippet_back_and_forth_reruns_nothing(tmp_path: Path) -> None:
    settings = make_project(
        tmp_path, {"a.py": PRINTS}, {"index.md": '{{ output("snippets/a.py") }}\n'}
    )
    snippet = tmp_path / "snippets" / "a.py"
    assert build(settings)[0].executed == ["snippets/a.py"]
    snippet.write_text(PRINTS.replace("42", "43"))
    assert build(settings)[0].executed == ["snippets/a.py"]
    snippet.write_text(PRINTS)  # back to the first branch's source: its entry is still there
    report, _ = build(settings)
    assert report.executed == [] and report.results["snippets/a.py"].stdout == "value = 42\n"
    assert len(_entries(settings, "snippets/a.py")) == 2


def test_old_entries_beyond_the_newest_few_are_removed(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    for number in range(Cache.KEEP + 2):
        cache.save(Result("snippets/a.py", f"key{number}", "", "", "", 0.0))
        time.sleep(0.01)  # distinct modification times
    kept = sorted(p.stem for p in (tmp_path / "snippets__a.py").glob("*.json"))
    assert kept == [f"key{number}" for number in range(2, Cache.KEEP + 2)]
    assert cache.load("snippets/a.py", "key0") is None
    assert cache.load("snippets/a.py", f"key{Cache.KEEP + 1}") is not None


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: {**entry, "schema": SCHEMA - 1},
        lambda entry: {**entry, "duration": 1.0},  # a field this version does not know
        lambda entry: {k: v for k, v in entry.items() if k != "stdout"},
        lambda entry: {**entry, "figures": [{"svg": "<svg/>"}]},
    ],
    ids=["older-schema", "unknown-field", "missing-field", "old-figure-shape"],
)
def test_an_entry_in_another_shape_is_a_miss_not_a_crash(tmp_path: Path, damage) -> None:
    settings = make_project(
        tmp_path, {"a.py": PRINTS}, {"index.md": '{{ output("snippets/a.py") }}\n'}
    )
    build(settings)
    (entry,) = _entries(settings, "snippets/a.py")
    entry.write_text(json.dumps(damage(json.loads(entry.read_text()))))
    report, problems = build(settings)
    assert problems == [] and report.executed == ["snippets/a.py"]
    assert report.results["snippets/a.py"].stdout == "value = 42\n"


def test_the_key_covers_every_module_that_builds_or_shapes_a_result() -> None:
    package = Path(executor.__file__).parent
    shaping = {
        path.name
        for path in package.glob("*.py")
        if re.search(r"\b(Result|Figure)\(|class (Result|Figure)\b", path.read_text())
    }
    assert {"store.py", "executor.py"} <= shaping <= set(CAPTURE_MODULES)


def test_a_missing_lock_file_is_a_build_error_naming_it(tmp_path: Path) -> None:
    settings = make_project(
        tmp_path, {"a.py": PRINTS}, {"index.md": '{{ output("snippets/a.py") }}\n'}
    )
    (tmp_path / "requirements.lock").unlink()
    with pytest.raises(BuildError, match=r"requirements\.lock: lock file not found"):
        build(settings)
    done = subprocess.run(
        [sys.executable, "-m", "docs_exec", "run", "--config", str(tmp_path / "mkdocs.yml")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "lock file not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_page_the_build_did_not_run_fails_with_page_and_line() -> None:
    page = 'Intro.\n\nIt is {{ value("snippets/a.py", "value") }}.\n\n'
    page += '{{ output("snippets/b.py") }}\n'
    with pytest.raises(BuildError) as raised:
        expand(page, "new.md", {})
    assert raised.value.problems == [
        "new.md:3: snippets/a.py has no recorded run (the build did not scan this page, or "
        "the snippet was added since; run the build again)",
        "new.md:5: snippets/b.py has no recorded run (the build did not scan this page, or "
        "the snippet was added since; run the build again)",
    ]


def test_exercise_pages_live_in_the_notebooks_folder_the_settings_name() -> None:
    assert notebook_page("exercises/noise_scale.py") == "exercises/noise_scale.ipynb"
    assert notebook_page("labs/week1/flow.py") == "labs/week1/flow.ipynb"


def test_a_figure_states_its_svg_size_in_css_pixels() -> None:
    svg = '<svg fill="#fff" width="576pt" height="324pt" viewBox="0 0 576 324" version="1.1">'
    assert svg_pixels(svg) == (768, 432)
    with pytest.raises(ValueError, match="states no width and height"):
        svg_pixels('<svg viewBox="0 0 576 324">')
