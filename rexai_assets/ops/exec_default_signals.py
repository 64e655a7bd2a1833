"""`python -m rexai_assets.ops.exec_default_signals CMD [ARGS...]`: exec CMD with default signal handlers.

A process started from a shell job, `make` or a test runner can inherit SIGINT/SIGTERM as *ignored*,
and an ignored disposition survives exec: `dagster dev` would then never stop on SIGINT/SIGTERM and
leave its webserver, daemon and code server behind. Resetting them before exec makes stopping by
process id reliable.
"""

from __future__ import annotations

import os
import signal
import sys


def main(argv: list[str]) -> None:
    if not argv:
        print("usage: python -m rexai_assets.ops.exec_default_signals CMD [ARGS...]", file=sys.stderr)
        raise SystemExit(2)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    # Unblock everything too: a blocked mask is also inherited across exec.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"exec_default_signals: cannot run {argv[0]!r}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(127) from None


if __name__ == "__main__":
    main(sys.argv[1:])
