"""The gate per habitat: the adapter against the shared champion alone, on the habitat's golden slice.

The rules and thresholds are the shared gate's (`evaluation.gate.decide` on `evaluation.evaluate.model_metrics`,
thresholds from config/quality_thresholds.yaml), with the adapter as the challenger and the shared champion as
the baseline, the heuristic as the guard. One difference of what is evaluated, not of a rule: the habitat's
golden slice holds only its trusted measurements (the simulator is nobody's habitat), so the slice the gate
requires is `measured` instead of `simulated`. A target whose slice has fewer than `min_measured_golden_rows`
rows cannot be decided on measurements and fails `evaluated`, so such an adapter is a REJECT.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rexai_assets.models.adapters import HabitatAdapter

CHALLENGER, CHAMPION, HEURISTIC = "challenger", "champion", "heuristic"


def truth_frame(gold: Any, golden: pd.DataFrame) -> pd.DataFrame:
    """The habitat's golden slice in the shape `evaluation.evaluate.model_metrics` scores."""
    from rexai_assets.evaluation import gate

    rows = golden.reset_index(drop=True).assign(split="golden")
    return rows.assign(slice=gate.slice_labels(rows["label_source"], gold.trusted_sources)["slice"].to_numpy())


def habitat_metrics(gold: Any, golden: pd.DataFrame, base: Any, adapter: HabitatAdapter) -> pd.DataFrame:
    """Per-slice metrics of the adapter (on its base), the shared champion and the heuristic on the same rows."""
    from rexai_assets.evaluation.evaluate import heuristic_predictions, model_metrics

    truth = truth_frame(gold, golden)
    features = truth[list(gold.feature_names)]
    X = features.to_numpy(np.float64)
    shared = base.predict(X)
    predictions = {CHALLENGER: adapter.apply(X, shared), CHAMPION: shared, HEURISTIC: heuristic_predictions(features)}
    return pd.concat([model_metrics(name, pred, truth) for name, pred in predictions.items()], ignore_index=True)


def habitat_thresholds() -> Any:
    """The shared gate's thresholds; the slice that must be present is the measured one (module docstring)."""
    from rexai_assets.models.rules import MEASURED_SLICE, quality_thresholds

    return quality_thresholds().model_copy(update={"required_slices": (MEASURED_SLICE,)})


def decide_adapter(metrics: pd.DataFrame, targets: tuple[str, ...], nominal_coverage: float) -> Any:
    """PROMOTE / REVIEW / REJECT for the adapter against the shared champion (`evaluation.gate.decide`)."""
    from rexai_assets.evaluation import gate

    return gate.decide(metrics, targets, habitat_thresholds(), challenger=CHALLENGER, champion=CHAMPION,
                       heuristic=HEURISTIC, nominal_coverage=nominal_coverage)
