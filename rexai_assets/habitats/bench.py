"""Adapter benchmark: habitats whose realities differ systematically, the shared model, and their adapters.

    python -m rexai_assets.habitats.bench [--rows 300] [--holdout 400] [--pool 20000] [--small] [--seed 0]

Two simulated habitats share one lab reality of `loop/realities.py` (seed `--seed`) and differ where their
equipment differs (`HABITAT_SHIFTS`: Jezero's sinter oven runs hot, Gale's laminating press is weaker). In a
data root of its own, in process: `--rows` lab results per habitat (fresh recipes, `reality.measure`, with
their habitat) enter the gold dataset with a simulated pool of `--pool` recipes; the shared ensemble is
trained on all of them pooled and registered as champion (as `rexai run` would); then each habitat's adapter
is trained, registered and gated (`habitats.service.run_habitat`, auto promotion). On `--holdout` fresh
recipes it prints, per habitat and target, the MAE against the habitat's noise-free reality of: the shared
model alone, shared + the habitat's adapter, and shared + the other habitat's adapter (a wrong adapter),
with the adapted/shared ratio and its paired-bootstrap 95 % CI. It then shows that the serving path refuses
the wrong adapter: the other habitat's adapter registered as this habitat's champion (tagged with its own
habitat, then with a tampered tag) is never applied.

Goals (issue 16): with 300 rows per habitat, adapter MAE <= 60 % of the shared model's on the targets the
habitat's difference touches, and <= +2 % on the others. `--small` shrinks sizes only (gold pool 3000, models
profile `small`), never a bound or a check.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rexai_assets.loop.realities import BOUNDED, Reality, make_reality

TARGETS = ("rigidity", "tightness", "energy_kwh", "water_l", "crew_min")
TOUCHED_GOAL, OTHER_GOAL = 0.60, 1.02
BOOTSTRAP = 2000


def say(*parts: Any) -> None:
    print(*parts, flush=True)


# ---------------------------------------------------------------------------------------------
# Habitat realities


@dataclass(frozen=True)
class Shift:
    """A systematic difference of one habitat: on `processes`, `target` shifted by `amount` (logit units for
    rigidity / tightness, a relative change for the costs)."""

    processes: tuple[str, ...]
    target: str
    amount: float

    def apply(self, truth: pd.DataFrame, features: pd.DataFrame) -> None:
        rows = np.sum([features[f"proc_{p}"].to_numpy(float) for p in self.processes], axis=0) > 0.5
        value = truth[self.target].to_numpy(float)
        if self.target in BOUNDED:
            p = np.clip(value, 1e-6, 1 - 1e-6)
            shifted = 1.0 / (1.0 + np.exp(-(np.log(p / (1 - p)) + self.amount)))
        else:
            shifted = value * (1.0 + self.amount)
        truth[self.target] = np.where(rows, shifted, value)


@dataclass
class HabitatReality(Reality):
    """A lab reality whose truth, hence its measurements (same noise and missing rate), carries a habitat's shifts."""

    habitat: str = ""
    story: str = ""
    shifts: tuple[Shift, ...] = ()

    def truth(self, features: pd.DataFrame) -> pd.DataFrame:
        out = super().truth(features)
        for shift in self.shifts:
            shift.apply(out, features)
        return out

    @property
    def touched(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.target for s in self.shifts))


# Ids of config/habitats.yaml, each with what differs about its equipment.
HABITAT_SHIFTS: dict[str, tuple[str, tuple[Shift, ...]]] = {
    "jezero": ("its sinter oven runs hot: sintered products (P03) come out stiffer (+1.2 on the logit scale) and "
               "cost 50 % more energy", (Shift(("P03",), "energy_kwh", 0.50), Shift(("P03",), "rigidity", 1.2))),
    "gale": ("its laminating press is weaker: pressed products (P02) come out less rigid (-1.5 on the logit scale)",
             (Shift(("P02",), "rigidity", -1.5),)),
}


def habitat_realities(seed: int) -> dict[str, HabitatReality]:
    base = make_reality(seed)
    shared = {f.name: getattr(base, f.name) for f in fields(Reality)}
    return {h: HabitatReality(**shared, habitat=h, story=story, shifts=shifts)
            for h, (story, shifts) in HABITAT_SHIFTS.items()}


