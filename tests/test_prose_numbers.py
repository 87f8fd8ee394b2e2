"""Every decimal number in a page's prose is bound to a run, shown in an output on that page, or
allowed with its reason (see prose_numbers.py), so that no measured number is typed by hand."""

from __future__ import annotations

import pytest
from prose_numbers import (
    Stated,
    check_allowed,
    load_allowed,
    stated_numbers,
    unexplained,
)
from sitecheck import page_texts, recorded_results

PAGES = sorted(page_texts())


@pytest.fixture(scope="module")
def stdout_of(built_site) -> dict[str, str]:
    return {snippet: result.stdout for snippet, result in recorded_results().items()}


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_number_in_the_prose_is_bound_shown_or_allowed(page: str, stdout_of) -> None:
    found = unexplained(page_texts()[page], page, stdout_of, load_allowed())
    assert found == [], (
        "numbers typed by hand (bind them with {{ value(...) }}, or list a constant with its "
        "reason in tests/allowed_numbers.yml):\n" + "\n".join(map(str, found))
    )


def test_every_allowed_number_has_a_reason_and_checks_out() -> None:
    assert check_allowed(load_allowed()) == []


def test_every_allowed_number_is_used() -> None:
    used = {s.token for text in page_texts().items() for s in stated_numbers(text[1], text[0])}
    assert sorted(set(load_allowed()) - used) == []


def test_the_scanner_sees_text_tables_math_alt_text_and_admonitions() -> None:
    page = "\n".join(
        [
            "Loss 2.750 in text.",
            "| run | 1.621 |",
            "$0.25^{10} \\approx 9.54 \\times 10^{-7}$",
            '{{ figure("snippets/x.py", 1, alt="ends near 2.94 nats") }}',
            '!!! note "Held-out 1.925"',
            "    DeepNorm 1.636.",
            "Bound {{ value('snippets/x.py', 'a', 1) }} and [link](page.md#v1.2).",
            "```text",
            "3.14 in a code block",
            "```",
        ]
    )
    tokens = [s.token for s in stated_numbers(page, "docs/x.md")]
    assert tokens == ["2.750", "1.621", "0.25", "9.54e-7", "2.94", "1.925", "1.636"]


def test_a_number_passes_when_an_output_on_the_page_prints_it_to_that_precision() -> None:
    page = '{{ output("snippets/x.py") }}\nPost-LN ends at 2.85, Pre-LN at 1.62, DeepNorm 1.7.'
    stdout = {"snippets/x.py": "Post-LN 2.853\nPre-LN 1.634\n"}
    found: list[Stated] = unexplained(page, "docs/x.md", stdout, {})
    assert [s.token for s in found] == ["1.62", "1.7"]
    assert [s.token for s in unexplained(page, "docs/x.md", stdout, {"1.62": {}})] == ["1.7"]
