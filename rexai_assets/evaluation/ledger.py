"""The prediction ledger: every ingested measurement beside what the champion of that moment predicted for it.

`registry.prediction_ledger` has one row per (observation, measured target). The prediction is the one
the champion in production when the observation was made (`observed_at`: an experiment's `finished_at`,
a feedback's `submitted_at`) made for that recipe (same content key):

- `inference_log`: the latest prediction that champion served for it (`registry.inference_log`) at or
  before `observed_at`, by itself (not with a habitat adapter on it);
- `computed_at_ingestion`: otherwise, computed when the ledger is brought up to date, by that champion
  (loaded from the registry by version; the heuristic while there was no champion).

The champion of a moment comes from `registry.approval_audit_log` (`champion_periods`). Only rows that
are new, or whose measured value changed, are (re)computed, so a ledger row keeps the prediction it got.
Plain functions, no Dagster: the asset injects how a model version predicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from rexai_assets.contract import TARGETS
from rexai_assets.warehouse import table_exists, transaction

TABLE = "registry.prediction_ledger"
INFERENCE_LOG, COMPUTED = "inference_log", "computed_at_ingestion"
HEURISTIC = "heuristic"
# Audit actions after which `model_version` is the champion.
CHAMPION_ACTIONS = ("approve", "auto_promote", "rollback_to")
COLUMNS = ("observation_id", "target", "kind", "recipe_id", "recipe_key", "predicted", "predicted_lo",
           "predicted_hi", "model_version", "model_source", "prediction_source", "inference_entry_id", "measured",
           "error", "inside_interval", "label_source", "verdict", "environment", "habitat", "observed_at",
           "recorded_at")
DDL = f"""CREATE SCHEMA IF NOT EXISTS registry;
CREATE TABLE IF NOT EXISTS {TABLE} (
    observation_id VARCHAR NOT NULL, target VARCHAR NOT NULL, kind VARCHAR, recipe_id VARCHAR, recipe_key VARCHAR,
    predicted DOUBLE, predicted_lo DOUBLE, predicted_hi DOUBLE, model_version VARCHAR, model_source VARCHAR,
    prediction_source VARCHAR NOT NULL, inference_entry_id VARCHAR, measured DOUBLE NOT NULL, error DOUBLE,
    inside_interval BOOLEAN, label_source VARCHAR, verdict VARCHAR, environment VARCHAR, habitat VARCHAR,
    observed_at TIMESTAMP, recorded_at TIMESTAMP NOT NULL, PRIMARY KEY (observation_id, target))"""

# version (None: no champion, the heuristic) and recipe specs -> {target: {"value", "lo", "hi"}} arrays,
# or None when that version cannot predict any more (e.g. built on another feature contract).
Predictor = Callable[[str | None, Sequence[str]], dict[str, dict[str, np.ndarray]] | None]


# ---------------------------------------------------------------------------------------------
# Who was champion when


def champion_periods(audit: pd.DataFrame, now: datetime | None = None) -> pd.DataFrame:
    """[version, from, to] per period a version was champion (`to` is NaT for the one serving now)."""
    moves = audit[audit["action"].isin(CHAMPION_ACTIONS)].sort_values(["created_at"], kind="stable")
    periods = pd.DataFrame({"version": moves["model_version"].astype(str).to_numpy(),
                            "from": pd.to_datetime(moves["created_at"]).to_numpy()})
    periods["to"] = periods["from"].shift(-1)
    return periods.reset_index(drop=True)


def champion_at(periods: pd.DataFrame, when: pd.Series) -> list[str | None]:
    """The champion version at each time (None before the first promotion)."""
    starts = pd.to_datetime(periods["from"]).to_numpy("datetime64[ns]")
    stamps = pd.to_datetime(when).to_numpy("datetime64[ns]")
    index = np.searchsorted(starts, stamps, side="right") - 1
    versions = periods["version"].tolist()
    return [versions[i] if i >= 0 and not pd.isna(stamps[k]) else None for k, i in enumerate(index)]


# ---------------------------------------------------------------------------------------------
# Reading


def read_observations(con: Any) -> pd.DataFrame:
    """Every stored measurement with its recipe key, environment, verdict and habitat."""
    from rexai_assets.recipes import spec_identity

    if not table_exists(con, "observations", "measurements"):
        return pd.DataFrame(columns=["observation_id", "kind", "recipe_id", "recipe_spec", "recipe_key",
                                     "label_source", "observed_at", *TARGETS, "environment", "verdict", "habitat"])
    exp_habitat = "e.habitat" if _has_column(con, "experiment_runs", "habitat") else "NULL"
    frame = con.execute(
        f"SELECT m.observation_id, m.kind, m.recipe_id, m.recipe_spec, m.label_source, m.observed_at, "
        f"{', '.join('m.' + t for t in TARGETS)}, e.environment, e.verdict, "
        f"CAST(coalesce({exp_habitat}, f.habitat) AS VARCHAR) AS habitat FROM observations.measurements m "
        "LEFT JOIN observations.experiment_runs e ON m.kind = 'experiment' AND e.experiment_id = m.observation_id "
        "LEFT JOIN observations.crew_feedback f ON m.kind = 'feedback' AND f.feedback_id = m.observation_id "
        "ORDER BY m.observation_id").df()
    frame["recipe_key"] = [spec_identity(s)[0] for s in frame["recipe_spec"]]
    return frame


def _has_column(con: Any, table: str, column: str) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'observations' "
                       "AND table_name = ? AND column_name = ?", [table, column]).fetchone()[0] > 0


def read_ledger(con: Any) -> pd.DataFrame:
    if not table_exists(con, "registry", "prediction_ledger"):
        return pd.DataFrame(columns=list(COLUMNS))
    return con.execute(f"SELECT * FROM {TABLE} ORDER BY observed_at, observation_id, target").df()


def long_measurements(observations: pd.DataFrame) -> pd.DataFrame:
    """One row per (observation, measured target) with `measured`."""
    keep = [c for c in observations.columns if c not in TARGETS]
    long = observations.melt(id_vars=keep, value_vars=list(TARGETS), var_name="target", value_name="measured")
    return long[long["measured"].notna()].reset_index(drop=True)


def pending(long: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """Measured (observation, target) pairs that have no ledger row, or whose measured value changed."""
    if ledger.empty:
        return long
    known = ledger.set_index(["observation_id", "target"])["measured"]
    index = pd.MultiIndex.from_frame(long[["observation_id", "target"]])
    before = known.reindex(index).to_numpy(dtype=float)
    changed = np.isnan(before) | ~np.isclose(before, long["measured"].to_numpy(dtype=float))
    return long[changed].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Joining


def served_match(obs: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """Per observation (rows of `obs` with `champion`), the latest log entry of that champion for the same
    recipe at or before `observed_at`: [observation_id, entry_id] + the logged target columns. Entries a
    habitat adapter served (`adapter_version` set) are the adapter's predictions, not the champion's."""
    if obs.empty or log.empty:
        return pd.DataFrame(columns=["observation_id", "entry_id"])
    log = log[log["adapter_version"].isna()]
    log = log.assign(_version=log["model_version"].where(log["model_version"].notna(), HEURISTIC).astype(str))
    left = obs[["observation_id", "recipe_key", "observed_at", "champion"]].assign(
        _version=obs["champion"].fillna(HEURISTIC).astype(str))
    joined = left.merge(log, on=["recipe_key", "_version"], how="inner")
    joined = joined[pd.to_datetime(joined["logged_at"]) <= pd.to_datetime(joined["observed_at"])]
    joined = joined.sort_values(["observation_id", "logged_at", "entry_id"], kind="stable")
    return joined.groupby("observation_id", sort=False).tail(1).reset_index(drop=True)


def _prediction_frame(obs: pd.DataFrame, values: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    columns = {f"{t}{s}": np.asarray(values[t][part], dtype=float)
               for t in TARGETS if t in values for s, part in (("", "value"), ("_lo", "lo"), ("_hi", "hi"))}
    return pd.DataFrame({"observation_id": obs["observation_id"].to_numpy(), **columns})


def computed(obs: pd.DataFrame, predict: Predictor) -> pd.DataFrame:
    """Predictions by each observation's champion (one batch per version); versions that cannot predict are skipped."""
    frames = []
    for version, group in obs.groupby(obs["champion"].fillna(HEURISTIC), sort=True):
        firsts = group.drop_duplicates("observation_id")
        values = predict(None if version == HEURISTIC else str(version), firsts["recipe_spec"].tolist())
        if values is not None:
            frames.append(_prediction_frame(firsts, values))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["observation_id"])


