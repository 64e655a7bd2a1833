"""`rexai status`: the state of production on one screen (the full metrics behind `--verbose` / `--json`)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from rexai_assets.cli.promotion import active_pii_path

LINEAGE_TAGS = ("dataset_hash", "config_hash", "feature_order_hash", "model_hash")
MAX_PENDING_LINES = 5
SLICES = ("measured", "simulated")  # the champion's golden slices, the measured one first


def measured_errors(metrics: Mapping[str, float], targets: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per target, the champion's MAE, 95 % coverage and n on its trusted measured golden rows (its evaluation
    at training time); the simulated golden rows, so labelled, for a target with no measured row."""
    out = {}
    for target in targets:
        for slice_name in SLICES:
            n = metrics.get(f"ensemble.golden_{slice_name}.{target}.n")
            if n:
                out[target] = {"slice": slice_name, "n": int(n),
                               **{k: metrics.get(f"ensemble.golden_{slice_name}.{target}.{k}") for k in ("mae", "coverage")}}
                break
    return out


def stored_metadata(version: str) -> dict[str, Any]:
    """`models/<version>/metadata.json` under the data root (what training wrote), or {} when absent."""
    from rexai_assets.paths import layout

    path = layout().models / str(version) / "metadata.json"
    return json.loads(path.read_text()) if path.exists() else {}


def champion_details(desk: Any) -> dict[str, Any] | None:
    from rexai_assets.gold.contract import TARGETS

    version = desk.registry.champion()
    if version is None:
        return None
    client = desk.registry.client
    model_version = client.get_model_version(desk.registry.cfg.registered_model, version)
    details: dict[str, Any] = {"version": version, "created": model_version.creation_timestamp,
                               "trained_at": utc_text(model_version.creation_timestamp / 1000),
                               "tags": dict(model_version.tags)}
    if model_version.run_id:
        run = client.get_run(model_version.run_id)
        details["metrics"] = {k: round(v, 5) for k, v in sorted(run.data.metrics.items())}
        details["lineage"] = {k: run.data.tags.get(k) or model_version.tags.get(k) for k in LINEAGE_TAGS}
        details["trained_on"] = run.data.tags.get("trained_on") or model_version.tags.get("trained_on")
    details["calibrated_on"] = json.loads(model_version.tags.get("calibrated_on") or "null")
    details["rows"] = stored_metadata(version).get("rows")
    details["measured"] = measured_errors(details.get("metrics") or {}, TARGETS)
    return details


def utc_text(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def last_retrain() -> dict[str, Any] | None:
    import dagster as dg

    from rexai_assets.ops.pipeline import ensure_dagster_home

    ensure_dagster_home()
    instance = dg.DagsterInstance.get()
    records = instance.get_run_records(dg.RunsFilter(tags={"rexai/retrain": "true"}), limit=1)
    if not records:
        return None
    run = records[0].dagster_run
    return {"run_id": run.run_id, "status": run.status.value, "started": str(records[0].create_timestamp),
            "trigger": run.tags.get("rexai/trigger", "unknown"), "reason": run.tags.get("rexai/reason"),
            "counts": {k.split("/", 1)[1]: v for k, v in run.tags.items() if k.startswith("rexai/count_")}}


def plan_line(plan: Mapping[str, Any] | None) -> str | None:
    """`rexai status`'s line on the open experiment plan (cli/planning.py `open_plan_status`), or None."""
    if not plan:
        return None
    return (f"{plan['plan_id']} (model v{plan['model_version']}): {plan['measured']} of {plan['planned']} "
            f"experiments measured (rexai plan-experiments --json)")


def champion_lines(champion: Mapping[str, Any] | None, verbose: bool) -> list[str]:
    from rexai_assets.models.scorer import calibration_note

    if champion is None:
        return ["champion: none (predictions come from the heuristic, degraded mode)"]
    rows = champion.get("rows") or {}
    trained_rows = f", {rows['train']} training rows" if "train" in rows else ""
    lines = [f"champion: v{champion['version']} trained {champion.get('trained_at', '?')} on "
             f"{champion.get('trained_on') or '?'}{trained_rows}",
             f"  {calibration_note(champion.get('calibrated_on'))}"]
    measured = champion.get("measured") or {}
    if measured:
        lines.append(f"  {'target':<11} {'MAE':>9} {'coverage':>9} {'n':>5}  golden slice")
        lines += [f"  {t:<11} {m['mae']:>9.4g} {m['coverage']:>9.3f} {m['n']:>5}  {m['slice']}"
                  for t, m in measured.items()]
    if verbose:
        lines += [f"  {k}: {v}" for k, v in (champion.get("lineage") or {}).items()]
        lines += [f"  {k}: {v}" for k, v in (champion.get("metrics") or {}).items()]
    return lines


def retrain_line(retrain: Mapping[str, Any] | None) -> str:
    if retrain is None:
        return "last retrain: none"
    why = retrain.get("reason") or ", ".join(f"{k}={v}" for k, v in retrain["counts"].items()) or "-"
    return (f"last retrain: {retrain['started'][:16]} {retrain['status']} (run {retrain['run_id'][:8]}), "
            f"trigger {retrain['trigger']}: {why}")


def status_lines(status: Mapping[str, Any], pending: Sequence[Any], verbose: bool) -> list[str]:
    """The screen: champion, its error per target on measured data, pending proposals, last retrain, PII, plan."""
    lines = champion_lines(status["champion"], verbose)
    lines.append(f"pending proposals: {len(pending)}")
    shown = pending if verbose else pending[:MAX_PENDING_LINES]
    lines += [f"  {p.summary()}" for p in shown]
    if len(shown) < len(pending):
        lines.append(f"  … {len(pending) - len(shown)} more (rexai proposals --pending)")
    lines += [retrain_line(status["last_retrain"]), f"pii path: {status['pii_path']}"]
    plan = plan_line(status.get("open_plan"))
    return lines + ([f"open plan: {plan}"] if plan else [])


def cmd_status(args: argparse.Namespace) -> int:
    from rexai_assets.cli.planning import open_plan_status
    from rexai_assets.evaluation.promotion import PENDING, desk_from_resources, fetch_proposals

    promotion_desk = desk_from_resources()
    with promotion_desk.connect() as con:
        pending = [p for p in fetch_proposals(con, limit=200) if p.status == PENDING]
    status = {"champion": champion_details(promotion_desk), "pending_proposals": [p.proposal_id for p in pending],
              "last_retrain": last_retrain(), "pii_path": active_pii_path(), "open_plan": open_plan_status()}
    if args.json:
        print(json.dumps(status, indent=2, default=str))
        return 0
    print("\n".join(status_lines(status, pending, args.verbose)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    status = subparsers.add_parser("status", help="production model, pending proposals, last retrain and why, PII path")
    status.add_argument("--json", action="store_true", help="everything, machine-readable (full metrics included)")
    status.add_argument("--verbose", action="store_true", help="also the lineage hashes and every metric")
    status.set_defaults(handler=cmd_status)
