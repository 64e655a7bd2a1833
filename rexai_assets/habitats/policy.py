"""When a habitat's adapter is retrained: plain, tested decisions the sensor only calls.

Triggers: enough new trusted rows of the habitat since its last adapter run (`min_new_rows`), or a shared
champion other than the one its last adapter was built on (a new base: until an adapter on it passes the
gate, the habitat is served by the shared model). Cost limits, per habitat (`config/retraining.yaml`
`habitat_adapters`): never within `cooldown_hours` of its previous adapter run, never more than
`max_retrains_per_week` in any 7 days, whatever triggered it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from pydantic import BaseModel, ConfigDict

from rexai_assets import settings

NEW_ROWS, NEW_BASE, FIRST = "habitat_new_rows", "habitat_new_base", "habitat_first_adapter"
WEEK = timedelta(days=7)


class AdapterLimits(settings.StrictModel):
    min_new_rows: int = 30
    max_retrains_per_week: int = 3
    cooldown_hours: float = 12.0


class HabitatRetraining(settings.StrictModel):
    default: AdapterLimits = AdapterLimits()
    per_habitat: dict[str, AdapterLimits] = {}

    def limits(self, habitat: str) -> AdapterLimits:
        return self.per_habitat.get(habitat, self.default)


class _RetrainingFile(BaseModel):
    """The `habitat_adapters` section of retraining.yaml; the whole file is validated strictly by the loop's
    `RetrainingSettings`, which declares this section with the same model."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    habitat_adapters: HabitatRetraining = HabitatRetraining()


def habitat_retraining() -> HabitatRetraining:
    return settings.load("retraining.yaml", _RetrainingFile).habitat_adapters


@dataclass(frozen=True)
class AdapterRetrainDecision:
    retrain: bool
    trigger: str | None
    reason: str
    tags: dict[str, str]


def decide_adapter_retrain(now: datetime, habitat: str, new_rows: int, base_changed: bool, never_trained: bool,
                           recent_runs: Sequence[datetime], limits: AdapterLimits) -> AdapterRetrainDecision:
    """Retrain `habitat`'s adapter when a trigger holds and the cost limits allow it (module docstring)."""
    tags = {"rexai/habitat": habitat, "rexai/count_new_rows": str(new_rows),
            "rexai/count_min_new_rows": str(limits.min_new_rows)}
    last = max(recent_runs, default=None)
    if last is not None and now - last < timedelta(hours=limits.cooldown_hours):
        wait = timedelta(hours=limits.cooldown_hours) - (now - last)
        ago, left = (now - last).total_seconds() / 3600, wait.total_seconds() / 3600
        return AdapterRetrainDecision(False, None, f"{habitat}: cooldown, last adapter run {ago:.1f} h ago, "
                                                   f"{left:.1f} h to go", tags)
    this_week = sum(1 for t in recent_runs if now - t < WEEK)
    if this_week >= limits.max_retrains_per_week:
        return AdapterRetrainDecision(False, None, f"{habitat}: {this_week} adapter runs in the last 7 days "
                                      f"(max {limits.max_retrains_per_week})", tags)
    if never_trained and new_rows >= limits.min_new_rows:
        trigger, reason = FIRST, f"{habitat}: {new_rows} trusted rows and no adapter run yet"
    elif new_rows >= limits.min_new_rows:
        trigger, reason = NEW_ROWS, f"{habitat}: {new_rows} new trusted rows >= {limits.min_new_rows}"
    elif base_changed:
        trigger, reason = NEW_BASE, f"{habitat}: a new shared champion; its adapter must be rebuilt on it"
    else:
        return AdapterRetrainDecision(False, None, f"{habitat}: {new_rows} new trusted rows < {limits.min_new_rows}",
                                      tags)
    return AdapterRetrainDecision(True, trigger, reason, {**tags, "rexai/trigger": trigger})
