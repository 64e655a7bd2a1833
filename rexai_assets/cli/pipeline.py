"""`rexai run`: the whole graph on embedded defaults."""

from __future__ import annotations

import argparse

from rexai_assets.cli import CommandError


def cmd_run(args: argparse.Namespace) -> int:
    from rexai_assets.ops.pipeline import ensure_dagster_home, run_platform

    ensure_dagster_home()
    outcome = run_platform()
    for step in outcome.steps:
        print(step.line())
    for line in outcome.habitats:   # an adapter REJECTED by its habitat gate is a decision, not a failure
        print(line)
    for key, value in outcome.summary.items():
        print(f"{key}: {value}")
    if not outcome.success:
        failed = next(s for s in outcome.steps if not s.success or s.failed_checks)
        raise CommandError(f"{failed.job} did not complete: {failed.error or ', '.join(failed.failed_checks)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="register the inbox and materialise the whole graph on embedded defaults")
    run.set_defaults(handler=cmd_run)
