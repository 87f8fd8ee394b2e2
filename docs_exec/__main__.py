"""Command line, with the settings of mkdocs.yml's `docs-exec:` block.

python -m docs_exec run     run (or reuse) every snippet and notebook the docs need
python -m docs_exec build   also write the expanded docs and their config into the staging
                            folder, which any engine builds: zensical build -f <that config>
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from . import build
from .errors import BuildError
from .settings import from_config_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m docs_exec", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    for name, summary in (
        ("run", "run every snippet and notebook the pages need, reusing the cache"),
        ("build", "run, then write the expanded docs and a config any engine can build"),
    ):
        command = commands.add_parser(name, help=summary)
        command.add_argument(
            "--config", type=Path, default=Path("mkdocs.yml"), help="default: mkdocs.yml"
        )
        command.add_argument("--workers", type=int, help="parallel children (default: cores)")
    args = parser.parse_args(argv)

    if not args.config.is_file():
        print(f"{args.config}: no such config file (pass --config)", file=sys.stderr)
        return 1
    settings = from_config_file(args.config.resolve())
    if args.workers is not None:
        settings = dataclasses.replace(settings, workers=args.workers)
    try:
        done = build.run(settings, build.read_pages(settings))
        if args.command == "build":
            config = build.write_staging(done, args.config.resolve())
            print(f"docs-exec: staging config {config.relative_to(settings.root)}")
    except BuildError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"docs-exec: {done.report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
