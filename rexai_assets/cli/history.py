"""`rexai history [--json]`: per champion version, when it served and how it did on what arrived meanwhile.

Reads the warehouse only (the prediction ledger, the audit log and the proposals); no Dagster."""

from __future__ import annotations

import argparse

from rexai_assets.cli import CommandError


def cmd_history(args: argparse.Namespace) -> int:
    from rexai_assets.evaluation.history import history_text, load_history, to_json
    from rexai_assets.paths import layout
    from rexai_assets.settings import ConfigError
    from rexai_assets.warehouse import WarehouseClient

    data = layout()
    if not data.warehouse.exists():
        document = {"versions": [], "retrains": []}
    else:
        try:
            with WarehouseClient(data.warehouse).connect(read_only=True) as con:
                document, _ = load_history(con)
        except ConfigError as exc:
            raise CommandError(str(exc).splitlines()[0]) from None
        except Exception as exc:  # noqa: BLE001 - a broken or locked warehouse: one line, not a traceback
            raise CommandError(f"{data.warehouse}: {str(exc).splitlines()[0]}") from None
    print(to_json(document) if args.json else history_text(document))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    history = subparsers.add_parser("history", help="per champion version: when it served, its error and coverage")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(handler=cmd_history)
