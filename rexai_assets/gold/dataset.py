"""The gold dataset: simulated and measured labels on contract features, split without leaks.

`build_gold_dataset` is a pure function of the raw tables, the candidate pool, the measurement
rows and the config; the same inputs give the same frame (rows sorted canonically) and the same
`dataset_hash`. Storage helpers write it to the warehouse schema `gold` and to parquet.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rexai_assets.gold import contract as gc
from rexai_assets.gold.candidates import candidate_frame, sample_distinct
from rexai_assets.gold.contract import SIMULATED, TARGETS, DateRanges, GoldSettings
from rexai_assets.gold.features import FeatureContext, build_features, feature_context, recipes_to_slots
from rexai_assets.gold.lineage import observation_partitions, row_counts
from rexai_assets.gold.simulator import recipe_keys, simulate
from rexai_assets.gold.splits import DROPPED, assign_splits, hash_unit
from rexai_assets.hashing import canonical_json, sha256_frame, sha256_json
from rexai_assets.recipes import RecipeCatalog, RecipeError, parse_recipe
from rexai_assets.warehouse import table_exists, transaction

# `habitat`: where a measured row was made (an id of config/habitats.yaml, None for simulated rows and for
# observations without one); habitat adapters select their rows by it.
META_COLUMNS = ["recipe_id", "recipe_spec", "process_id", "label_source", "split", "weight", "observed_at",
                "observation_id", "habitat"]
MEASUREMENT_COLUMNS = ["observation_id", "kind", "recipe_id", "recipe_spec", "process_id", "label_source",
                       "observed_at", *TARGETS, "partition_key", "source_file", "source_sha256"]
MAX_REJECTIONS_IN_LINEAGE = 100


@dataclass
class GoldDataset:
    """One row per labelled recipe observation; see CONTRACTS.md (Gold dataset)."""

    frame: pd.DataFrame
    feature_names: tuple[str, ...]
    feature_order_hash: str
    dataset_hash: str
    config_hash: str
    norm_mean: pd.Series
    norm_std: pd.Series
    lineage: dict[str, Any]
    target_names: tuple[str, ...] = TARGETS
    trusted_sources: tuple[str, ...] = field(default=("lab", "iss_sim", "analog_field"))

    def split_frame(self, name: str | None = None) -> pd.DataFrame:
        return self.frame if name is None else self.frame[self.frame["split"] == name]

    def X(self, name: str | None = None) -> np.ndarray:
        return self.split_frame(name)[list(self.feature_names)].to_numpy(np.float64)

    def Y(self, name: str | None = None) -> np.ndarray:
        return self.split_frame(name)[list(self.target_names)].to_numpy(np.float64)

    def W(self, name: str | None = None) -> np.ndarray:
        return self.split_frame(name)["weight"].to_numpy(np.float64)

    def mask(self, name: str | None = None) -> np.ndarray:
        """Boolean [n, 5]: which targets are measured (partial labels)."""
        return ~np.isnan(self.Y(name))

    def normalize(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=float) - self.norm_mean.to_numpy()) / self.norm_std.to_numpy()

    def golden_simulated(self) -> pd.DataFrame:
        golden = self.split_frame("golden")
        return golden[golden["label_source"] == SIMULATED]

    def trusted_golden(self) -> pd.DataFrame:
        """Golden rows from trusted measured sources (the slice that decides once it is large enough)."""
        golden = self.split_frame("golden")
        return golden[golden["label_source"].isin(self.trusted_sources)]


# ---------------------------------------------------------------------------------------------
# Measured rows


def empty_measurements() -> pd.DataFrame:
    """What `read_measurements` returns while there is nothing: the measurement columns plus `verdict` and
    `habitat`."""
    frame = pd.DataFrame({c: pd.Series(dtype=float if c in TARGETS else object)
                          for c in (*MEASUREMENT_COLUMNS, "verdict", "habitat")})
    frame["observed_at"] = pd.Series(dtype="datetime64[ns]")
    return frame


def measured_rows(measurements: pd.DataFrame | None, tables, ctx: FeatureContext,
                  weights: dict[str, float]) -> tuple[pd.DataFrame, list[str]]:
    """Featurised measured rows (meta + features + targets) and one-line reasons for rows left out.

    A row whose recipe does not parse, whose process is outside the contract, or whose
    label_source has no configured weight (a new environment needs an explicit weight and trust
    decision in gold.yaml) is left out;
    a target value outside its range is masked (NaN) and reported; a row with no target left is
    left out.
    """
    if measurements is None or measurements.empty:
        return pd.DataFrame(columns=META_COLUMNS + list(ctx.names) + list(TARGETS)), []
    catalog = RecipeCatalog.from_frames(tables.inventory, tables.processes)
    problems: list[str] = []
    recipes, keep = [], []
    frame = measurements.reset_index(drop=True)
    for i, row in enumerate(frame.itertuples(index=False)):
        where = f"observations.measurements: observation {row.observation_id}"
        try:
            recipe = parse_recipe(row.recipe_spec, catalog)
        except RecipeError as exc:
            problems.append(f"{where}: recipe_spec: {exc}")
            continue
        if row.label_source not in weights:
            problems.append(f"{where}: label_source {row.label_source!r} has no weight in gold.yaml labels.weights")
            continue
        if recipe.process_id not in ctx.process_ids:
            problems.append(f"{where}: process {recipe.process_id!r} is not in the feature contract")
            continue
        given = row.recipe_id if isinstance(row.recipe_id, str) and row.recipe_id.strip() else recipe.recipe_id
        recipes.append(type(recipe)(recipe.items, recipe.process_id, recipe.regolith_frac, given.strip()))
        keep.append(i)
    kept = frame.iloc[keep].reset_index(drop=True)
    slots = recipes_to_slots(recipes)
    features = pd.DataFrame(build_features(slots, tables, ctx) if len(slots) else np.empty((0, len(ctx.names))),
                            columns=list(ctx.names))
    targets = kept[list(TARGETS)].apply(pd.to_numeric, errors="coerce").astype(float)
    bad = pd.DataFrame(False, index=targets.index, columns=targets.columns)
    for t in TARGETS:
        values = targets[t]
        bad[t] = values.notna() & (~np.isfinite(values) | (values < 0) | ((values > 1) if t in gc.BOUNDED_TARGETS else False))
    for i, t in zip(*np.nonzero(bad.to_numpy())):
        problems.append(f"observations.measurements: observation {kept.at[i, 'observation_id']}: {TARGETS[t]} "
                        f"value {float(targets.iat[i, t])!r} out of range, masked")
    targets = targets.mask(bad)
    empty = targets.isna().all(axis=1).to_numpy()
    for i in np.flatnonzero(empty):
        problems.append(f"observations.measurements: observation {kept.at[i, 'observation_id']}: no usable target value")
    out = pd.DataFrame({
        "recipe_id": slots["recipe_id"], "recipe_spec": slots["recipe_spec"], "process_id": slots["process_id"],
        "label_source": kept["label_source"].astype(str), "split": None, "weight": np.nan,
        "observed_at": pd.to_datetime(kept["observed_at"]).dt.tz_localize(None) if len(kept) else pd.Series(dtype="datetime64[ns]"),
        "observation_id": kept["observation_id"].astype(str),
        "verdict": kept["verdict"].astype(object) if "verdict" in kept.columns else None,
        "habitat": kept["habitat"].astype(object) if "habitat" in kept.columns else None,
    })
    out = pd.concat([out, features, targets], axis=1)
    return out[~empty].reset_index(drop=True), problems


def apply_verdict_weights(meas: pd.DataFrame, labels: gc.LabelSettings) -> tuple[pd.DataFrame, dict[str, int]]:
    """Measured rows with their verdict's weight (`verdict_weight`, multiplied into the label-source weight),
    without the rows whose weight is 0: those stay in the observations but never train (nor evaluate).
    Returns the kept rows and the excluded count per verdict (for the lineage)."""
    verdicts = meas["verdict"] if "verdict" in meas.columns else pd.Series(None, index=meas.index, dtype=object)
    factor = np.array([labels.verdict_weight(v) for v in verdicts], dtype=float)
    zero = factor <= 0
    excluded = pd.Series(verdicts[zero].astype(str)).value_counts().to_dict() if zero.any() else {}
    kept = meas.assign(verdict_weight=factor)[~zero].reset_index(drop=True)
    return kept, {str(k): int(v) for k, v in sorted(excluded.items())}


def row_weights(rows: pd.DataFrame, labels: gc.LabelSettings) -> pd.Series:
    """Label-source weight times the verdict's (1 for rows without a verdict: simulated, replay, crew feedback)."""
    factor = rows["verdict_weight"].astype(float).fillna(1.0) if "verdict_weight" in rows else 1.0
    return rows["label_source"].map(labels.weight).astype(float) * factor


