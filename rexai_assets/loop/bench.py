"""Latency of the closed loop under `dagster dev`: from a results file landing in the inbox to a new champion.

    python -m rexai_assets.loop.bench [--rows 200] [--timeout 900] [--keep]

Bootstraps a temporary data root with `rexai run` (champion v1, not timed), starts `dagster dev` on a
free local port with its sensors RUNNING, waits for the daemon's first ticks and for the runs it starts on
its own at start-up (observing the raw files, the automation's catch-up) to finish, drops one experiment
file of trusted lab results from a lab reality (loop/realities.py), and polls until the champion
alias moves. Prints the seconds to
each stage (lab results ingested, retrain run requested — one run with the ingestion when the file alone
makes a retrain due —, proposal recorded, new champion), then when each run was requested, started and
finished and its slowest steps.

A crew feedback file alone never makes a new champion, by design: feedback is untrusted, never enters
the golden set and cannot vouch for itself, so this benchmark lands lab results, the data that can.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


def lab_labels(features, seed: int = 0):
    """Noisy lab results from a lab reality that is not the simulator (loop/realities.py)."""
    import numpy as np

    from rexai_assets.loop.realities import make_reality

    return make_reality(seed).measure(features, np.random.default_rng(seed + 7)).reset_index(drop=True)


def wait_for_first_tick(instance, sensor_name: str, timeout_s: float) -> bool:
    """Wait until the daemon has evaluated `sensor_name` once: in service the daemon has long been running
    when a file lands, so its start-up is not part of the loop's latency."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        for state in instance.all_instigator_state():
            if state.instigator_name == sensor_name and instance.get_ticks(state.instigator_origin_id,
                                                                           state.selector_id, limit=1):
                return True
        time.sleep(0.5)
    return False


def wait_for_quiet(instance, timeout_s: float, settle_s: float = 3.0) -> float | None:
    """Wait until the runs the daemon starts on its own after start-up are done (the raw files' observation,
    the automation's catch-up of what the bootstrap materialised): no run queued or running for `settle_s`.
    In service none of them coincides with a file landing; here they would share the two cores with the
    loop. Returns the seconds waited, or None on timeout."""
    import dagster as dg

    from rexai_assets.loop.sensors import ACTIVE_STATUSES

    started = time.perf_counter()
    quiet_since = None
    while time.perf_counter() - started < timeout_s:
        if instance.get_runs_count(dg.RunsFilter(statuses=ACTIVE_STATUSES)):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.perf_counter()
        elif time.perf_counter() - quiet_since >= settle_s:
            return time.perf_counter() - started
        time.sleep(0.5)
    return None


def run_timeline(instance, job_name: str, landed: datetime) -> str:
    """When the first run of `job_name` since `landed` was requested, started and finished (s after landing),
    and its slowest steps: where the loop's seconds go."""
    import dagster as dg

    records = instance.get_run_records(dg.RunsFilter(job_name=job_name, created_after=landed), limit=1,
                                       ascending=True)
    if not records:
        return f"{job_name}: no run"
    record, zero = records[0], landed.timestamp()
    marks = [("requested", record.create_timestamp.timestamp()), ("started", record.start_time),
             ("finished", record.end_time)]
    line = ", ".join(f"{name} {at - zero:.1f}" for name, at in marks if at)
    stats = instance.get_run_step_stats(record.dagster_run.run_id)
    steps = sorted(((s.step_key, s.end_time - s.start_time) for s in stats if s.start_time and s.end_time),
                   key=lambda item: -item[1])
    slowest = ", ".join(f"{key} {seconds:.1f}" for key, seconds in steps[:8])
    return f"{job_name}: {line} s; {len(steps)} steps, slowest (s): {slowest}"


def run(rows: int, timeout_s: float, keep: bool) -> int:
    import shutil

    base = Path(tempfile.mkdtemp(prefix="rexai-loop-bench-"))
    try:
        return measure(base, rows, timeout_s)
    finally:
        if keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def prepare_root(base: Path) -> None:
    """A data root, Dagster home and config copy under `base` for this process and its `dagster dev`."""
    import shutil

    import yaml

    from rexai_assets.settings import config_dir

    os.environ["REXAI_DATA_ROOT"] = str(base / "data")
    os.environ["DAGSTER_HOME"] = str(base / "dagster_home")
    # Default settings but the cooldown: the untimed bootstrap retrain a moment ago would otherwise hold
    # the loop's first retrain back for cooldown_minutes; in service that retrain lies long in the past.
    shutil.copytree(config_dir(), base / "config")
    retraining = base / "config" / "retraining.yaml"
    retraining.write_text(yaml.safe_dump({**yaml.safe_load(retraining.read_text()), "cooldown_minutes": 0}))
    os.environ["REXAI_CONFIG_DIR"] = str(base / "config")