# ---------------------------------------------------------------------------------------------
# Data


def measurements(recipes: pd.DataFrame, labels: pd.DataFrame, habitat: str, start: datetime) -> pd.DataFrame:
    """Lab results as `gold.dataset.read_measurements` returns them, with their habitat."""
    frame = pd.DataFrame({
        "observation_id": [f"{habitat}-{i:05d}" for i in range(len(recipes))], "kind": "experiment",
        "recipe_id": recipes["recipe_id"].to_numpy(), "recipe_spec": recipes["recipe_spec"].to_numpy(),
        "process_id": recipes["process_id"].to_numpy(), "label_source": "lab",
        "observed_at": [start + timedelta(minutes=10 * i) for i in range(len(recipes))],
        "verdict": "pass", "habitat": habitat})
    for target in TARGETS:
        frame[target] = labels[target].to_numpy(float)
    return frame


@dataclass
class Setup:
    tables: Any
    realities: dict[str, HabitatReality]
    measured: pd.DataFrame
    holdout: pd.DataFrame   # features of fresh recipes, none measured


def prepare(seed: int, rows: int, holdout_n: int) -> Setup:
    from rexai_assets.gold.contract import feature_names
    from rexai_assets.loop.synthetic import fresh_recipes
    from rexai_assets.paths import SHIPPED_RAW_DIR
    from rexai_assets.raw.tables import load_raw_tables

    tables = load_raw_tables(SHIPPED_RAW_DIR)
    realities = habitat_realities(seed)
    names = list(feature_names())
    start = datetime(2025, 1, 1, tzinfo=timezone.utc).replace(tzinfo=None)
    drawn = fresh_recipes(tables, rows * len(realities) + holdout_n, seed=940_000 + seed)
    frames = []
    for k, (habitat, reality) in enumerate(realities.items()):
        lab = drawn.iloc[k * rows:(k + 1) * rows].reset_index(drop=True)
        labels = reality.measure(lab[names], np.random.default_rng([seed, k, 7]))
        frames.append(measurements(lab, labels, habitat, start))
    holdout = drawn.iloc[rows * len(realities):].reset_index(drop=True)[names]
    return Setup(tables, realities, pd.concat(frames, ignore_index=True), holdout)


# ---------------------------------------------------------------------------------------------
# Platform steps (in process)


def train_shared(setup: Setup, pool_n: int, small: bool, mlflow: Any, models_dir: Path) -> Any:
    """The gold dataset with every habitat's rows pooled, the shared ensemble, registered and promoted."""
    from rexai_assets.gold.candidates import recipe_candidates_pool
    from rexai_assets.gold.dataset import build_gold_dataset
    from rexai_assets.models.config import models_config
    from rexai_assets.models.ensemble import train_ensemble
    from rexai_assets.models.registry import promote_to_champion
    from rexai_assets.models.tracking import track_and_register

    gold = build_gold_dataset(setup.tables, recipe_candidates_pool(setup.tables, size=pool_n), setup.measured)
    cfg = models_config("small" if small else None)
    record = track_and_register(train_ensemble(gold, cfg), mlflow, models_dir, cfg)
    promote_to_champion(mlflow.client(), record.version)
    return gold


def registered_adapter(mlflow: Any, habitat: str, version: str) -> Any:
    from rexai_assets.models.adapters import download_adapter, registered_name
    from rexai_assets.models.registry import version_info

    client = mlflow.client()
    return download_adapter(client, version_info(client, registered_name(habitat), version))


def mae_ratio(adapted: np.ndarray, shared: np.ndarray, truth: np.ndarray, seed: int) -> dict[str, float]:
    """MAE of both, their ratio and its paired-bootstrap 95 % CI over the holdout recipes."""
    a, s = np.abs(adapted - truth), np.abs(shared - truth)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(truth), (BOOTSTRAP, len(truth)))
    ratios = a[draws].mean(axis=1) / np.maximum(s[draws].mean(axis=1), 1e-12)
    lo, hi = np.quantile(ratios, [0.025, 0.975])
    return {"mae_adapted": float(a.mean()), "mae_shared": float(s.mean()),
            "ratio": float(a.mean() / max(s.mean(), 1e-12)), "ci_low": float(lo), "ci_high": float(hi)}


