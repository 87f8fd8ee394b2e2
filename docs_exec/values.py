"""Values bound into prose: a number a snippet printed, placed in running text by its label.

    Post-LN ends at {{ value("snippets/fixes/transformer_ln_training.py", "Post-LN", 5) }} nats.
    ReLU's net keeps {{ value("snippets/fixes/norm_depth_grads.py", "ReLU", "LayerNorm") }}.

The first names the 5th number printed after the label "Post-LN" on the one output line where
that label stands as a word of its own (so not in "Post-LN, 100 warmup steps" or "(Post-LN
stack)"); a run of spaces in a label matches any run of spaces. More labels narrow it down in
order: the second names the first number after "LayerNorm" on the first line at or after the one
line labelled "ReLU" (a section heading, then a row). The page gets the number as the snippet
printed it, so a reader finds it in the output, and a rebuild that changes the output changes
the prose with it. `sig=2` rounds it to fewer significant digits, for prose that should not claim
digits that vary from machine to machine; `plain=True` writes 1.9e-01 as 0.19; `tex=True` writes
7.8e-10 as 7.8 \\times 10^{-10} (and 1.9e-01 as 0.19), for a value inside $...$ math.
"""

from __future__ import annotations

import math
import re

from .directives import Directive

NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w])")


class UnresolvedValue(ValueError):
    """A value directive that names no printed number; the message starts with page:line."""


def label_pattern(label: str) -> re.Pattern[str]:
    # The label as a word of its own: at the start of the line or after a space, and followed
    # by a space, a colon, an equals sign or the end of the line.
    words = r"\s+".join(re.escape(word) for word in label.split())
    return re.compile(rf"(?:^|(?<=\s)){words}(?=\s|:|=|$)")


def resolve(value: Directive, stdout: str) -> str:
    """The number `value` names in `stdout`, formatted as its options ask."""
    lines = stdout.splitlines()
    labels = ", ".join(repr(label) for label in value.labels)
    head = f"{value.where}: value({value.snippet!r}, {labels}, {value.index})"
    first = label_pattern(value.labels[0])
    found = [i for i, line in enumerate(lines) if first.search(line)]
    if not found:
        raise UnresolvedValue(f"{head}: no line that {value.snippet} printed has this label")
    if len(found) > 1:
        numbers = ", ".join(str(i + 1) for i in found)
        raise UnresolvedValue(
            f"{head}: {value.labels[0]!r} is on output lines {numbers}; name one line "
            "(a longer label, or a second label for the row under it)"
        )
    index, match = found[0], first.search(lines[found[0]])
    for label in value.labels[1:]:
        pattern = label_pattern(label)
        index = next((i for i in range(index, len(lines)) if pattern.search(lines[i])), -1)
        if index < 0:
            raise UnresolvedValue(f"{head}: no output line after the previous label has {label!r}")
        match = pattern.search(lines[index])
    line = lines[index]
    numbers = NUMBER.findall(line[match.end() :])  # type: ignore[union-attr]
    if len(numbers) < value.index:
        raise UnresolvedValue(
            f"{head}: output line {index + 1} has {len(numbers)} number(s) after the label:\n"
            f"    {line.strip()}"
        )
    token = numbers[value.index - 1]
    if value.sig is not None:
        token = round_significant(token, value.sig)
    if value.plain:
        token = as_plain(token)
    return as_tex(token) if value.tex else token


def _fixed(x: float, digits: int) -> str:
    """`x` with `digits` significant digits in fixed notation."""
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{round(x, decimals):.{decimals}f}"


def as_plain(token: str) -> str:
    """ "1.9e-01" as "0.19": the same significant digits without an exponent."""
    mantissa, e, _ = token.lower().partition("e")
    if not e or float(token) == 0:
        return token
    return _fixed(float(token), len(mantissa.lstrip("+-").replace(".", "").lstrip("0")) or 1)


def round_significant(token: str, digits: int) -> str:
    """`token` rounded to `digits` significant digits, in the notation it was printed in."""
    x = float(token)
    if "e" in token.lower():
        return f"{x:.{digits - 1}e}"
    return token if x == 0 else _fixed(x, digits)


def as_tex(token: str) -> str:
    """ "7.8e-10" as "7.8 \\times 10^{-10}", for a value inside $...$ math; a power of ten from
    -2 to 2 is written out ("1.9e-01" as 0.19), as a person would."""
    mantissa, e, exponent = token.lower().partition("e")
    if not e:
        return token
    if -2 <= int(exponent) <= 2:
        return as_plain(token)
    return f"{mantissa} \\times 10^{{{int(exponent)}}}"