# ---------------------------------------------------------------------------------------------
# Simulated rows


def simulated_rows(candidates: pd.DataFrame, names: tuple[str, ...], cfg: GoldSettings) -> pd.DataFrame:
    labels = simulate(candidates[list(names)], cfg.simulator.seed, cfg.simulator.noise, keys=recipe_keys(candidates["recipe_id"]))
    meta = pd.DataFrame({
        "recipe_id": candidates["recipe_id"].to_numpy(), "recipe_spec": candidates["recipe_spec"].to_numpy(),
        "process_id": candidates["process_id"].to_numpy(), "label_source": SIMULATED, "split": None,
        "weight": np.nan, "observed_at": pd.Series(pd.NaT, index=candidates.index, dtype="datetime64[ns]").to_numpy(),
        "observation_id": None, "habitat": None,
    })
    return pd.concat([meta, candidates[list(names)].reset_index(drop=True), labels.reset_index(drop=True)], axis=1)


def replay_rows(needed: int, ctx: FeatureContext, cfg: GoldSettings, existing: pd.DataFrame,
                golden_ids: set[str]) -> pd.DataFrame:
    """`needed` extra simulated train rows: fresh distinct recipes (derived seed) whose hash falls in train."""
    s = cfg.splits
    train_from = s.golden_simulated_share + s.simulated_val_share + s.simulated_test_share
    train_share = max(1.0 - train_from, 1e-3)
    have_ids = set(existing["recipe_id"])
    draw = int(math.ceil(needed / train_share * 1.2)) + 32
    for attempt in range(20):
        arrays = sample_distinct(ctx, draw, cfg.seed + 1_000_003 * (attempt + 1), cfg)
        frame = candidate_frame(ctx, *arrays)
        u = hash_unit(frame["recipe_id"], s.hash_salt)
        usable = (u >= train_from) & ~frame["recipe_id"].isin(have_ids | golden_ids).to_numpy()
        frame = frame[usable]
        if len(frame) >= needed:
            rows = simulated_rows(frame.iloc[:needed].reset_index(drop=True), ctx.names, cfg)
            rows["split"] = "train"
            return rows
        draw *= 2
    raise ValueError(f"gold.yaml: cannot draw {needed} replay recipes (inventory too small for replay_min_share)")


