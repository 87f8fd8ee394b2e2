"""Command line: `python -m docs_exec run` runs (or reuses) every snippet the docs reference."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import executor
from .errors import BuildError
from .project import DEFAULTS, check, scan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docs_exec", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="run every snippet the pages reference, reusing the cache"
    )
    run.add_argument("--root", type=Path, default=Path.cwd(), help="project root (default: .)")
    run.add_argument("--docs", default=DEFAULTS["docs_dir"])
    run.add_argument("--snippets", default=DEFAULTS["snippets_dir"])
    run.add_argument("--cache", default=DEFAULTS["cache_dir"])
    run.add_argument("--lock", action="append", help="lock file(s) (default: requirements.lock)")
    run.add_argument("--timeout", type=float, default=DEFAULTS["timeout"])
    run.add_argument("--workers", type=int, default=0, help="parallel children (default: cores)")
    args = parser.parse_args(argv)

    root = args.root.resolve()
    pages = {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted((root / args.docs).rglob("*.md"))
    }
    plan = scan(pages, root)
    if plan.problems:
        print(BuildError(plan.problems), file=sys.stderr)
        return 1
    settings = executor.Settings(
        root=root,
        snippets_dir=root / args.snippets,
        cache_dir=root / args.cache,
        lock_files=[root / name for name in (args.lock or DEFAULTS["lock_files"])],
        timeout=args.timeout,
        workers=args.workers,
    )
    try:
        report = executor.run(plan.snippets, settings)
    except BuildError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"docs-exec: {report.summary()}")
    problems = check(plan, report)
    if problems:
        print(BuildError(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