def ledger_rows(todo: pd.DataFrame, log: pd.DataFrame, periods: pd.DataFrame, predict: Predictor,
                now: datetime) -> pd.DataFrame:
    """Ledger rows for the pending (observation, target) pairs of `todo` (from `long_measurements`)."""
    if todo.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    obs = todo.drop_duplicates("observation_id").copy()
    obs["champion"] = champion_at(periods, obs["observed_at"])
    served = served_match(obs, log)
    rest = obs[~obs["observation_id"].isin(served["observation_id"])]
    predicted = pd.concat([served.assign(prediction_source=INFERENCE_LOG, inference_entry_id=served["entry_id"]),
                           computed(rest, predict).assign(prediction_source=COMPUTED, inference_entry_id=None)],
                          ignore_index=True)
    rows = todo.merge(obs[["observation_id", "champion"]], on="observation_id").merge(
        predicted, on="observation_id", how="inner", suffixes=("", "_log"))
    pick = lambda suffix: np.array([rows.at[i, f"{t}{suffix}"] for i, t in enumerate(rows["target"])], dtype=float)  # noqa: E731
    rows = rows.assign(predicted=pick(""), predicted_lo=pick("_lo"), predicted_hi=pick("_hi")) if len(rows) else rows
    return finish_rows(rows, now)


