"""The ``seqflow`` command: what a user does by hand.

Each area of the package contributes its subcommands through a ``commands``
module exposing ``register(subparsers)``; this file only assembles them, so
``seqflow --help`` lists everything and importing it stays cheap (the heavy
imports happen inside each command's handler).
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: modules with a ``register(subparsers)`` function, in --help order
COMMAND_MODULES: list[str] = [
    "seqflow.local.demo",
    "seqflow.local.commands",
    "seqflow.references.commands",
    "seqflow.lake.commands",
    "seqflow.demo.commands",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqflow",
        description="seqflow: sequencer runs to a queryable variant lake (Airflow 3).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``seqflow`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a user-facing command: one clear line, not a traceback
        if getattr(args, "debug", False):
            raise
        print(f"seqflow {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