def lab_file(data, rows: int):
    """`rows` experiment records of fresh recipes, finished yesterday, labelled by a lab reality."""
    from rexai_assets.gold.contract import feature_names
    from rexai_assets.loop.synthetic import experiment_records, fresh_recipes, utc_today
    from rexai_assets.raw.tables import load_raw_tables

    recipes = fresh_recipes(load_raw_tables(data.raw), rows, seed=777)
    labels = lab_labels(recipes[list(feature_names())])
    return experiment_records(recipes, labels, utc_today() - timedelta(days=1), per_day=rows, prefix="bench")


def watch_loop(instance, desk, before: str | None, landed: datetime, timeout_s: float) -> dict[str, float]:
    """Seconds after landing at which each stage was first seen: ingested, retrain requested, proposal, champion."""
    import dagster as dg

    from rexai_assets.evaluation.promotion import fetch_proposals
    from rexai_assets.loop.jobs import RETRAIN_TAG

    t0, marks = time.perf_counter(), {}
    while time.perf_counter() - t0 < timeout_s:
        now = time.perf_counter() - t0
        ingested = instance.get_latest_materialization_event(dg.AssetKey("experiment_runs"))
        if "ingested" not in marks and ingested and ingested.timestamp >= landed.timestamp():
            marks["ingested"] = now
        if "retrain requested" not in marks and instance.get_runs_count(
                dg.RunsFilter(tags={RETRAIN_TAG: "true"}, created_after=landed)):
            marks["retrain requested"] = now
        with desk.connect() as con:
            latest = fetch_proposals(con, limit=1)
        if "proposal" not in marks and latest and latest[0].challenger_version != before:
            marks["proposal"] = now
            print(f"proposal: {latest[0].summary()}", flush=True)
        if desk.registry.champion() != before:
            marks["new champion"] = now
            break
        if "proposal" in marks and latest[0].status != "PROMOTED":
            break
        time.sleep(1.0)
    return marks


def measure(base: Path, rows: int, timeout_s: float) -> int:
    prepare_root(base)
    from rexai_assets.evaluation.promotion import desk_from_resources
    from rexai_assets.loop.synthetic import write_experiments
    from rexai_assets.ops.devserver import dagster_dev
    from rexai_assets.paths import layout
    from rexai_assets.ops.pipeline import ensure_dagster_home, run_platform

    ensure_dagster_home()
    print(f"bootstrapping {base} (not timed) ...", flush=True)
    started = time.perf_counter()
    outcome = run_platform()
    if not outcome.success:
        print("bootstrap failed:", *[s.line() for s in outcome.steps], sep="\n")
        return 1
    print(f"bootstrap: {time.perf_counter() - started:.1f} s, champion {outcome.summary.get('champion')}", flush=True)
    data, desk = layout().ensure(), desk_from_resources()
    before, records = desk.registry.champion(), lab_file(data, rows)
    with dagster_dev(data.root, Path(os.environ["DAGSTER_HOME"])) as server:
        import dagster as dg

        from rexai_assets.loop.jobs import EXPERIMENTS_JOB, INGEST_AND_RETRAIN_JOB, RETRAIN_JOB

        instance = dg.DagsterInstance.get()
        warm_up = time.perf_counter()
        for sensor in ("inbox_sensor", "raw_files_sensor", "rexai_automation"):
            if not wait_for_first_tick(instance, sensor, timeout_s=120):
                print(f"the daemon never evaluated {sensor} within 120 s")
                return 1
        quiet = wait_for_quiet(instance, timeout_s=300)
        if quiet is None:
            print("the runs the daemon started on its own were still running after 300 s")
            return 1
        print(f"dagster dev up on {server.url}; its daemon ticked its sensors and finished the runs it started on "
              f"its own {time.perf_counter() - warm_up:.1f} s after the UI answered (not timed); dropping {rows} "
              "lab results into the inbox", flush=True)
        landed = datetime.now(timezone.utc)
        write_experiments(data, records)
        marks = watch_loop(instance, desk, before, landed, timeout_s)
        loop_jobs = (EXPERIMENTS_JOB, INGEST_AND_RETRAIN_JOB, RETRAIN_JOB)
        timelines = [run_timeline(instance, job, landed) for job in loop_jobs]
        others = sorted(r.dagster_run.job_name for r in instance.get_run_records(dg.RunsFilter(created_after=landed))
                        if r.dagster_run.job_name not in loop_jobs)
        timelines.append(f"other runs started meanwhile: {', '.join(others) or 'none'}")
    for stage, seconds in marks.items():
        print(f"{stage:16} {seconds:7.1f} s")
    print(*[t for t in timelines if not t.endswith(": no run")], sep="\n")
    reached = "new champion" in marks
    print("target: new champion <= 60 s; " + (f"measured: {marks['new champion']:.1f} s" if reached else
                                                  f"not reached within {timeout_s:.0f} s"))
    return 0 if reached else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200, help="lab results in the dropped file")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data root")
    args = parser.parse_args(argv)
    return run(args.rows, args.timeout, args.keep)


if __name__ == "__main__":
    sys.exit(main())
