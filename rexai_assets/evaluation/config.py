"""Typed `config/benchmarks.yaml`: the scenarios, ablation groups and light model of the benchmark assets."""

from __future__ import annotations

from rexai_assets import settings

BENCHMARKS_FILE = "benchmarks.yaml"


class ScenarioSettings(settings.StrictModel):
    description: str
    items: tuple[str, ...]
    process: str
    regolith_frac: tuple[float, ...] = (0.0,)


class AblationModelSettings(settings.StrictModel):
    max_iter: int = 60
    learning_rate: float = 0.1
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 20
    max_train_rows: int = 8000
    seed: int = 11


class BenchmarkSettings(settings.StrictModel):
    seed: int = 20250302
    fraction_step: float = 0.1
    scenarios: dict[str, ScenarioSettings] = {}
    ablation_groups: dict[str, tuple[str, ...]] = {}
    ablation_model: AblationModelSettings = AblationModelSettings()


def benchmark_settings() -> BenchmarkSettings:
    return settings.load(BENCHMARKS_FILE, BenchmarkSettings)