def holdout_errors(setup: Setup, base: Any, adapters: dict[str, Any], seed: int) -> dict[str, dict]:
    """Per habitat and target: shared alone, shared + own adapter, shared + the other habitat's adapter."""
    X = setup.holdout.to_numpy(np.float64)
    shared = base.predict(X)
    out = {}
    for habitat, reality in setup.realities.items():
        truth = reality.truth(setup.holdout)
        own = adapters[habitat].apply(X, shared)
        other = next(h for h in adapters if h != habitat)
        wrong = adapters[other].apply(X, shared)
        per_target = {}
        for target in TARGETS:
            t = truth[target].to_numpy(float)
            per_target[target] = {**mae_ratio(own[target]["value"], shared[target]["value"], t, seed),
                                  "mae_wrong_adapter": float(np.mean(np.abs(wrong[target]["value"] - t))),
                                  "touched": target in reality.touched,
                                  "coverage_adapted": float(np.mean((t >= own[target]["lo"]) & (t <= own[target]["hi"])))}
        out[habitat] = {"wrong_adapter": other, "targets": per_target}
    return out


def refusals(mlflow: Any, base_scorer: Any, habitat: str, other: str, other_version: str, models_dir: Path) -> list[str]:
    """Register `other`'s adapter as `habitat`'s champion (a mix-up), then tamper its habitat tag: the serving
    path must refuse both. The habitat's own champion is restored afterwards."""
    from rexai_assets.models.adapters import (CHAMPION, HABITAT_TAG, AdapterRefused, for_habitat, registered_name)
    from rexai_assets.models.registry import get_alias_version, register_version, set_alias, version_info

    client = mlflow.client()
    name = registered_name(habitat)
    own = get_alias_version(client, CHAMPION, name)
    source = version_info(client, registered_name(other), other_version)
    mixed = register_version(client, source.run_id, source.source, name=name, alias=CHAMPION, tags=source.tags)
    lines = []
    try:
        for step in ("registered under the wrong habitat", "habitat tag tampered to match"):
            if step.startswith("habitat tag"):
                client.set_model_version_tag(name, mixed, HABITAT_TAG, habitat)
            _, decision = for_habitat(base_scorer, habitat, mlflow.tracking_uri, models_dir)
            try:
                for_habitat(base_scorer, habitat, mlflow.tracking_uri, models_dir, strict=True)
                strict = "answered (NOT refused)"
            except AdapterRefused:
                strict = "exit 1"
            lines.append(f"{habitat}: {other}'s adapter {step}: applied={decision.adapter_version is not None}; "
                         f"--strict: {strict}; {decision.note}")
    finally:
        if own is not None:
            set_alias(client, own, CHAMPION, name)
        else:
            client.delete_registered_model_alias(name, CHAMPION)
    return lines


