"""`rexai check` (every asset check on a throw-away run) and `rexai screenshot` (UI pages in a browser)."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from rexai_assets.cli import CommandError


def cmd_check(args: argparse.Namespace) -> int:
    from rexai_assets.ops.checks_run import run_all_checks

    scratch = Path(tempfile.mkdtemp(prefix="rexai-check-"))
    data_root = Path(args.data_root) if args.data_root else scratch / "data"
    dagster_home = Path(args.dagster_home) if args.dagster_home else scratch / "dagster_home"
    for path in (data_root, dagster_home):
        if path.exists() and any(path.iterdir()) and not args.reuse:
            shutil.rmtree(scratch, ignore_errors=True)
            raise CommandError(f"{path} is not empty (a check run needs a fresh folder; --reuse to allow)")
    try:
        report = run_all_checks(data_root, dagster_home, small=not args.full, seed_inbox=not args.no_sample_inbox)
        for line in report.lines():
            if args.verbose or not line.startswith("pass "):
                print(line)
        if not report.ok:
            raise CommandError(report.summary())
        print(report.summary())
        return 0
    finally:
        if args.keep:
            print(f"kept: data root {data_root}, DAGSTER_HOME {dagster_home}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def cmd_screenshot(args: argparse.Namespace) -> int:
    from rexai_assets.ops.devserver import DevServerError
    from rexai_assets.ops.screenshot import ScreenshotError, run_from_args

    try:
        outs = run_from_args(args)
    except (ScreenshotError, DevServerError) as exc:
        raise CommandError(str(exc).splitlines()[0]) from None
    print("\n".join(map(str, outs)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    check = subparsers.add_parser(
        "check", help="materialise the whole graph into a temporary root and fail if any asset check failed")
    check.add_argument("--data-root", help="data root for the run (default: a new temporary folder)")
    check.add_argument("--dagster-home", help="DAGSTER_HOME for the run (default: a new temporary folder)")
    check.add_argument("--full", action="store_true", help="shipped config sizes instead of the small check settings")
    check.add_argument("--no-sample-inbox", action="store_true",
                       help="do not drop sample experiment / feedback files in the inbox first")
    check.add_argument("--keep", action="store_true", help="keep the temporary folders for inspection")
    check.add_argument("--reuse", action="store_true", help="allow a non-empty --data-root / --dagster-home")
    check.add_argument("-v", "--verbose", action="store_true", help="print passing evaluations too")
    check.set_defaults(handler=cmd_check)

    from rexai_assets.ops.screenshot import add_arguments

    screenshot = subparsers.add_parser(
        "screenshot", help="serve the UI on a free local port and save named pages as PNGs (needs chromium)")
    add_arguments(screenshot)
    screenshot.set_defaults(handler=cmd_screenshot)