# ---------------------------------------------------------------------------------------------
# Assembly


def _finish(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    frame = frame.sort_values(["split", "label_source", "recipe_id", "observation_id"], na_position="first", kind="mergesort")
    frame = frame.reset_index(drop=True)
    for c in (*names, *TARGETS, "weight"):
        frame[c] = frame[c].astype(np.float64)
    frame["observed_at"] = pd.to_datetime(frame["observed_at"]).astype("datetime64[ns]")
    for c in ("recipe_id", "recipe_spec", "process_id", "label_source", "split", "observation_id", "habitat"):
        frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    return frame[META_COLUMNS + list(names) + list(TARGETS)]


def with_replay(rows: pd.DataFrame, ctx: FeatureContext, cfg: GoldSettings) -> tuple[pd.DataFrame, int]:
    """`rows` plus the simulated train rows replay needs (`replay_min_share`); (rows, replay rows added)."""
    measured_train = int(((rows["split"] == "train") & (rows["label_source"] != SIMULATED)).sum())
    sim_train = int(((rows["split"] == "train") & (rows["label_source"] == SIMULATED)).sum())
    if not measured_train:
        return rows, 0
    share = cfg.splits.replay_min_share
    needed = int(math.ceil(share * measured_train / (1.0 - share))) - sim_train if share > 0 else 0
    if needed <= 0:
        return rows, 0
    golden_ids = set(rows.loc[rows["split"] == "golden", "recipe_id"])
    extra = replay_rows(needed, ctx, cfg, rows, golden_ids)
    return pd.concat([rows, extra], ignore_index=True), len(extra)


def build_gold_dataset(tables, candidates: pd.DataFrame, measurements: pd.DataFrame | None = None,
                       raw_hashes: dict[str, str] | None = None, cfg: GoldSettings | None = None,
                       ranges: DateRanges | None = None, ctx: FeatureContext | None = None) -> GoldDataset:
    """The gold dataset from the raw tables, the candidate pool and `observations.measurements` rows."""
    cfg = cfg or gc.gold_settings()
    ranges = ranges or gc.date_ranges()
    ctx = ctx or feature_context(tables)
    names = ctx.names
    sim = simulated_rows(candidates, names, cfg)
    meas, problems = measured_rows(measurements, tables, ctx, {k: v for k, v in cfg.labels.weights.items() if k != SIMULATED})
    meas, excluded = apply_verdict_weights(meas, cfg.labels)
    rows = pd.concat([sim, meas], ignore_index=True) if len(meas) else sim
    split, reason = assign_splits(rows, cfg, ranges)
    rows["split"] = split
    dropped = pd.Series(reason[split == DROPPED]).value_counts().to_dict()
    rows = rows[split != DROPPED].reset_index(drop=True)

    rows, added = with_replay(rows, ctx, cfg)
    rows["weight"] = row_weights(rows, cfg.labels)
    frame = _finish(rows, names)

    train = frame[frame["split"] == "train"]
    norm_mean = train[list(names)].mean() if len(train) else pd.Series(0.0, index=list(names))
    norm_std = train[list(names)].std(ddof=0) if len(train) else pd.Series(1.0, index=list(names))
    norm_std = norm_std.where(norm_std > 0, 1.0).fillna(1.0)
    norm_mean = norm_mean.fillna(0.0)

    f_hash = gc.feature_order_hash(ctx.contract)
    c_hash = gc.config_hash()
    dataset_hash = sha256_json({"frame": sha256_frame(frame), "feature_order_hash": f_hash})
    train_rows = int((frame["split"] == "train").sum())
    lineage = {
        "dataset_hash": dataset_hash,
        "config_hash": c_hash,
        "config_files": {name: gc.settings.config_sha256(name) for name in gc.CONFIG_FILES},
        "feature_order_hash": f_hash,
        "feature_names": list(names),
        "raw_files": dict(sorted((raw_hashes or {}).items())),
        "observation_partitions": observation_partitions(measurements),
        "candidate_pool": {"rows": int(len(candidates)), "seed": cfg.seed, "pool_hash": sha256_frame(candidates)},
        "simulator": {"seed": cfg.simulator.seed, "noise": cfg.simulator.noise.model_dump()},
        "row_counts": row_counts(frame),
        "dropped_rows": {str(k): int(v) for k, v in sorted(dropped.items())},
        "excluded_zero_weight": excluded,
        "rejected_observations": len(problems),
        "rejections": problems[:MAX_REJECTIONS_IN_LINEAGE],
        "replay": {"min_share": cfg.splits.replay_min_share, "added_simulated_rows": added,
                   "simulated_train_share": (float((train["label_source"] == SIMULATED).mean()) if train_rows else None)},
        "trusted_sources": list(cfg.labels.trusted_sources),
        "weights": dict(cfg.labels.weights),
        "verdict_weights": dict(cfg.labels.verdict_weights),
        "norm": {"mean": {k: float(v) for k, v in norm_mean.items()}, "std": {k: float(v) for k, v in norm_std.items()}},
    }
    return GoldDataset(frame=frame, feature_names=tuple(names), feature_order_hash=f_hash, dataset_hash=dataset_hash,
                       config_hash=c_hash, norm_mean=norm_mean, norm_std=norm_std, lineage=lineage,
                       trusted_sources=tuple(cfg.labels.trusted_sources))


# ---------------------------------------------------------------------------------------------
# Quality problems (the blocking checks use these)


def golden_train_overlap(dataset: GoldDataset) -> list[str]:
    frame = dataset.frame
    golden = set(frame.loc[frame["split"] == "golden", "recipe_id"])
    train = set(frame.loc[frame["split"] == "train", "recipe_id"])
    return sorted(golden & train)


def replay_problem(dataset: GoldDataset, min_share: float) -> str | None:
    train = dataset.split_frame("train")
    measured = int((train["label_source"] != SIMULATED).sum())
    if not measured:
        return None
    share = float((train["label_source"] == SIMULATED).mean())
    if share + 1e-12 < min_share:
        return f"simulated share of train rows is {share:.3f} < {min_share} with {measured} measured rows"
    return None


def untrusted_golden(dataset: GoldDataset) -> list[str]:
    golden = dataset.split_frame("golden")
    bad = golden[~golden["label_source"].isin((SIMULATED, *dataset.trusted_sources))]
    return sorted(set(bad["label_source"]))


# ---------------------------------------------------------------------------------------------
# Storage


def _has_column(con, table: str, column: str) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'observations' "
                       "AND table_name = ? AND column_name = ?", [table, column]).fetchone()[0] > 0