def run_bench(rows: int = 300, holdout_n: int = 400, pool_n: int = 20000, small: bool = False, seed: int = 0) -> dict:
    """The benchmark in the current data root (`REXAI_DATA_ROOT`); returns every figure (module docstring)."""
    from rexai_assets.habitats.service import run_habitat
    from rexai_assets.models.adapters import SHARED_RESIDUALS
    from rexai_assets.models.scorer import load_scorer
    from rexai_assets.paths import layout
    from rexai_assets.resources import MlflowTracking
    from rexai_assets.warehouse import WarehouseClient

    data = layout().ensure()
    mlflow = MlflowTracking(tracking_uri=data.tracking_uri)
    setup = prepare(seed, rows, holdout_n)
    say(f"habitat benchmark: reality {seed}, {rows} lab rows per habitat, holdout {holdout_n}, pool {pool_n}"
        f"{', small models' if small else ''}; data root {data.root}")
    gold = train_shared(setup, pool_n, small, mlflow, data.models)
    outcomes = {h: run_habitat(h, gold, mlflow, WarehouseClient(data.warehouse).connect, data.models, "auto",
                               trigger="bench") for h in setup.realities}
    for outcome in outcomes.values():
        say(f"  {outcome.habitat}: {outcome.trusted_rows} trusted rows, golden slice {outcome.golden_rows}; "
            f"adapted {', '.join(outcome.adapted_targets) or 'nothing'}; intervals re-calibrated on its rows: "
            f"{', '.join(t for t, s in outcome.interval_sources.items() if s == SHARED_RESIDUALS) or 'none'}; "
            f"{outcome.note}")
    adapters = {h: registered_adapter(mlflow, h, o.adapter_version) for h, o in outcomes.items()}
    base = load_scorer(data.tracking_uri)
    errors = holdout_errors(setup, base.model, adapters, seed)
    lines = []
    for habitat, other in zip(outcomes, list(outcomes)[1:] + list(outcomes)[:1]):
        lines += refusals(mlflow, base, habitat, other, outcomes[other].adapter_version, data.models)
    return {"settings": {"seed": seed, "rows": rows, "holdout": holdout_n, "pool": pool_n, "small": small},
            "habitats": {h: {"story": r.story, "touched": list(r.touched), "outcome": outcomes[h].document(),
                             **errors[h]} for h, r in setup.realities.items()},
            "refusals": lines, "verdicts": goal_verdicts(errors)}


def goal_verdicts(errors: dict[str, dict]) -> dict[str, dict]:
    """Per habitat and target: the goal, the point verdict, and whether the 95 % CI is consistent with it."""
    out = {}
    for habitat, result in errors.items():
        for target, e in result["targets"].items():
            goal = TOUCHED_GOAL if e["touched"] else OTHER_GOAL
            out[f"{habitat}/{target}"] = {"goal": goal, "ratio": e["ratio"], "met": e["ratio"] <= goal,
                                          "consistent": e["ci_low"] <= goal}
    return out


def table(results: dict) -> str:
    rows = ["| habitat | target | touched | shared MAE | + own adapter | ratio [95 % CI] | + wrong adapter | "
            "adapted coverage |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for habitat, r in results["habitats"].items():
        for target, e in r["targets"].items():
            rows.append(f"| {habitat} | {target} | {'yes' if e['touched'] else 'no'} | {e['mae_shared']:.4g} | "
                        f"{e['mae_adapted']:.4g} | {e['ratio']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}] | "
                        f"{e['mae_wrong_adapter']:.4g} ({r['wrong_adapter']}'s) | {e['coverage_adapted']:.3f} |")
    return "\n".join(rows)


def report(results: dict) -> None:
    for habitat, r in results["habitats"].items():
        say(f"{habitat}: {r['story']}")
    say(table(results))
    for line in results["refusals"]:
        say(f"refusal: {line}")
    for key, v in results["verdicts"].items():
        say(f"goal {key}: ratio {v['ratio']:.3f} <= {v['goal']:.2f}: {'met' if v['met'] else 'NOT met'}"
            f"{'' if v['met'] else (' (95 % CI consistent with it)' if v['consistent'] else ' (CI excludes it)')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300, help="lab rows per habitat")
    parser.add_argument("--holdout", type=int, default=400, help="fresh holdout recipes")
    parser.add_argument("--pool", type=int, default=20000, help="simulated gold pool")
    parser.add_argument("--small", action="store_true", help="models profile small (sizes only)")
    parser.add_argument("--seed", type=int, default=0, help="the lab reality (loop/realities.py)")
    parser.add_argument("--out", default=None, help="results.json folder (default <data root>/benchmarks/habitats)")
    args = parser.parse_args(argv)
    if not os.environ.get("REXAI_DATA_ROOT"):
        os.environ["REXAI_DATA_ROOT"] = tempfile.mkdtemp(prefix="rexai-habitat-bench-")
    results = run_bench(args.rows, args.holdout, args.pool, args.small, args.seed)
    report(results)
    out = Path(args.out or Path(os.environ["REXAI_DATA_ROOT"]) / "benchmarks" / "habitats")
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    say(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
