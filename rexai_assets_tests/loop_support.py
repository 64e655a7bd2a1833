"""Shared steps of the closed-loop tests: a small platform, sensor ticks, and executing what they request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from rexai_assets.definitions import build_definitions
from rexai_assets.gold.contract import TARGETS
from rexai_assets.paths import layout
from rexai_assets.ops.pipeline import StepOutcome, run_job, run_platform

SMALL_SETTINGS = {
    "gold.yaml": {"pool_size": 3000},
    "models.yaml": {"profile": "small"},
    "serving.yaml": {"recommendations": {"candidates": 2000}},
    "retraining.yaml": {"min_new_rows": 40, "cooldown_minutes": 0},
}


def shrink(config_override) -> None:
    for name, values in SMALL_SETTINGS.items():
        config_override(name, values)


@dataclass
class Platform:
    defs: dg.Definitions
    instance: dg.DagsterInstance

    @property
    def data(self):
        return layout().ensure()

    def bootstrap(self) -> None:
        outcome = run_platform(self.defs, self.instance)
        assert outcome.success, [s.line() for s in outcome.steps]

    def tick(self, sensor_name: str, cursor: str | None = None) -> Any:
        sensor = self.defs.get_sensor_def(sensor_name)
        with dg.build_sensor_context(instance=self.instance, cursor=cursor, definitions=self.defs,
                                     resources=self.defs.resources) as context:
            result = sensor(context)
            return result, context.cursor

    def ingest(self, cursor: str | None) -> tuple[list[StepOutcome], str | None]:
        """One inbox-sensor tick, its partitions registered and its runs executed."""
        result, _ = self.tick("inbox_sensor", cursor)
        if isinstance(result, dg.SkipReason):
            return [], cursor
        for request in result.dynamic_partitions_requests:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        steps = [run_job(self.defs, r.job_name, self.instance, r.partition_key, r.tags) for r in result.run_requests]
        assert all(s.success and not s.failed_checks for s in steps), [s.line() for s in steps]
        return steps, result.cursor

    def retrain_tick(self) -> dg.RunRequest | dg.SkipReason:
        result, _ = self.tick("retrain_trigger_sensor")
        return result

    def execute(self, request: dg.RunRequest) -> StepOutcome:
        """Run what a sensor requested; on failure do what the daemon's run-failure sensor does."""
        outcome = run_job(self.defs, request.job_name, self.instance, request.partition_key, request.tags)
        if not outcome.success and request.job_name in ("retrain_job", "ingest_and_retrain_job"):
            from rexai_assets.evaluation.evaluate import reject_failed_retrain

            r = self.defs.resources
            reject_failed_retrain(self.instance, outcome.run_id, r["storage"], r["warehouse"], r["mlflow"],
                                  trigger=request.tags.get("rexai/trigger"))
        return outcome

    def desk(self):
        from rexai_assets.evaluation.promotion import desk_from_resources

        return desk_from_resources(self.defs.resources)

    def champion(self) -> str | None:
        return self.desk().registry.champion()

    def load_version(self, version: str):
        from rexai_assets.models.registry import load_model_version

        return load_model_version(self.defs.resources["mlflow"], version)[0]

    def tables(self):
        from rexai_assets.raw.tables import load_raw_tables

        return load_raw_tables(self.data.raw)

    def pool_ids(self) -> set[str]:
        return set(pd.read_parquet(self.data.gold / "candidates.parquet", columns=["recipe_id"])["recipe_id"])


def make_platform() -> Platform:
    return Platform(build_definitions(), dg.DagsterInstance.get())


def mae_per_target(model, features: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    predictions = model.predict(features.to_numpy(np.float64))
    return {t: float(np.mean(np.abs(predictions[t]["value"] - truth[t].to_numpy(float)))) for t in TARGETS}
