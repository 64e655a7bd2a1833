"""`rexai`: the command-line interface of DESIGN.md.

Each command group lives in its own module with a `register(subparsers)` function that adds its
sub-commands and sets `handler` (a function taking the parsed args and returning an exit code).
Every command exits non-zero with a one-line reason on bad input.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from typing import Sequence

# Command modules, in the order their commands appear in `rexai --help`.
COMMAND_MODULES = (
    "rexai_assets.cli.pipeline",
    "rexai_assets.cli.inbox",
    "rexai_assets.cli.serving",
    "rexai_assets.cli.promotion",
    "rexai_assets.cli.planning",
    "rexai_assets.cli.status",
    "rexai_assets.cli.history",
    "rexai_assets.cli.ops",
)


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code 1 (or `code`)."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rexai", description="Rex-AI learning platform")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def quiet_libraries() -> None:
    """A command prints its own summary; library chatter (beta notices, store migrations) goes to the logs."""
    import logging
    import os
    import warnings

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # mlflow resets its logger's level when imported
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=r".*(beta|preview|experimental).*")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch(argv)[0]


def dispatch(argv: Sequence[str] | None = None) -> tuple[int, argparse.Namespace]:
    """Parse `argv`, run the command's handler; (exit code, parsed arguments)."""
    quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0), args
    except CommandError as exc:
        print(f"rexai {args.command}: {exc}", file=sys.stderr)
        return exc.code, args
    except KeyboardInterrupt:
        return 130, args


def run() -> None:
    """The `rexai` console script: run the command, then exit with its code.

    A one-shot serving command (its parser sets `skip_final_collection`) ends here, so what is still
    alive is frozen out of the garbage collector first: interpreter shutdown would otherwise walk
    the millions of objects that scikit-learn, torch and MLflow allocate (most of a second) only to
    free memory the operating system reclaims anyway. `atexit` handlers still run and open files are
    still flushed. Other commands keep the normal shutdown: extension modules built with nanobind
    (DuckDB) report every object of theirs left uncollected at exit as a leak."""
    code, args = dispatch()
    if getattr(args, "skip_final_collection", False):
        gc.freeze()
    sys.exit(code)