def read_measurements(con) -> pd.DataFrame:
    """Rows of `observations.measurements`, or an empty frame while that table does not exist."""
    if not table_exists(con, "observations", "measurements"):
        return empty_measurements()
    present = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                         "WHERE table_schema = 'observations' AND table_name = 'measurements'").fetchall()}
    missing = [c for c in MEASUREMENT_COLUMNS if c not in present]
    if missing:
        raise ValueError(f"observations.measurements: missing column(s) {', '.join(missing)}")
    columns = ", ".join(f'm."{c}"' for c in MEASUREMENT_COLUMNS)
    experiments = table_exists(con, "observations", "experiment_runs")
    feedback = table_exists(con, "observations", "crew_feedback")
    verdict = "e.verdict" if experiments else "CAST(NULL AS VARCHAR)"
    # The habitat of either record kind; a warehouse from before experiment habitats has no such column
    # until its next ingestion adds it (observations' ensure_tables).
    habitat = "CAST(coalesce({}, {}) AS VARCHAR)".format(
        "e.habitat" if experiments and _has_column(con, "experiment_runs", "habitat") else "NULL",
        "f.habitat" if feedback else "NULL")
    join = ("LEFT JOIN observations.experiment_runs e ON m.kind = 'experiment' AND e.experiment_id = m.observation_id "
            if experiments else "")
    join += ("LEFT JOIN observations.crew_feedback f ON m.kind = 'feedback' AND f.feedback_id = m.observation_id"
             if feedback else "")
    # The verdict of an experiment row (NULL for crew feedback) weighs it in training (gold.yaml verdict_weights).
    return con.execute(f"SELECT {columns}, {verdict} AS verdict, {habitat} AS habitat FROM observations.measurements m "
                       f"{join} ORDER BY m.observation_id").df()


