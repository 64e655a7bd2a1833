"""When to retrain: plain, tested decisions the sensors and the schedule only call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rexai_assets import settings
from rexai_assets.habitats.policy import HabitatRetraining

NEW_OBSERVATIONS, MAX_AGE, NO_CHAMPION = "new_observations", "max_age", "no_champion"


class RetrainingSettings(settings.StrictModel):
    min_new_rows: int = 50
    max_age_hours: float = 168
    cooldown_minutes: float = 10
    # The habitat adapters' own cost limits (read by habitats/policy.py; declared here so the file stays strict).
    habitat_adapters: HabitatRetraining = HabitatRetraining()


def retraining_settings() -> RetrainingSettings:
    return settings.load("retraining.yaml", RetrainingSettings)


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    trigger: str | None
    reason: str
    tags: dict[str, str]


def decide_retrain(now: datetime, new_rows: int, last_retrain_at: datetime | None,
                   champion_trained_at: datetime | None, cfg: RetrainingSettings,
                   check_age: bool = False) -> RetrainDecision:
    """Retrain when enough new rows arrived (or, for the schedule, the champion is too old), outside the cooldown."""
    counts = {"rexai/count_new_rows": str(new_rows), "rexai/count_min_new_rows": str(cfg.min_new_rows)}
    if last_retrain_at is not None and now - last_retrain_at < timedelta(minutes=cfg.cooldown_minutes):
        wait = timedelta(minutes=cfg.cooldown_minutes) - (now - last_retrain_at)
        return RetrainDecision(False, None, f"cooldown: last retrain {int((now - last_retrain_at).total_seconds())} s ago, "
                                            f"{int(wait.total_seconds())} s to go", counts)
    if new_rows >= cfg.min_new_rows:
        return RetrainDecision(True, NEW_OBSERVATIONS, f"{new_rows} new labelled rows >= {cfg.min_new_rows}",
                               {**counts, "rexai/trigger": NEW_OBSERVATIONS})
    if check_age:
        if champion_trained_at is None:
            return RetrainDecision(True, NO_CHAMPION, "no champion model yet", {**counts, "rexai/trigger": NO_CHAMPION})
        age = now - champion_trained_at
        if age > timedelta(hours=cfg.max_age_hours):
            hours = f"{age.total_seconds() / 3600:.1f}"
            return RetrainDecision(True, MAX_AGE, f"champion is {hours} h old > {cfg.max_age_hours:g} h",
                                   {**counts, "rexai/trigger": MAX_AGE, "rexai/count_champion_age_hours": hours})
    return RetrainDecision(False, None, f"{new_rows} new labelled rows < {cfg.min_new_rows}", counts)
