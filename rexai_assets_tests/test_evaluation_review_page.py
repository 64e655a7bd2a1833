"""The review page of a proposal (second vote): predicted vs measured of challenger and champion on the
measured golden rows, each criterion with its numbers, the lineage chain to the bundle and how to decide;
in the proposal's metadata and from `rexai proposals show ID`, rebuilt from stored JSON only."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from rexai_assets.cli import main as rexai
from rexai_assets.evaluation import evaluate, promotion, review
from rexai_assets.gold.contract import TARGETS
from rexai_assets.paths import layout
from rexai_assets.resources import build_resources

from rexai_assets_tests.test_evaluation_promotion import make_proposal

SHIPPED_RAW = Path(__file__).resolve().parents[1] / "data" / "raw"


@pytest.fixture(scope="module")
def evaluated():
    """Two small models evaluated on a gold set whose first 30 golden recipes were measured in the lab."""
    from rexai_assets.raw.tables import load_raw_tables
    from rexai_assets.models.testing import small_ensemble, small_gold

    gold = small_gold(load_raw_tables(SHIPPED_RAW), size=400, raw_dir=SHIPPED_RAW)
    golden = gold.frame.index[gold.frame["split"] == "golden"][:30]
    gold.frame.loc[golden, "label_source"] = "lab"
    gold.frame.loc[golden[:10], "water_l"] = np.nan  # a partial lab label: water not measured there
    challenger, champion = small_ensemble(gold, autoencoder=False, seed=1), small_ensemble(gold, autoencoder=False, seed=2)
    metrics, measured = evaluate.evaluate_models(gold, challenger, champion)
    return gold, challenger, champion, golden, metrics, measured


def test_the_evaluation_keeps_both_models_predictions_on_the_measured_golden_rows(evaluated):
    gold, challenger, champion, golden, metrics, measured = evaluated
    assert sorted(measured) == sorted(TARGETS)
    rows = gold.frame.loc[golden]
    X = rows[list(gold.feature_names)].to_numpy(np.float64)
    for target in TARGETS:
        labelled = rows[target].notna().to_numpy()
        stored = measured[target]
        assert stored["recipe_id"] == rows["recipe_id"].astype(str)[labelled].tolist()
        assert len(stored["measured"]) == int(labelled.sum()) == (20 if target == "water_l" else 30)
        for name, model in (("challenger", challenger), ("champion", champion)):
            expected = model.predict(X)[target]["value"][labelled]
            assert np.allclose(stored[name], expected, rtol=1e-5), (target, name)
    lab = metrics[(metrics["slice"] == "measured") & (metrics["split"] == "golden") & (metrics["model"] == "challenger")]
    page = review.compare(measured)
    for row in page:  # the page's MAE is the gate's, recomputed from what is stored
        gate_mae = float(lab[lab["target"] == row["target"]]["mae"].iloc[0])
        assert row["challenger_mae"] == pytest.approx(gate_mae, rel=1e-4)
        assert row["n"] == int(lab[lab["target"] == row["target"]]["n"].iloc[0])


def stored_review(measured) -> promotion.Proposal:
    """A REVIEW proposal of v2 against v1 as the warehouse stores it, with its evaluation report on disk."""
    desk = promotion.desk_from_resources(build_resources())
    desk.registry.client.create_registered_model("rexai")
    proposal = make_proposal("REVIEW", "2", "1")
    proposal.criteria = [{"name": "rigidity no regression", "passed": True, "target": "rigidity",
                          "detail": "rigidity MAE 0.041 <= 0.0428 (measured, n=30; champion 0.042 +2%)"},
                         {"name": "energy_kwh interval coverage", "passed": False, "target": "energy_kwh",
                          "detail": "energy_kwh 95% interval coverage 0.80 (24/30)"}]
    proposal.lineage = {"raw_files": {"process_catalog.csv": "a" * 64, "nasa_waste_inventory.csv": "b" * 64},
                        "dataset_hash": "c" * 64, "config_hash": "d" * 64, "feature_order_hash": "e" * 64,
                        "challenger_model_hash": "f" * 64}
    desk.record(proposal, mode="manual")
    path = evaluate.evaluation_path(layout(), "2")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"challenger_version": "2", "measured_golden": measured}))
    return proposal


def test_rexai_proposals_show_prints_the_page_and_writes_the_plots(evaluated, capsys, monkeypatch):
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://ui.example:3100/")
    proposal = stored_review(evaluated[-1])
    assert rexai(["proposals", "show", proposal.proposal_id]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    rigidity = next(line.split() for line in lines if line.startswith("  rigidity "))
    row = next(r for r in review.compare(evaluated[-1]) if r["target"] == "rigidity")
    assert rigidity[:4] == ["rigidity", "30", f"{row['challenger_mae']:.4g}", f"{row['champion_mae']:.4g}"]
    assert next(line for line in lines if line.startswith("  water_l ")).split()[1] == "20"
    assert any("energy_kwh interval coverage" in line and "FAIL" in line and "0.80 (24/30)" in line for line in lines)
    chain = [line.split()[:3] for line in lines if line.startswith("  raw file") or "_hash" in line]
    assert chain[0] == ["raw", "file", "nasa_waste_inventory.csv"] and ["model_hash", "(v2)", "f" * 64] in chain
    assert any("bundle" in line and "not sealed" in line for line in lines)
    link = next(line for line in lines if line.startswith("decide: "))[len("decide: "):]
    assert link.startswith("http://ui.example:3100/locations/__repository__@rexai_assets.definitions/jobs/"
                           "review_promotion/playground/setup?config=")
    assert json.loads(unquote(link.split("config=", 1)[1]))["ops"]["apply_review"]["config"]["proposal_id"] == proposal.proposal_id
    for command in ("--reviewer R", "--reviewer R --reject", "--reviewer R --request-tests N"):
        assert f"  rexai approve {proposal.proposal_id} {command}" in lines
    plots = [Path(line[len("plot: "):]) for line in lines if line.startswith("plot: ")]
    assert [p.name for p in plots] == [f"{proposal.proposal_id}_scatter.png", f"{proposal.proposal_id}_errors.png"]
    assert all(p.parent == layout().models / "proposals" and p.read_bytes()[:4] == b"\x89PNG" for p in plots)


def test_the_metadata_page_has_plots_criteria_lineage_and_the_link(evaluated):
    proposal = make_proposal("REVIEW", "2", "1")
    proposal.lineage = {"raw_files": {"process_catalog.csv": "a" * 64}, "challenger_model_hash": "f" * 64}
    page = review.build_review_page(proposal, evaluated[-1], bundle=("rexai-v2-0123456789ab.zip", "9" * 64)).markdown()
    assert page.count("](data:image/png;base64,") == 2
    assert "| x | PASS | energy_kwh MAE 0.1 > 0.08 |" in page
    assert "| raw file process_catalog.csv | " + "a" * 64 + " |" in page
    assert "| bundle | rexai-v2-0123456789ab.zip sha256 " + "9" * 64 + " |" in page
    assert "[review_promotion launchpad](http://127.0.0.1:3000/locations/" in page


def test_show_an_unknown_proposal_is_a_one_line_error(capsys):
    promotion.desk_from_resources(build_resources())
    assert rexai(["proposals", "show", "PR-nope"]) == 1
    assert capsys.readouterr().err.strip() == "rexai proposals: no proposal 'PR-nope' (rexai proposals lists them)"