def _replace_table(con, name: str, frame: pd.DataFrame) -> None:
    con.register("_gold_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE gold.{name} AS SELECT * FROM _gold_frame")
    finally:
        con.unregister("_gold_frame")


def save_to_warehouse(con, dataset: GoldDataset | None = None, candidates: pd.DataFrame | None = None) -> None:
    """Replace gold.dataset / gold.candidates and record the lineage (gold.lineage, keyed by dataset_hash)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS gold")
    with transaction(con):
        if candidates is not None:
            _replace_table(con, "candidates", candidates)
        if dataset is not None:
            _replace_table(con, "dataset", dataset.frame)
            con.execute("CREATE TABLE IF NOT EXISTS gold.lineage (dataset_hash VARCHAR PRIMARY KEY, config_hash VARCHAR, "
                        "feature_order_hash VARCHAR, lineage JSON)")
            con.execute("INSERT OR REPLACE INTO gold.lineage VALUES (?, ?, ?, ?)",
                        [dataset.dataset_hash, dataset.config_hash, dataset.feature_order_hash, canonical_json(dataset.lineage)])


def export_files(folder: Path, dataset: GoldDataset | None = None, candidates: pd.DataFrame | None = None) -> dict[str, Path]:
    """Parquet exports (+ lineage.json) under the gold folder, each written atomically."""
    from rexai_assets.atomic import write_text_atomic, write_with

    folder = Path(folder)
    written: dict[str, Path] = {}
    if candidates is not None:
        written["candidates"] = write_with(folder / "candidates.parquet", lambda p: candidates.to_parquet(p, index=False))
    if dataset is not None:
        written["dataset"] = write_with(folder / "dataset.parquet", lambda p: dataset.frame.to_parquet(p, index=False))
        written["lineage"] = write_text_atomic(folder / "lineage.json", json.dumps(dataset.lineage, indent=2, sort_keys=True, default=str))
    return written
