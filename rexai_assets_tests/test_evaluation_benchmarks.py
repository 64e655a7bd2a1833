"""Benchmarks: scenario rows, per-target metrics (never pooled across units), preset slices, ablations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rexai_assets.raw.tables import load_raw_tables
from rexai_assets.evaluation import benchmark_metrics as bm
from rexai_assets.evaluation.config import AblationModelSettings, benchmark_settings
from rexai_assets.models.predictive import Preset

SHIPPED_RAW = Path(__file__).resolve().parents[1] / "data" / "raw"


@pytest.fixture(scope="module")
def tables():
    return load_raw_tables(SHIPPED_RAW)


def test_grid_fractions():
    two = bm.grid_fractions(2, 0.1)
    assert len(two) == 9 and np.allclose(two.sum(axis=1), 1) and (two >= 0.1 - 1e-12).all()
    assert bm.grid_fractions(1, 0.1).tolist() == [[1.0]]
    assert len(bm.grid_fractions(3, 0.1)) == 36


def test_scenario_rows_use_only_their_items_and_process(tables):
    from rexai_assets.gold.features import feature_context

    ctx = feature_context(tables)
    cfg = benchmark_settings()
    rows = bm.generated_rows(ctx, cfg)
    assert set(rows["scenario"]) == {"multilayer_pouches", "foams_sintered", "cargo_struts_composite"}
    for name, scenario in cfg.scenarios.items():
        part = rows[rows["scenario"] == name]
        assert len(part) == 3 + 3 * 9 + 36  # 1, 2 and 3 items on the 0.1 grid
        assert all(bm.in_scenario(spec, scenario) for spec in part["recipe_spec"])
        assert (part[f"proc_{scenario.process}"] == 1).all()
        assert np.allclose(part["regolith_frac"], scenario.regolith_frac[0])
    assert rows[list(ctx.names) + ["rigidity", "crew_min"]].notna().all().all()
    assert not bm.in_scenario('{"items":[["W006",0.5],["W003",0.5]],"process_id":"P02","regolith_frac":0}',
                              cfg.scenarios["multilayer_pouches"])


def test_metrics_per_target_on_a_hand_made_case():
    frame = pd.DataFrame({"label_set": ["s"] * 4, "scenario": [None] * 4,
                          "rigidity": [0.0, 1.0, np.nan, 0.5], "crew_min": [10.0, 20.0, 30.0, 40.0]})
    pred = {"rigidity": {"value": np.array([0.1, 0.7, 0.0, 0.5]), "lo": np.array([0.0, 0.8, 0, 0.4]), "hi": np.array([0.2, 0.9, 0, 0.6])},
            "crew_min": {"value": np.array([12.0, 20, 30, 36]), "lo": np.array([11.0, 19, 29, 35]), "hi": np.array([13.0, 21, 31, 37])}}
    rows = pd.DataFrame(bm.metrics_rows("m", "1", pred, frame, [("s", "all", np.arange(4))], ["rigidity", "crew_min"]))
    rig = rows[rows["target"] == "rigidity"].iloc[0]
    assert rig["n"] == 3 and rig["mae"] == pytest.approx(0.4 / 3) and rig["rmse"] == pytest.approx(np.sqrt(0.1 / 3))
    assert rig["coverage"] == pytest.approx(2 / 3) and rig["interval_width"] == pytest.approx(0.5 / 3)
    crew = rows[rows["target"] == "crew_min"].iloc[0]
    assert crew["n"] == 4 and crew["mae"] == pytest.approx(1.5) and crew["coverage"] == pytest.approx(0.5)
    assert len(rows) == 2  # one row per target: different units are never averaged together


def test_preset_slice_selects_on_labels():
    frame = pd.DataFrame({"energy_kwh": [0.5, 2.0, 0.5, np.nan], "water_l": [0.0, 0.0, 0.3, 0.0],
                          "crew_min": [10.0, 10.0, 10.0, 10.0]})
    preset = Preset("P", 0.5, 0.5, max_water_l=0.2, max_energy_kwh=1.0, max_crew_min=20.0)
    assert bm.preset_mask(frame, preset).tolist() == [True, False, False, False]


def test_ablations_retrain_without_each_group(tables):
    from rexai_assets.models.testing import small_gold

    gold = small_gold(tables, size=300)
    cfg = benchmark_settings().model_copy(update={"ablation_model": AblationModelSettings(max_iter=15)})
    frame = bm.run_ablations(gold, cfg)
    assert set(frame["group"]) == {"none", *cfg.ablation_groups}
    assert (frame.groupby("group").size() == 5).all()
    base = frame[frame["group"] == "none"]
    assert (base["delta_mae"] == 0).all()
    removed = frame[frame["group"] == "process_costs"]["removed"].iloc[0].split(",")
    assert removed == ["proc_energy_kwh_per_kg", "proc_water_l_per_kg", "proc_crew_min_per_batch"]
    assert bm.ablation_plot(frame)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="matches no feature"):
        bm.feature_groups(gold.feature_names, {"nothing": ["zzz_"]})
