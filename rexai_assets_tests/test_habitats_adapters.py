"""Adapters end to end on a small real platform: training on the shared champion, registration, the gate per
habitat with its own proposal and audit rows, and every fail-closed case of serving (CLI included)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rexai_assets import inference_log

from rexai_assets.models.adapters import (BASE_HASH_TAG, CHAMPION, HABITAT_TAG, HASH_TAG, AdapterRefused,
                                          for_habitat, registered_name)

RECIPES = [{"recipe_id": "r-sinter", "process_id": "P03", "regolith_frac": 0.3,
            "items": [{"waste_id": "W003", "mass_frac": 0.6}, {"waste_id": "W011", "mass_frac": 0.4}]},
           {"recipe_id": "r-press", "process_id": "P02", "regolith_frac": 0.0,
            "items": [{"waste_id": "W003", "mass_frac": 1.0}]}]


@dataclass
class Platform:
    gold: Any
    mlflow: Any
    data: Any
    outcomes: dict
    shared: Any   # the shared scorer

    def client(self) -> Any:
        return self.mlflow.client()

    def connect(self) -> Any:
        from rexai_assets.warehouse import WarehouseClient

        return WarehouseClient(self.data.warehouse).connect()


def register_shared(gold: Any, mlflow: Any, models_dir: Path, seed: int) -> str:
    from rexai_assets.models.config import models_config
    from rexai_assets.models.registry import promote_to_champion
    from rexai_assets.models.testing import small_ensemble
    from rexai_assets.models.tracking import track_and_register

    record = track_and_register(small_ensemble(gold, autoencoder=False, seed=seed), mlflow, models_dir, models_config())
    promote_to_champion(mlflow.client(), record.version)
    return record.version


@pytest.fixture
def platform(data_root: Path) -> Platform:
    """Two habitats with 150 lab rows each (the benchmark's realities), a small shared champion, both adapters
    trained and gated; the jezero adapter is made champion whatever its gate said (serving is under test here)."""
    from rexai_assets.gold.candidates import recipe_candidates_pool
    from rexai_assets.gold.dataset import build_gold_dataset
    from rexai_assets.habitats import bench
    from rexai_assets.habitats.service import run_habitat
    from rexai_assets.models.registry import set_alias
    from rexai_assets.models.scorer import load_scorer
    from rexai_assets.paths import layout
    from rexai_assets.resources import MlflowTracking
    from rexai_assets.warehouse import WarehouseClient

    data = layout().ensure()
    mlflow = MlflowTracking(tracking_uri=data.tracking_uri)
    setup = bench.prepare(0, 150, 10)
    gold = build_gold_dataset(setup.tables, recipe_candidates_pool(setup.tables, size=600), setup.measured)
    register_shared(gold, mlflow, data.models, seed=3)
    outcomes = {h: run_habitat(h, gold, mlflow, WarehouseClient(data.warehouse).connect, data.models, "auto")
                for h in ("jezero", "gale", "utopia")}
    set_alias(mlflow.client(), outcomes["jezero"].adapter_version, CHAMPION, registered_name("jezero"))
    return Platform(gold, mlflow, data, outcomes, load_scorer(data.tracking_uri))


def X_of(platform: Platform) -> np.ndarray:
    golden = platform.gold.frame[platform.gold.frame["habitat"] == "jezero"]
    return golden[list(platform.gold.feature_names)].to_numpy(np.float64)[:20]


def served(platform: Platform, strict: bool = False) -> tuple[Any, Any]:
    return for_habitat(platform.shared, "jezero", platform.data.tracking_uri, platform.data.models, strict=strict)


def assert_refused(platform: Platform, reason: str) -> None:
    scorer, decision = served(platform)
    assert scorer is platform.shared and decision.adapter_version is None and decision.refused
    assert reason in decision.note and decision.note.endswith("served by the shared model")
    with pytest.raises(AdapterRefused, match=reason):
        served(platform, strict=True)


def test_adapters_are_registered_gated_and_recorded(platform):
    from rexai_assets.habitats.store import habitat_audit, habitat_proposals
    from rexai_assets.models.registry import version_info

    jezero = platform.outcomes["jezero"]
    assert jezero.trusted_rows == 150 and jezero.adapter_version == "1" and jezero.recommendation in (
        "PROMOTE", "REVIEW", "REJECT")
    tags = version_info(platform.client(), registered_name("jezero"), "1").tags
    assert tags[HABITAT_TAG] == "jezero" and tags[BASE_HASH_TAG] == jezero.base_model_hash
    assert tags["base_model_version"] == "1" and tags["dataset_hash"] == platform.gold.dataset_hash
    utopia = platform.outcomes["utopia"]
    assert utopia.adapter_version is None and utopia.note == "0 of 50 measured rows"
    with platform.connect() as con:
        proposals, audit = habitat_proposals(con), habitat_audit(con)
    assert sorted(proposals["habitat"]) == ["gale", "jezero"]
    assert set(audit["action"]) <= {"propose", "auto_promote"} and (audit["action"] == "propose").sum() == 2
    # The shared champion's own proposal and audit tables are untouched by adapters.
    with platform.connect() as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = "
                           "'approval_audit_log'").fetchone()[0] == 0


def test_a_rejected_adapter_never_becomes_champion(platform):
    from rexai_assets.evaluation.gate import REJECT
    from rexai_assets.habitats.service import record_decision
    from rexai_assets.habitats.store import REJECTED, habitat_proposals
    from rexai_assets.models.registry import get_alias_version

    with platform.connect() as con:
        row = habitat_proposals(con, "gale").iloc[-1].to_dict()
    before = get_alias_version(platform.client(), CHAMPION, registered_name("gale"))
    from rexai_assets.habitats.store import HabitatProposal, new_proposal_id

    proposal = HabitatProposal(**{**{k: row[k] for k in HabitatProposal.__dataclass_fields__ if k in row},
                                  "proposal_id": new_proposal_id("gale", "1"), "recommendation": REJECT,
                                  "status": REJECTED, "criteria": [], "deltas": {}, "lineage": {}})
    assert record_decision(proposal, platform.client(), platform.connect, "auto") == before
    assert get_alias_version(platform.client(), CHAMPION, registered_name("gale")) == before


def test_the_adapter_serves_its_own_habitat_on_its_own_base(platform):
    scorer, decision = served(platform)
    assert decision.adapter_version == "1" and decision.note is None and not decision.refused
    X = X_of(platform)
    adapted, shared = scorer.predict(X), platform.shared.predict(X)
    assert scorer.version == platform.shared.version and set(adapted) == set(shared)
    changed = [t for t in adapted if not np.allclose(adapted[t]["value"], shared[t]["value"])]
    assert changed == [t for t in platform.outcomes["jezero"].adapted_targets]
    # calibrated_on says which regime serves each target: the habitat's rows where its adapter calibrated the
    # interval (adapted, or re-calibrated because the shared interval under-covered the habitat), else the shared.
    sources = platform.outcomes["jezero"].interval_sources
    assert set(sources) == set(shared) and set(sources.values()) <= {"adapter", "shared_residuals", "shared"}
    assert {t for t, s in sources.items() if s == "adapter"} == set(changed)
    assert scorer.calibrated_on == {**(platform.shared.calibrated_on or {}),
                                    **{t: "habitat" for t, s in sources.items() if s != "shared"}}
    assert all(np.array_equal(adapted[t]["hi"], shared[t]["hi"]) for t, s in sources.items() if s == "shared")
    # Without a habitat the shared model answers, unchanged.
    assert for_habitat(platform.shared, None, platform.data.tracking_uri, platform.data.models) == (platform.shared, None)


def test_a_tampered_habitat_tag_is_refused(platform):
    platform.client().set_model_version_tag(registered_name("jezero"), "1", HABITAT_TAG, "gale")
    assert_refused(platform, "is tagged habitat 'gale', not 'jezero'")


def test_another_habitats_adapter_is_refused_even_with_a_matching_tag(platform):
    from rexai_assets.models.registry import register_version, version_info

    gale = version_info(platform.client(), registered_name("gale"), platform.outcomes["gale"].adapter_version)
    mixed = register_version(platform.client(), gale.run_id, gale.source, name=registered_name("jezero"),
                             alias=CHAMPION, tags={**gale.tags, HABITAT_TAG: "jezero"})
    assert mixed == "2"
    assert_refused(platform, "was trained for habitat 'gale', not 'jezero'")


def test_a_tampered_base_hash_tag_or_artefact_hash_is_refused(platform):
    client, name = platform.client(), registered_name("jezero")
    client.set_model_version_tag(name, "1", BASE_HASH_TAG, "0" * 64)
    assert_refused(platform, "was built on base model 000000000000")
    client.set_model_version_tag(name, "1", BASE_HASH_TAG, platform.outcomes["jezero"].base_model_hash)
    served(platform, strict=True)  # restored: applies again
    client.set_model_version_tag(name, "1", HASH_TAG, "f" * 64)
    assert_refused(platform, "is not its registered model_hash")


def test_a_new_shared_champion_serves_alone_until_the_adapter_is_rebuilt(platform):
    from rexai_assets.models.scorer import load_scorer

    register_shared(platform.gold, platform.mlflow, platform.data.models, seed=11)
    platform.shared = load_scorer(platform.data.tracking_uri)
    assert platform.shared.version == "2"
    assert_refused(platform, "the serving champion is")


def test_cli_predict_with_habitat(platform, tmp_path, capsys):
    from rexai_assets.cli import main

    path = tmp_path / "recipes.json"
    path.write_text(json.dumps(RECIPES))
    assert main(["predict", str(path), "--json", "--habitat", "jezero"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert {(d["habitat"], d["adapter_version"]) for d in document} == {("jezero", "1")}
    assert "adapter_note" not in document[0]
    assert main(["predict", str(path), "--json", "--habitat", "utopia"]) == 0
    note = json.loads(capsys.readouterr().out)[0]
    assert note["adapter_version"] is None and note["adapter_note"] == "no adapter: 0 of 50 measured rows"
    assert main(["predict", str(path), "--json"]) == 0
    assert "habitat" not in json.loads(capsys.readouterr().out)[0]
    # The inference log records which adapter served (None where the shared model answered, asked or not).
    logged = [pd.read_parquet(f)[["habitat", "adapter_version", "model_version"]].astype(object).where(
        lambda x: x.notna(), None).values.tolist() for f in inference_log.pending_files(platform.data.inference_log)]
    assert sorted(logged, key=str) == sorted([[["jezero", "1", "1"]] * 2, [[None, None, "1"]] * 2,
                                              [[None, None, "1"]] * 2], key=str)
    platform.client().set_model_version_tag(registered_name("jezero"), "1", HABITAT_TAG, "utopia")
    assert main(["predict", str(path), "--habitat", "jezero"]) == 0
    assert "habitat jezero: shared model (adapter v1 of rexai-habitat-jezero is tagged" in capsys.readouterr().out
    assert main(["predict", str(path), "--habitat", "jezero", "--strict"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rexai predict: --strict: adapter v1") and "\n" not in err
    assert main(["predict", str(path), "--habitat", "nowhere"]) == 1
    assert "unknown habitat 'nowhere'" in capsys.readouterr().err


def pending_copy(platform: Platform, habitat: str, **changes: Any) -> str:
    """A REVIEW proposal waiting for a person, for the habitat's registered adapter v1 (stored as the gate
    stores one in `mode: manual`: the proposal and its `propose` audit row)."""
    from rexai_assets.habitats.service import record_decision
    from rexai_assets.habitats.store import PENDING, HabitatProposal, habitat_proposals, new_proposal_id

    with platform.connect() as con:
        row = habitat_proposals(con, habitat).iloc[0].to_dict()
    proposal = HabitatProposal(**{**{k: row[k] for k in HabitatProposal.__dataclass_fields__},
                                  "proposal_id": new_proposal_id(habitat, "1"), "adapter_version": "1",
                                  "recommendation": "REVIEW", "status": PENDING,
                                  "criteria": [{"name": "rigidity no regression", "passed": True, "detail": "ok"}],
                                  "deltas": {}, "lineage": {"adapted_targets": ["rigidity"]}, **changes})
    record_decision(proposal, platform.client(), platform.connect, "manual")
    return proposal.proposal_id


def test_second_vote_on_a_habitat_adapter_proposal(platform, capsys, monkeypatch):
    from rexai_assets.cli import main
    from rexai_assets.habitats import store
    from rexai_assets.habitats.service import read_status, write_status_document
    from rexai_assets.models.registry import get_alias_version

    client, name = platform.client(), registered_name("gale")
    if get_alias_version(client, CHAMPION, name) is not None:
        client.delete_registered_model_alias(name, CHAMPION)
    declined, approved, stale = (pending_copy(platform, "gale"), pending_copy(platform, "gale"),
                                 pending_copy(platform, "gale", base_model_version="7"))
    write_status_document(platform.data.models, "gale", {**read_status(platform.data.models, "gale"),
                                                          "proposal_id": approved})
    assert main(["proposals", "--pending"]) == 0
    listed = capsys.readouterr().out
    assert "habitat adapters:" in listed and all(p in listed for p in (declined, approved, stale))
    assert main(["proposals", "show", approved]) == 0
    assert f"rexai approve {approved} --reviewer NAME" in capsys.readouterr().out

    assert main(["approve", declined, "--reviewer", "ana", "--reject", "--notes", "too few rows"]) == 0
    assert capsys.readouterr().out.strip() == f"{declined}: declined by ana; {name} champion stays v-"
    assert get_alias_version(client, CHAMPION, name) is None

    def broken(*args: Any) -> None:
        raise RuntimeError("warehouse down")

    with monkeypatch.context() as patch:                  # recording fails: the alias moves back
        patch.setattr(store, "append_audit", broken)
        with pytest.raises(RuntimeError):
            main(["approve", approved, "--reviewer", "ana"])
    assert get_alias_version(client, CHAMPION, name) is None

    assert main(["approve", approved, "--reviewer", "ana"]) == 0
    assert capsys.readouterr().out.strip() == f"{approved}: approved by ana; {name} champion v- -> v1 (on shared v1)"
    assert get_alias_version(client, CHAMPION, name) == "1"
    assert read_status(platform.data.models, "gale")["note"] == "adapter v1 (on shared v1) approved by ana"
    _, decision = for_habitat(platform.shared, "gale", platform.data.tracking_uri, platform.data.models)
    assert decision.adapter_version == "1"               # serving applies it now

    for argv, reason in (([approved, "--reviewer", "ana"], f"proposal {approved} is PROMOTED, not PENDING_APPROVAL"),
                         ([stale, "--reviewer", "ana"], "the shared champion changed since proposal"),
                         ([stale, "--reviewer", " "], "a reviewer name is required"),
                         ([stale, "--reviewer", "ana", "--request-tests", "3"], "requesting tests plans experiments"),
                         (["HP-nowhere", "--reviewer", "ana"], "no proposal 'HP-nowhere'")):
        assert main(["approve", *argv]) == 1
        err = capsys.readouterr().err.strip()
        assert reason in err and "\n" not in err
    with platform.connect() as con:
        audit, proposals = store.habitat_audit(con, "gale"), store.habitat_proposals(con, "gale")
    steps = {p: audit.loc[audit["proposal_id"] == p, ["action", "reviewer", "notes"]].values.tolist()
             for p in (declined, approved, stale)}
    assert steps[declined] == [["propose", "policy:auto", "REVIEW by the habitat gate"], ["decline", "ana", "too few rows"]]
    assert steps[approved] == [["propose", "policy:auto", "REVIEW by the habitat gate"], ["approve", "ana", None]]
    assert [a for a, _, _ in steps[stale]] == ["propose"]
    assert dict(zip(proposals["proposal_id"], proposals["status"]))[declined] == "DECLINED"
    with platform.connect() as con:                        # the shared model's tables hold nothing of this
        assert [con.execute(f"SELECT count(*) FROM registry.{t}").fetchone()[0]
                for t in ("approval_audit_log", "promotion_proposals")] == [0, 0]


def test_review_promotion_job_decides_an_adapter_proposal(platform):
    """The UI's door of the second vote: the same `review_promotion` job as the shared model's, on an HP-… id."""
    import dagster as dg

    from rexai_assets.definitions import build_definitions
    from rexai_assets.habitats import store
    from rexai_assets.models.registry import get_alias_version

    client, name = platform.client(), registered_name("gale")
    if get_alias_version(client, CHAMPION, name) is not None:
        client.delete_registered_model_alias(name, CHAMPION)
    declined, approved = pending_copy(platform, "gale"), pending_copy(platform, "gale")
    job = build_definitions().resolve_job_def("review_promotion")

    def review(proposal_id: str, decision: str) -> Any:
        config = {"proposal_id": proposal_id, "decision": decision, "reviewer": "chief engineer", "notes": "lab ok"}
        return job.execute_in_process(run_config={"ops": {"apply_review": {"config": config}}},
                                      instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)

    asked = review(approved, "request_tests")          # the shared model's third answer only: refused, nothing written
    failure = next(e for e in asked.all_events if e.is_step_failure).step_failure_data.error
    assert not asked.success and "an adapter proposal is approved or rejected" in failure.message
    assert review(declined, "reject").success
    result = review(approved, "approve")
    assert result.success and get_alias_version(client, CHAMPION, name) == "1"
    output = result.output_for_node("apply_review")
    assert output.pop("audit_id") and output == {"action": "approve", "registered_model": name, "champion_after": "1"}
    assert not review(approved, "reject").success     # decided already: refused with its reason
    with platform.connect() as con:
        audit, proposals = store.habitat_audit(con, "gale"), store.habitat_proposals(con, "gale")
    steps = {p: audit.loc[audit["proposal_id"] == p, ["action", "reviewer", "notes"]].values.tolist()
             for p in (declined, approved)}
    assert steps[declined][1:] == [["decline", "chief engineer", "lab ok"]]
    assert steps[approved][1:] == [["approve", "chief engineer", "lab ok"]]
    assert dict(zip(proposals["proposal_id"], proposals["status"]))[declined] == "DECLINED"


def test_a_waiting_adapter_proposal_shows_how_to_decide_it_in_the_ui():
    from urllib.parse import unquote

    from rexai_assets.habitats.assets import outcome_metadata
    from rexai_assets.habitats.service import HabitatOutcome
    from rexai_assets.habitats.store import PENDING, PROMOTED

    waiting = HabitatOutcome("gale", 80, 50, "adapter v2 (on shared v5) waits for a second vote", status=PENDING,
                             proposal_id="HP-gale-x-v2-abc")
    decide = outcome_metadata(waiting)["decide"].value
    assert "/jobs/review_promotion/playground/setup" in decide and '"proposal_id": "HP-gale-x-v2-abc"' in unquote(decide)
    assert "`rexai approve HP-gale-x-v2-abc --reviewer R --reject`" in decide and "--request-tests" not in decide
    assert "decide" not in outcome_metadata(HabitatOutcome("gale", 80, 50, "promoted", status=PROMOTED,
                                                           proposal_id="HP-gale-x-v2-abc"))