def finish_rows(rows: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Error, inside-interval flag and the ledger's column order."""
    if rows.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    out = rows.assign(model_version=rows["champion"], model_source=np.where(rows["champion"].isna(), HEURISTIC, "model"),
                      error=rows["predicted"] - rows["measured"],
                      inside_interval=(rows["measured"] >= rows["predicted_lo"]) & (rows["measured"] <= rows["predicted_hi"]),
                      recorded_at=pd.Timestamp(now).tz_localize(None) if pd.Timestamp(now).tzinfo else pd.Timestamp(now))
    out["observed_at"] = pd.to_datetime(out["observed_at"]).astype("datetime64[us]")
    out["recorded_at"] = pd.to_datetime(out["recorded_at"]).astype("datetime64[us]")
    return out[out["predicted"].notna()][list(COLUMNS)].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Writing


@dataclass
class LedgerUpdate:
    added: int
    from_inference_log: int
    computed: int
    pending_skipped: int  # measured pairs no model could predict (left pending)
    total: int


def update_ledger(con: Any, predict: Predictor, now: datetime) -> LedgerUpdate:
    """Bring `registry.prediction_ledger` up to date with the stored measurements (one transaction)."""
    from rexai_assets.evaluation.promotion import audit_log
    from rexai_assets.inference_log import read_log

    con.execute(DDL)
    todo = pending(long_measurements(read_observations(con)), read_ledger(con))
    log = read_log(con, sorted(set(todo["recipe_key"])))
    rows = ledger_rows(todo, log, champion_periods(audit_log(con)), predict, now)
    with transaction(con):
        if len(rows):
            con.register("_ledger", rows)
            try:
                con.execute(f"DELETE FROM {TABLE} AS t USING _ledger AS l "
                            "WHERE t.observation_id = l.observation_id AND t.target = l.target")
                con.execute(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM _ledger")
            finally:
                con.unregister("_ledger")
    total = con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    served = int((rows["prediction_source"] == INFERENCE_LOG).sum()) if len(rows) else 0
    return LedgerUpdate(len(rows), served, len(rows) - served, len(todo) - len(rows), total)
